"""The pot task driver: each task runs in its own FreeBSD jail, managed by ``pot``.

Start, for the task's start attempt ``<alloc>/<task>/<invocation>``:

1. ``pot prepare`` imports the image (if missing) and clones it into the pot
   ``<task>_<invocation>_<alloc>`` (dots become ``_``, as pot does), with the
   command, network type and exported ports; the driver then checks the pot
   exists (prepare exits 0 even when its internal clone failed);
2. ``set-attribute``, ``copy-in``, ``mount-in`` (the task's ``alloc/``,
   ``local/`` and ``secrets/`` directories, every ``volume_mount`` and the
   config's mounts), ``set-env`` (the task's environment), ``set-hosts``,
   ``set-rss`` (``-C`` the task's ``resources { cores }``, ``-M`` its
   memory);
3. ``pot start <name>``, which blocks while the jailed program runs, is run
   under the drivers' shared executor
   (:class:`~nomadjail.drivers.supervision.Supervisor`):
   it outlives the agent (kill -9 included), copies the program's output into
   the task's log files and records ``pot start``'s exit status.  pot's own
   lines are diverted to a side file, which the driver writes to the agent
   log: every ``===>``/``###>`` line pot prints before the program starts (up
   to its "Starting the pot" line), after the program ended (from the moment
   pot writes the pot's ``conf/.last_run_stats``, found with ``pot config -g
   fs_root``) its messages and the bare interface list it echoes
   (:data:`.pot_output.ENDED_LINE_PATTERN`), and
   while the program runs only the few exact lines pot may print then
   (``jail -c``'s ``<name>: created`` among them) -- so the program's own
   lines stay in its logs, whatever they start with.

Resources and network: ``resources { cores = N }`` pins the pot to N CPUs
(``set-rss -C N``; pot picks them); ``cpu`` (MHz) has no pot equivalent and
only counts for placement.  The group network's ``dns { servers searches
options }`` (interpolated by the client; empty fields filled from the host's
resolv.conf, as Nomad does) becomes the pot's ``/etc/resolv.conf``
(``prepare -d custom:<file>``, see :mod:`.resolv_conf`; re-asserted when the
image's own resolv.conf replaced it); without it the image's resolver setting
is kept.

Guarantees:

* **No pot is leaked, none runs twice.**  The pot's name is fixed before
  anything runs and persisted by the client (``start_record``) before
  ``start_task``; a start that fails part-way destroys its pot; after a
  client restart ``recover_start`` re-attaches to a supervised ``pot start``
  or destroys the pot; ``recover_task`` re-attaches to a running task (its
  logs kept flowing meanwhile) and refuses one whose supervisor is gone, which
  the client then destroys.  ``destroy -F`` is retried until the pot is
  really gone (pot can answer "already stopping!" while its own cleanup runs).
  A handle or start record whose shape this driver does not know (another
  version wrote it) still gets the pot it names destroyed.
* **Exit status**: the program's code is read from ``last-run-stats``
  whenever ``pot start`` exits 0 or 125 (128+N is reported as killed by
  signal N): pot exits 0 not only when the program exited 0 but also when
  someone else stopped the pot meanwhile (its program then typically
  reports 143, SIGTERM); a ``pot start`` that exited 0 for a pot already
  destroyed from outside is reported as an error (one whose pot still
  exists but whose last-run-stats cannot be read: "exit status unknown").
  1 means pot could not start the pot, reported with pot's error messages.
  A task the driver had to destroy (stop after the kill timeout,
  ``destroy_task(force=True)`` while it runs) is reported as killed by
  SIGKILL, whatever ``pot start`` exited with.
* **Stop** sends ``kill_signal`` through ``pot signal``, waits up to the
  kill timeout, then destroys the pot.  ``pot signal`` (stop's and
  ``alloc signal``'s) is retried briefly: pot records the program's pid only
  about half a second after the jail is up.  A ``pot signal`` that fails or
  hangs does not stop the stop: the pot is destroyed at once.
* Every pot command is an argv list (see :mod:`.argv`), run with a
  ``PATH``-only environment; logs and messages never show environment values.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

from ..drivers.base import (
    Capabilities,
    DriverError,
    ExecResult,
    ExitResult,
    Fingerprint,
    StartRecord,
    TaskConfig,
    TaskHandle,
    TaskNotFound,
    TaskStats,
)
from ..drivers.env_keys import clean_env_key
from ..drivers.supervision import (
    OutputDiversion,
    SupervisedCommand,
    Supervision,
    SupervisionPlan,
    Supervisor,
)
from ..helper.atomic_file import write_atomically
from ..structs import DNSConfig
from . import argv as pot_argv
from .naming import allocation_tag, invocation_of, pot_name
from .pot_cli import POT_PATH, PotCLI, pot_environment
from .pot_output import (
    ENDED_LINE_PATTERN,
    MESSAGE_PREFIXES,
    MessageLevel,
    PotMessage,
    PotOutputError,
    parse_last_run_exit_code,
    parse_message,
    parse_resource_usage,
    running_lines,
    start_line,
)
from .resolv_conf import (
    HOST_RESOLV_CONF,
    dns_problems,
    fill_from_host,
    is_empty,
    needs_host,
    parse_host_resolv_conf,
    render_resolv_conf,
)
from .stats import StatsSampler
from .task_config import PotConfigError, PotTaskConfig, parse_pot_config, validate_pot_config

log = logging.getLogger("nomadjail.pot_driver")

NAME = "pot"
POT_EXIT_APP_FAILED = 125  # `pot start`: the program exited non-zero
POT_EXIT_FAILED = 1  # `pot start`: pot could not start the pot
SIGKILL = 9  # the same number on FreeBSD and Linux
# After the pot was destroyed, how long `pot start` may take to notice and exit.
EXIT_GRACE = 15.0
# How long `pot signal` is retried while pot does not know the program's pid yet (it
# records it after the jail is up, a post-start hook and half a second of sleep).
SIGNAL_RETRY_TIMEOUT = 5.0
RUNTIME_DIR = ".pot"  # in the task directory (not visible inside the pot)


@dataclass(slots=True)
class PotDriverSettings:
    """``plugin "pot" { config { ... } }`` (parsed by :mod:`.plugin`)."""

    pot_bin: str = "pot"  # a path, or a name looked up in FreeBSD's standard PATH
    stats_interval: float = 1.0  # seconds between two `get-rss` samples of a pot
    command_timeout: float = 60.0  # seconds for one pot command
    prepare_timeout: float = 900.0  # seconds for `pot prepare` (it may download the image)
    destroy_timeout: float = 60.0  # seconds of retrying `pot destroy -F`
    start_timeout: float = 60.0  # seconds for a started pot's jail to come up
    # The host's resolver configuration, which fills what a task's dns block leaves empty
    # (as Nomad does); a setting so tests can point it elsewhere.
    host_resolv_conf: str = HOST_RESOLV_CONF
    # TEST ONLY: report healthy on any OS (the test double runs on Linux).  Never set on a
    # real client: pot needs FreeBSD.
    test_only_allow_any_os: bool = False


@dataclass(eq=False)
class _PotTask:
    """What this driver knows about one task it started or re-attached to."""

    task_id: str
    pot_name: str
    cwd: str  # the task directory: pot commands run there
    env_path: str  # the task's environment, for exec (mode 0600)
    supervision: Supervision  # the supervised `pot start` (and pot's diverted lines)
    exited: threading.Event = field(default_factory=threading.Event)
    result: ExitResult | None = None
    stop_forced: bool = False  # the driver destroyed the pot to stop the task
    sampler: StatsSampler | None = None


@dataclass(frozen=True, slots=True)
class _ResolvConf:
    """The pot's resolv.conf from the task's dns block: the host file handed to
    ``prepare -d custom:<path>`` and its text; no path: the image's setting is kept."""

    path: str = ""
    text: str = ""


def _from_program_exit(code: int) -> ExitResult:
    """The exit status of the jailed program as ``sh`` reports it (128+N: signal N)."""
    if 128 < code < 128 + 65:
        return ExitResult(exit_code=code, signal=code - 128)
    return ExitResult(exit_code=code)


def _killed() -> ExitResult:
    return ExitResult(exit_code=128 + SIGKILL, signal=SIGKILL)


def _readable_pot_name(state: Any) -> str:
    """The pot a handle's or start record's state names, "" if none: enough to destroy
    the pot even when the rest of the state has a shape this driver does not know."""
    name = state.get("pot_name") if isinstance(state, dict) else None
    return name if isinstance(name, str) and name.strip() == name and name else ""


class PotDriver:
    """Nomad's ``pot`` task driver (the task config of the Go nomad-pot-driver).

    ``supervisor`` is the executor ``pot start`` runs under; without one the
    driver makes its own.
    """

    name = NAME

    def __init__(self, settings: PotDriverSettings | None = None, *,
                 supervisor: Supervisor | None = None) -> None:
        self.settings = settings or PotDriverSettings()
        if self.settings.test_only_allow_any_os:
            log.warning("pot driver: test_only_allow_any_os is set: the FreeBSD check is "
                        "skipped (only the test double may run here)")
        self._supervisor = supervisor or Supervisor()
        self._tasks: dict[str, _PotTask] = {}
        self._lock = threading.Lock()
        self._fs_root = ""  # pot's POT_FS_ROOT, once asked

    # -- node facing -------------------------------------------------------------------

    def _resolve_pot(self) -> str | None:
        """The pot executable's absolute path, or None."""
        configured = self.settings.pot_bin
        if os.sep in configured:
            found: str | None = configured if os.path.isfile(configured) and os.access(
                configured, os.X_OK) else None
        else:
            found = shutil.which(configured,
                                 path=POT_PATH + os.pathsep + os.environ.get("PATH", ""))
        return os.path.abspath(found) if found else None

    def _cli(self) -> PotCLI:
        pot_bin = self._resolve_pot()
        if pot_bin is None:
            raise DriverError(f"pot not found: {self.settings.pot_bin!r} is not an executable "
                              f"(search path {POT_PATH})")
        return PotCLI(pot_bin, timeout=self.settings.command_timeout)

    def fingerprint(self) -> Fingerprint:
        """Healthy only on FreeBSD, as root, with a pot that answers ``pot version``."""
        system = platform.system()
        override = self.settings.test_only_allow_any_os
        if system != "FreeBSD" and not override:
            return Fingerprint(detected=False, healthy=False,
                               health_description=f"pot jails need FreeBSD; this host runs "
                                                  f"{system}")
        pot_bin = self._resolve_pot()
        if pot_bin is None:
            return Fingerprint(detected=False, healthy=False,
                               health_description=f"pot not found ({self.settings.pot_bin!r}; "
                                                  "install the pot package or set pot_bin)")
        if os.geteuid() != 0:
            return Fingerprint(detected=True, healthy=False,
                               health_description=f"the pot driver needs root; the agent runs "
                                                  f"as uid {os.geteuid()}")
        try:
            result = PotCLI(pot_bin, timeout=self.settings.command_timeout).run(
                pot_argv.version())
        except DriverError as err:
            return Fingerprint(detected=True, healthy=False, health_description=str(err))
        version = next((line.strip() for line in result.output if line.strip()), "")
        if not result.ok or not version:
            return Fingerprint(detected=True, healthy=False,
                               health_description=result.describe())
        note = " (test-only: the FreeBSD check is skipped)" if system != "FreeBSD" else ""
        return Fingerprint(detected=True, healthy=True, health_description="Healthy" + note,
                           attributes={"driver.pot.version": version})

    def capabilities(self) -> Capabilities:
        return Capabilities(send_signals=True, exec=True, fs_isolation="image")

    def validate_config(self, config: dict[str, Any]) -> list[str]:
        return validate_pot_config(config)

    # -- starting ----------------------------------------------------------------------

    @staticmethod
    def pot_name_for(cfg: TaskConfig) -> str:
        return pot_name(cfg.name, cfg.alloc_id, invocation_of(cfg.id))

    @staticmethod
    def _runtime_path(task_dir: str, task_id: str, suffix: str) -> str:
        return os.path.join(task_dir, RUNTIME_DIR, f"{invocation_of(task_id)}.{suffix}")

    @classmethod
    def _env_path(cls, task_dir: str, task_id: str) -> str:
        return cls._runtime_path(task_dir, task_id, "env.json")

    def start_record(self, cfg: TaskConfig) -> StartRecord:
        plan = self._supervisor.plan(cfg)
        return StartRecord(driver=NAME, task_id=cfg.id, state={
            "pot_name": self.pot_name_for(cfg), "cwd": cfg.task_dir,
            "env_path": self._env_path(cfg.task_dir, cfg.id), "supervision": plan.to_state()})

    def start_task(self, cfg: TaskConfig) -> TaskHandle:
        with self._lock:
            if cfg.id in self._tasks:
                raise DriverError(f"task with ID {cfg.id!r} already started")
        try:
            config = parse_pot_config(cfg.config)
        except PotConfigError as err:
            raise DriverError(f"failed driver config validation: {err}") from None
        dns = self._resolver_config(cfg.dns)
        problems = dns_problems(dns, interpolated=True)
        if problems:
            raise DriverError("the group network's dns block cannot be passed to pot: "
                              + "; ".join(problems))
        cli = self._cli()
        name = self.pot_name_for(cfg)
        resolv = _ResolvConf()
        if dns is not None and not is_empty(dns):
            resolv = _ResolvConf(path=self._runtime_path(cfg.task_dir, cfg.id, "resolv.conf"),
                                 text=render_resolv_conf(dns))
        command = pot_argv.command_line(config.command, config.args) if config.command else ""
        try:
            set_env = pot_argv.set_env(name, cfg.env)
            prepare = pot_argv.prepare(
                image=config.image, pot=config.pot, tag=config.tag, command=command,
                network_type=config.network_type, exports=self._exports(cfg, config),
                allocation_tag=allocation_tag(cfg.alloc_id, invocation_of(cfg.id)),
                name=cfg.name, resolv_conf=resolv.path)
        except pot_argv.ArgvError as err:
            raise DriverError(str(err)) from None
        env_path = self._env_path(cfg.task_dir, cfg.id)
        try:
            self._write_env(env_path, cfg.env)
            self._prepare_pot(cli, cfg, config, name, prepare, set_env, resolv)
            supervision = self._supervisor.launch(cfg, SupervisedCommand(
                executable=cli.pot_bin, args=tuple(pot_argv.start(name)),
                env=pot_environment(), diversion=self._diversion(cli, name)))
        except BaseException as err:
            log.warning("pot %s: start failed, cleaning up: %s", name, err)
            self._abandon(cli, name, env_path)
            raise
        task = _PotTask(task_id=cfg.id, pot_name=name, cwd=cfg.task_dir, env_path=env_path,
                        supervision=supervision)
        self._adopt(task)
        # From here on the task is tracked and its handle is returned whatever happens: a
        # pot whose start cannot be confirmed is still reported by wait_task, stopped by
        # stop_task and destroyed by destroy_task -- never left running unrecorded.
        try:
            self._wait_running(cli, task)
        except DriverError as err:
            log.warning("pot %s: cannot tell whether its jail came up (%s); leaving it to "
                        "start", name, err)
        log.info("pot %s started for task %s (pot start pid %d)", name, cfg.id,
                 supervision.pid)
        return self._handle(task)

    def _resolver_config(self, dns: DNSConfig | None) -> DNSConfig | None:
        """The task's dns block (already interpolated by the client) with what it leaves
        empty filled from the host's resolv.conf, as Nomad's GenerateDNSMount does.

        Without servers of its own and without a readable host file the pot would
        get no nameserver at all (its resolver would ask 127.0.0.1): that fails the
        start.  Missing searches or options are only left empty.
        """
        if dns is None or not needs_host(dns):
            return dns
        path = self.settings.host_resolv_conf
        try:
            with open(path, encoding="utf-8", errors="replace") as src:
                host = parse_host_resolv_conf(src.read())
        except OSError as err:
            if not dns.servers:
                raise DriverError(f"the group network's dns block names no servers and the "
                                  f"host's {path} cannot be read for them: {err}") from None
            log.debug("host resolv.conf %s unreadable (%s): the dns block's empty fields "
                      "stay empty", path, err)
            return dns
        if not dns.servers and not host.servers:
            raise DriverError(f"the group network's dns block names no servers and the "
                              f"host's {path} names none either")
        return fill_from_host(dns, host)

    def _diversion(self, cli: PotCLI, name: str) -> OutputDiversion:
        """Which lines of ``pot start`` are pot's own (see the module doc)."""
        return OutputDiversion(prefixes=MESSAGE_PREFIXES, start_line=start_line(name),
                               running_lines=running_lines(name),
                               end_witness=self._last_run_stats_path(cli, name),
                               ended_pattern=ENDED_LINE_PATTERN)

    def _pot_conf_dir(self, cli: PotCLI, name: str, consequence: str) -> str:
        """The pot's ``conf`` directory (pot's POT_FS_ROOT asked once per driver); "" when
        pot does not say where its pots live, logged with ``consequence``."""
        if not self._fs_root:
            try:
                result = cli.run(pot_argv.config_get("fs_root"))
                root = next((line.strip() for line in result.output if line.strip()), "")
                problem = result.describe()
            except DriverError as err:
                root, problem = "", str(err)
            if not os.path.isabs(root):
                log.warning("pot's root directory is unknown (%s): %s", problem, consequence)
                return ""
            self._fs_root = root
        return os.path.join(self._fs_root, "jails", name, "conf")

    def _last_run_stats_path(self, cli: PotCLI, name: str) -> str:
        """The file pot writes the moment a pot's program exited; "" if pot does not say
        where its pots live (pot's lines after the program's end then stay in the logs)."""
        conf = self._pot_conf_dir(cli, name, "pot's messages after a task's program ended "
                                             "will show in the task's logs")
        return os.path.join(conf, ".last_run_stats") if conf else ""

    def _reassert_resolv_conf(self, cli: PotCLI, name: str, text: str) -> None:
        """Make the job's resolv.conf the one pot installs at start.

        ``pot clone`` first copies ``prepare -d custom:<file>`` into the pot's
        ``conf/resolv.conf`` and then, if the image has one, the image's own
        ``conf/resolv.conf`` over it (share/pot/clone.sh, ``_cj_conf``): the
        job's dns block would silently lose.  pot has no command to set it
        afterwards, so the driver writes the file pot itself copies to the
        pot's ``/etc/resolv.conf`` at every start.
        """
        conf = self._pot_conf_dir(cli, name, "cannot check that the image's own resolv.conf "
                                             "does not replace the job's dns block")
        if not conf:
            return
        path = os.path.join(conf, "resolv.conf")
        try:
            with open(path, encoding="utf-8", errors="replace") as src:
                current = src.read()
        except OSError:
            current = None
        if current == text:
            return
        log.warning("pot %s: the image's resolv.conf replaced the one from the job's dns "
                    "block; restoring the job's", name)
        self._write_file(path, text, 0o644)

    def _wait_running(self, cli: PotCLI, task: _PotTask) -> None:
        """Return once the pot's jail runs (or ``pot start`` already ended: the task's
        exit is then reported by wait_task)."""
        deadline = time.monotonic() + self.settings.start_timeout
        delay = 0.02
        while not task.exited.is_set():
            if cli.run(pot_argv.is_running(task.pot_name), cwd=task.cwd).ok:
                return
            if time.monotonic() >= deadline:
                log.warning("pot %s: not running %.0fs after `pot start`; leaving it to "
                            "start", task.pot_name, self.settings.start_timeout)
                return
            task.exited.wait(delay)
            delay = min(delay * 2, 0.5)

    def _exports(self, cfg: TaskConfig, config: PotTaskConfig) -> list[str]:
        """``inside:host`` for every ``port_map`` label, from the task's allocated ports."""
        if not config.exports_ports:
            return []
        allocated = {port.label: port.value for port in cfg.resources.ports}
        exports = []
        for mapping in config.port_map:
            host = allocated.get(mapping.label)
            if not host:  # a legacy task-level network port: only in the environment
                text = cfg.env.get(clean_env_key("NOMAD_HOST_PORT_" + mapping.label), "")
                host = int(text) if text.isdigit() else 0
            if not host:
                raise DriverError(f'port_map label "{mapping.label}": no port with that label '
                                  f"was allocated to task {cfg.name!r}")
            exports.append(pot_argv.port_export(mapping.inside, host, mapping.protocol))
        return exports

    def _prepare_pot(self, cli: PotCLI, cfg: TaskConfig, config: PotTaskConfig, name: str,
                     prepare: list[str], set_env: list[str], resolv: _ResolvConf) -> None:
        """Everything up to ``pot start``: create the pot and configure it."""
        cwd = cfg.task_dir
        if resolv.path:
            self._write_file(resolv.path, resolv.text, 0o644)
        try:
            prepared = cli.run(prepare, cwd=cwd, timeout=self.settings.prepare_timeout)
        finally:
            if resolv.path:  # pot keeps its own copy in the pot's configuration
                self._forget_file(resolv.path)
        if not prepared.ok:
            raise DriverError(f"pot prepare failed: {prepared.describe()}")
        if not self._pot_exists(cli, name):
            raise DriverError(f"pot prepare did not create the pot {name!r}: "
                              f"{prepared.describe()}")
        if resolv.path:
            self._reassert_resolv_conf(cli, name, resolv.text)
        for attribute in config.attributes:
            cli.check(pot_argv.set_attribute(name, attribute.name, attribute.value), cwd=cwd)
        for pair in config.copy:
            cli.check(pot_argv.copy_in(name, pair.host, pair.pot), cwd=cwd)
        for mount in cfg.mounts:
            cli.check(pot_argv.mount_in(name, mount.host_path, mount.task_path,
                                        read_only=mount.readonly), cwd=cwd)
        for pairs, read_only in ((config.mount, False), (config.mount_read_only, True)):
            for pair in pairs:
                cli.check(pot_argv.mount_in(name, pair.host, pair.pot, read_only=read_only),
                          cwd=cwd)
        if "-E" in set_env:  # set-env needs at least one variable
            cli.check(set_env, cwd=cwd)
        if config.extra_hosts:
            cli.check(pot_argv.set_hosts(name, config.extra_hosts), cwd=cwd)
        memory_mb = max(cfg.resources.memory_mb, cfg.resources.memory_max_mb)
        if memory_mb > 0 or cfg.resources.cores > 0:
            cli.check(pot_argv.set_rss(name, memory_mb=memory_mb, cpus=cfg.resources.cores),
                      cwd=cwd)

    @classmethod
    def _write_env(cls, path: str, env: dict[str, str]) -> None:
        cls._write_file(path, json.dumps(env), 0o600)

    @staticmethod
    def _write_file(path: str, text: str, mode: int) -> None:
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            write_atomically(path, text, mode=mode)
        except OSError as err:
            raise DriverError(f"cannot write {path}: {err}", recoverable=True) from err

    @staticmethod
    def _read_env(path: str) -> dict[str, str]:
        try:
            with open(path, encoding="utf-8") as src:
                env = json.load(src)
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else {}

    @staticmethod
    def _forget_file(path: str) -> None:
        try:
            os.unlink(path)
        except OSError:
            pass

    def _abandon(self, cli: PotCLI, name: str, env_path: str) -> None:
        """A start failed part-way: destroy whatever pot it created."""
        try:
            self._destroy_pot(cli, name)
        except DriverError as err:
            log.error("pot %s: could not destroy the pot of a failed start: %s", name, err)
        self._forget_file(env_path)

    # -- bookkeeping -------------------------------------------------------------------

    @staticmethod
    def _handle(task: _PotTask) -> TaskHandle:
        supervision = task.supervision
        return TaskHandle(driver=NAME, task_id=task.task_id, started_at=supervision.started_at,
                          pid=supervision.pid, state={
                              "pot_name": task.pot_name, "cwd": task.cwd,
                              "env_path": task.env_path, "supervised": supervision.to_state()})

    @staticmethod
    def _task_from_handle(handle: TaskHandle) -> _PotTask:
        state = handle.state
        try:
            return _PotTask(task_id=handle.task_id, pot_name=str(state["pot_name"]),
                            cwd=str(state.get("cwd", "")),
                            env_path=str(state.get("env_path", "")),
                            supervision=Supervision.from_state(state["supervised"]))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise TaskNotFound(f"pot handle for {handle.task_id!r} is malformed: missing or "
                               f"bad {err}") from None

    def _adopt(self, task: _PotTask) -> None:
        """Track ``task``: watch for its exit and sample its stats on demand."""
        name = task.pot_name

        def sample() -> Any:
            result = self._cli().run(pot_argv.get_rss(name), cwd=task.cwd, timeout=10.0)
            if not result.ok:
                raise DriverError(result.describe())
            return parse_resource_usage(result.stdout)

        task.sampler = StatsSampler(sample, interval=self.settings.stats_interval)
        with self._lock:
            self._tasks[task.task_id] = task
        threading.Thread(target=self._watch, args=(task,), name=f"pot-wait-{name[:24]}",
                         daemon=True).start()

    def _task(self, handle: TaskHandle) -> _PotTask:
        with self._lock:
            task = self._tasks.get(handle.task_id)
        if task is None:
            raise TaskNotFound(f"pot task {handle.task_id!r} is not known to this driver")
        return task

    # -- exit --------------------------------------------------------------------------

    def _watch(self, task: _PotTask) -> None:
        """Wait for ``pot start`` to end and work out the program's exit status at once
        (before anyone destroys the pot and its last-run-stats)."""
        try:
            raw = self._supervisor.wait(task.supervision)
        except DriverError as err:
            raw = ExitResult(exit_code=-1, err=f"lost track of `pot start`: {err}")
        try:
            task.result = self._interpret(task, raw)
        except Exception as err:  # noqa: BLE001 - the task must still be reported as exited
            log.exception("pot %s: cannot interpret the exit of `pot start`", task.pot_name)
            task.result = ExitResult(exit_code=-1, err=f"exit status unknown: {err}")
        finally:
            task.exited.set()

    def _pot_messages(self, task: _PotTask) -> list[PotMessage]:
        """pot's own lines from the task's run, each also written to the agent log (the
        other diverted lines -- ``jail -c``'s, the interface list, or a last line of the
        program still unread when it ended -- at debug level)."""
        path = task.supervision.diverted_path
        if not path:
            return []
        try:
            with open(path, encoding="utf-8", errors="replace") as src:
                lines = src.read().splitlines()
        except OSError:
            return []
        messages = []
        for line in lines:
            message = parse_message(line)
            if message is None:
                if line.strip():
                    log.debug("pot %s: output: %s", task.pot_name, line)
                continue
            messages.append(message)
            log.log(logging.WARNING if message.level is MessageLevel.ERROR else logging.INFO,
                    "pot %s: %s", task.pot_name, message.text)
        return messages

    def _interpret(self, task: _PotTask, raw: ExitResult) -> ExitResult:
        """The task's exit from ``pot start``'s (see the module doc).

        A task the driver destroyed (``stop_forced``) is killed by SIGKILL
        whatever ``pot start`` exited with -- 0 (pot saw its pot stopping), 125
        (the program died of the stop) or 1 -- so one stop always reads the same.
        """
        messages = self._pot_messages(task)
        if raw.err:
            return raw
        if raw.signal:  # `pot start` itself was killed
            return ExitResult(exit_code=raw.exit_code, signal=raw.signal)
        if task.stop_forced:
            return _killed()
        code = raw.exit_code
        if code in (0, POT_EXIT_APP_FAILED):
            # 0 is also what `pot start` exits with when someone else stopped the pot: the
            # program's own status is in last-run-stats either way.
            program_code, why = self._last_run_code(task)
            if program_code is not None:
                return _from_program_exit(program_code)
            if code == POT_EXIT_APP_FAILED:
                return ExitResult(exit_code=code, err=f"pot reported an application error "
                                                      f"but not its exit code ({why})")
            if self._pot_gone(task):
                return ExitResult(exit_code=-1, err=f"`pot start` exited 0 but pot no longer "
                                                    f"knows how the program ended ({why}): the "
                                                    "pot was destroyed from outside")
            return ExitResult(exit_code=-1, err=f"exit status unknown: `pot start` exited 0 "
                                                f"but its last-run-stats cannot be read: {why}")
        if code == POT_EXIT_FAILED:
            errors = [m.text for m in messages if m.level is MessageLevel.ERROR]
            detail = ": " + "; ".join(errors[-3:]) if errors else ""
            return ExitResult(exit_code=code, err=f"pot failed to start{detail}")
        return _from_program_exit(code)

    def _pot_gone(self, task: _PotTask) -> bool:
        """Whether pot no longer lists the task's pot (False when it cannot tell)."""
        try:
            return not self._pot_exists(self._cli(), task.pot_name)
        except DriverError as err:
            log.warning("pot %s: cannot tell whether the pot still exists: %s",
                        task.pot_name, err)
            return False

    def _last_run_code(self, task: _PotTask) -> tuple[int | None, str]:
        try:
            result = self._cli().run(pot_argv.last_run_stats(task.pot_name), cwd=task.cwd)
        except DriverError as err:
            return None, str(err)
        if not result.ok:
            return None, result.describe()
        try:
            code = parse_last_run_exit_code(result.stdout)
        except PotOutputError as err:
            return None, str(err)
        return code, "" if code is not None else "last-run-stats printed {}"

    def wait_task(self, handle: TaskHandle) -> ExitResult:
        task = self._task(handle)
        task.exited.wait()
        assert task.result is not None
        return task.result

    # -- stopping and destroying -------------------------------------------------------

    def stop_task(self, handle: TaskHandle, timeout: float, signal: str) -> None:
        """``kill_signal`` via ``pot signal`` (retried while pot does not know the program's
        pid yet), up to ``timeout`` seconds from its delivery for the program to exit, then
        ``pot destroy -F`` (which ends every process of the jail).  A signal that could
        not be sent (pot failed, hung or could not be run) skips the wait: the pot is
        destroyed at once, so the task always ends."""
        task = self._task(handle)
        if task.exited.is_set():
            return
        try:
            signal_name = pot_argv.pot_signal_name(signal)
        except pot_argv.ArgvError as err:
            raise DriverError(str(err)) from None
        cli = self._cli()
        sent, why = self._send_signal(cli, task, signal_name,
                                      time.monotonic() + SIGNAL_RETRY_TIMEOUT)
        if sent:  # the program gets the whole kill timeout from the signal on
            if task.exited.wait(timeout):
                return
            log.info("pot %s: still running %.1fs after %s; destroying it", task.pot_name,
                     timeout, signal_name)
        elif task.exited.is_set():
            return
        else:
            log.warning("pot %s: %s not sent (%s); destroying it", task.pot_name, signal_name,
                        why)
        task.stop_forced = True
        self._destroy_pot(cli, task.pot_name)
        if not task.exited.wait(EXIT_GRACE):
            log.warning("pot %s: `pot start` did not exit after the pot was destroyed; "
                        "killing it", task.pot_name)
            self._supervisor.kill(task.supervision)

    def _pot_exists(self, cli: PotCLI, name: str) -> bool:
        listed = cli.run(pot_argv.list_pots())
        if not listed.ok:
            raise DriverError(f"cannot list the pots: {listed.describe()}", recoverable=True)
        return name in {line.strip() for line in listed.output}

    def _destroy_pot(self, cli: PotCLI, name: str) -> None:
        """``pot destroy -F`` until the pot is gone (pot may be busy stopping it itself)."""
        deadline = time.monotonic() + self.settings.destroy_timeout
        delay = 0.1
        while True:
            if not self._pot_exists(cli, name):
                return
            result = cli.run(pot_argv.destroy(name))
            if result.ok and not self._pot_exists(cli, name):
                log.info("pot %s destroyed", name)
                return
            if time.monotonic() >= deadline:
                raise DriverError(f"pot {name} still exists after "
                                  f"{self.settings.destroy_timeout:.0f}s of `pot destroy -F`: "
                                  f"{result.describe()}", recoverable=True)
            log.debug("pot %s: destroy not done yet (%s); retrying", name, result.describe())
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def destroy_task(self, handle: TaskHandle, force: bool) -> None:
        """Destroy the task's pot (``force``: even while it runs, then reported as killed
        by SIGKILL) and forget the task.

        A handle this driver cannot read (written by another version of it) still
        has its pot destroyed when it names one: a pot is never left behind
        because its bookkeeping changed shape.
        """
        with self._lock:
            task = self._tasks.get(handle.task_id)
        if task is None:
            try:
                task = self._task_from_handle(handle)
            except TaskNotFound as err:
                name = _readable_pot_name(handle.state)
                if not name:
                    raise
                log.warning("pot %s: %s; destroying the pot it names", name, err)
                self._destroy_pot(self._cli(), name)
                self._forget_file(str(handle.state.get("env_path") or ""))
                return
        elif not task.exited.is_set():
            if not force:
                raise DriverError(f"cannot destroy running task {handle.task_id!r}")
            task.stop_forced = True  # its exit is the driver's doing, not the program's
        self._destroy_pot(self._cli(), task.pot_name)
        try:
            self._supervisor.release(task.supervision)
        except TaskNotFound:
            pass  # its process state is unreadable: nothing of it can be followed
        self._forget_file(task.env_path)
        with self._lock:
            self._tasks.pop(handle.task_id, None)

    # -- recovery ----------------------------------------------------------------------

    def recover_task(self, handle: TaskHandle) -> None:
        with self._lock:
            if handle.task_id in self._tasks:
                return
        task = self._task_from_handle(handle)
        try:
            self._supervisor.recover(task.supervision)
        except TaskNotFound as err:
            raise TaskNotFound(f"pot {task.pot_name}: `pot start` is no longer supervised "
                               f"({err})") from None
        self._adopt(task)
        log.info("pot %s: re-attached to task %s", task.pot_name, task.task_id)

    def recover_start(self, record: StartRecord) -> TaskHandle | None:
        """The client died inside ``start_task``: re-attach to the supervised ``pot start``,
        or destroy the pot that start was building.

        A record this driver cannot read (written by another version of it) that
        still names its pot gets that pot destroyed: it cannot be re-attached to,
        and must not be leaked.
        """
        name = _readable_pot_name(record.state)
        try:
            plan = SupervisionPlan.from_state(record.task_id, record.state["supervision"])
            cwd = str(record.state.get("cwd", ""))
            env_path = str(record.state.get("env_path", ""))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            problem = (f"pot start record for {record.task_id!r} is malformed: missing or bad "
                       f"{err}")
            if not name:
                raise DriverError(problem) from None
            log.warning("pot %s: %s; destroying the pot it names", name, problem)
            self._wait_for_pot_commands(name, record.task_id)
            self._destroy_pot(self._cli(), name)
            self._forget_file(str(record.state.get("env_path") or ""))
            return None
        if not name:
            raise DriverError(f"pot start record for {record.task_id!r} names no pot")
        cli = self._cli()
        self._wait_for_pot_commands(name, record.task_id)
        supervision = self._supervisor.recover_start(plan)
        if supervision is not None:
            task = _PotTask(task_id=record.task_id, pot_name=name, cwd=cwd, env_path=env_path,
                            supervision=supervision)
            self._adopt(task)
            log.info("pot %s: re-attached to the start interrupted by the client's restart",
                     name)
            return self._handle(task)
        self._destroy_pot(cli, name)
        self._forget_file(env_path)
        return None

    def _wait_for_pot_commands(self, name: str, task_id: str) -> None:
        """Let pot commands of an interrupted start (a ``prepare`` outlives the agent that
        ran it) finish before deciding what exists; kill them after the prepare timeout."""
        tag = allocation_tag(task_id.split("/", 1)[0], invocation_of(task_id))
        pot_names = {"pot", os.path.basename(self.settings.pot_bin)}

        def leftovers() -> list[psutil.Process]:
            found = []
            for proc in psutil.process_iter(["pid", "cmdline"]):
                try:
                    args = list(proc.info["cmdline"] or [])
                except psutil.Error:
                    continue
                # `pot <verb> ...` (run by sh or by the test double's interpreter)
                where = next((i for i, arg in enumerate(args[:3])
                              if os.path.basename(arg) in pot_names), None)
                if where is None or proc.pid == os.getpid() or where + 1 >= len(args):
                    continue
                if args[where + 1] in ("start", "exec"):
                    continue  # the supervised task, or an operator's command
                if name in args or tag in args:
                    found.append(proc)
            return found

        deadline = time.monotonic() + self.settings.prepare_timeout
        procs = leftovers()
        while procs and time.monotonic() < deadline:
            _, procs = psutil.wait_procs(procs, timeout=1.0)
        for proc in procs:
            log.warning("pot %s: killing pot command pid %d left by an interrupted start",
                        name, proc.pid)
            try:
                proc.kill()
            except psutil.Error:
                pass

    # -- while running -----------------------------------------------------------------

    def _send_signal(self, cli: PotCLI, task: _PotTask, signal_name: str,
                     deadline: float) -> tuple[bool, str]:
        """``pot signal`` until it succeeds, the task exited or ``deadline`` passed:
        ``(sent, why not)``.

        pot signals the program through the pid it records in
        ``pot_main_pid_<name>``, which it writes only after the jail is up, the
        program started, a post-start hook ran and half a second passed
        (share/pot/start.sh): right after the start, "Sending signal failed"
        means "not yet".  A ``pot signal`` that cannot be run or hangs past the
        command timeout is "not sent" at once (never an exception: stopping a
        task must go on to destroy its pot whatever ``pot signal`` does).
        """
        delay = 0.05
        while True:
            try:
                sent = cli.run(pot_argv.signal(task.pot_name, signal_name), cwd=task.cwd)
            except DriverError as err:
                log.warning("pot %s: %s not sent: %s", task.pot_name, signal_name, err)
                return False, str(err)
            remaining = deadline - time.monotonic()
            if sent.ok or task.exited.is_set() or remaining <= 0:
                return sent.ok, "" if sent.ok else sent.describe()
            if task.exited.wait(min(delay, remaining)):
                return False, sent.describe()
            delay = min(delay * 2, 0.5)

    def signal_task(self, handle: TaskHandle, signal: str) -> None:
        task = self._task(handle)
        if task.exited.is_set():
            raise DriverError(f"task {handle.task_id!r} is not running")
        try:
            signal_name = pot_argv.pot_signal_name(signal)
        except pot_argv.ArgvError as err:
            raise DriverError(str(err)) from None
        sent, why = self._send_signal(self._cli(), task, signal_name,
                                      time.monotonic() + SIGNAL_RETRY_TIMEOUT)
        if not sent:
            if task.exited.is_set():
                raise DriverError(f"task {handle.task_id!r} is not running")
            raise DriverError(f"failed to signal pot {task.pot_name}: {why}")

    def exec_task(self, handle: TaskHandle, cmd: list[str], timeout: float) -> ExecResult:
        """Run ``cmd`` inside the pot with the task's environment (``pot exec``).

        The command's output is returned untouched (pot prints nothing of its
        own when the command runs); a failure of pot itself -- nothing but pot
        error messages on stdout -- is raised as DriverError.
        """
        task = self._task(handle)
        if task.exited.is_set():
            raise DriverError(f"task {handle.task_id!r} is not running")
        try:
            argv = pot_argv.exec_in(task.pot_name, cmd, self._read_env(task.env_path))
        except pot_argv.ArgvError as err:
            raise DriverError(str(err)) from None
        try:
            done = self._cli().run(argv, cwd=task.cwd if os.path.isdir(task.cwd) else None,
                                   timeout=timeout, log_messages=False)
        except DriverError as err:
            raise DriverError(f"exec {cmd[0]!r} in pot {task.pot_name}: {err}") from None
        pot_failed = (done.exit_code != 0 and done.errors() and not done.output
                      and not done.raw_stderr.strip())
        if pot_failed:
            raise DriverError(f"pot exec in {task.pot_name} failed: "
                              f"{'; '.join(done.errors())}")
        return ExecResult(stdout=done.raw_stdout, stderr=done.raw_stderr,
                          exit_code=done.exit_code)

    def task_stats(self, handle: TaskHandle) -> TaskStats:
        task = self._task(handle)
        assert task.sampler is not None
        return task.sampler.stats()
