"""The pot task driver: each task runs in its own FreeBSD jail, managed by ``pot``.

Start, for the task's start attempt ``<alloc>/<task>/<invocation>``:

1. create and configure the pot ``<task>_<invocation>_<alloc>`` (dots become
   ``_``, as pot does): ``pot prepare``, then ``set-attribute``, ``copy-in``,
   ``mount-in``, ``set-env``, ``set-hosts``, ``set-rss`` (:mod:`.prepare`);
2. ``pot start <name>``, which blocks while the jailed program runs, is run
   under the drivers' shared executor
   (:class:`~nomadjail.drivers.supervision.Supervisor`): it outlives the
   agent (kill -9 included), copies the program's output into the task's log
   files and records ``pot start``'s exit status.  pot's own lines -- before
   the program starts, the few it may print while the program runs, after
   the program ended (from the moment pot writes the pot's
   ``conf/.last_run_stats``) -- are diverted to a side file, which the driver
   writes to the agent log, so the program's own lines stay in its logs
   whatever they start with (:func:`.pot_output.start_diversion`).

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
  or destroys the pot (:mod:`.recovery`); ``recover_task`` re-attaches to a
  running task (its logs kept flowing meanwhile) and refuses one whose
  supervisor is gone, which the client then destroys.  ``destroy -F`` is
  retried until the pot is really gone (pot can answer "already stopping!"
  while its own cleanup runs, see :mod:`.pots`).  A handle or start record
  whose shape this driver does not know (another version wrote it) still
  gets the pot it names destroyed.
* **Exit status**: worked out from ``pot start``'s the moment it ends
  (before anyone destroys the pot and its last-run-stats), as
  :mod:`.exit_status` says: the program's code from ``last-run-stats``, pot's
  errors when it could not start the pot, SIGKILL for a task the driver had
  to destroy.
* **Stop** sends ``kill_signal`` through ``pot signal``, waits up to the
  kill timeout, then destroys the pot.  ``pot signal`` (stop's and
  ``alloc signal``'s) is retried briefly: pot records the program's pid only
  about half a second after the jail is up.  A ``pot signal`` that fails or
  hangs does not stop the stop: the pot is destroyed at once.
* **Images**: the fingerprint reports the images the node holds
  (``driver.pot.image.<pot>_<tag> = "1"``, from ``pot ls -q``, see
  :mod:`.images`) for the scheduler's image-cache boost; a start that
  imported a new one asks the client to fingerprint again at once.
* Every pot command is an argv list (see :mod:`.argv`), run with a
  ``PATH``-only environment; logs and messages never show environment values.
"""

from __future__ import annotations

import logging
import os
import platform
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..drivers.base import (
    Capabilities,
    DriverError,
    DriverNetwork,
    ExecResult,
    ExitResult,
    Fingerprint,
    StartRecord,
    TaskConfig,
    TaskHandle,
    TaskNotFound,
    TaskStats,
)
from ..drivers.supervision import SupervisedCommand, Supervisor
from ..structs.pot_images import image_pot_name
from . import argv as pot_argv
from . import task_files
from .exit_status import LastRun, task_exit
from .images import ImageCache, image_pots
from .naming import invocation_of, pot_name
from .pot_cli import POT_PATH, PotCLI, find_pot, pot_environment
from .pot_network import first_address, network_plan, pot_address, task_network
from .pot_output import (
    MessageLevel,
    PotMessage,
    parse_message,
    parse_resource_usage,
    start_diversion,
)
from .pot_task import NAME, PotStart, PotTask
from .pots import (
    PotLocks,
    PotRoot,
    destroy_pot,
    last_run,
    pot_exists,
    send_signal,
    wait_running,
)
from .prepare import plan_setup, run_setup
from .recovery import readable_pot_name, wait_for_leftover_commands
from .resolv_conf import (
    HOST_RESOLV_CONF,
    dns_problems,
    pot_resolv_conf,
    resolver_config,
)
from .stats import StatsSampler
from .task_config import PotConfigError, PotTaskConfig, parse_pot_config, validate_pot_config

log = logging.getLogger("nomadjail.pot_driver")

# After the pot was destroyed, how long `pot start` may take to notice and exit.
EXIT_GRACE = 15.0
# How long `pot signal` is retried while pot does not know the program's pid yet (it
# records it after the jail is up, a post-start hook and half a second of sleep).
SIGNAL_RETRY_TIMEOUT = 5.0


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
        self._tasks: dict[str, PotTask] = {}
        self._lock = threading.Lock()
        self._root = PotRoot()
        self._destroying = PotLocks()
        self._images = ImageCache()
        self._fingerprint_soon: Callable[[], None] | None = None

    # -- node facing -------------------------------------------------------------------

    def _cli(self) -> PotCLI:
        pot_bin = find_pot(self.settings.pot_bin)
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
        pot_bin = find_pot(self.settings.pot_bin)
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
        self._list_images(PotCLI(pot_bin, timeout=self.settings.command_timeout))
        return Fingerprint(detected=True, healthy=True, health_description="Healthy" + note,
                           attributes={"driver.pot.version": version,
                                       **self._images.attributes()})

    def _list_images(self, cli: PotCLI) -> None:
        """The node's images from ``pot ls -q`` (see :mod:`.images`); when pot cannot
        list them, the ones known so far stay reported."""
        try:
            listed = cli.run(pot_argv.list_pots())
        except DriverError as err:
            log.warning("pot: cannot list the node's images: %s", err)
            return
        if not listed.ok:
            log.warning("pot: cannot list the node's images: %s", listed.describe())
            return
        self._images.replace(image_pots(listed.output))

    def notify_fingerprint_changes(self, fingerprint_soon: Callable[[], None]) -> None:
        """The client's callable for "fingerprint again now": called when a task's
        prepare imported an image the node did not hold (see :mod:`.images`)."""
        self._fingerprint_soon = fingerprint_soon

    def capabilities(self) -> Capabilities:
        return Capabilities(send_signals=True, exec=True, fs_isolation="image")

    def validate_config(self, config: dict[str, Any]) -> list[str]:
        return validate_pot_config(config)

    # -- starting ----------------------------------------------------------------------

    @staticmethod
    def pot_name_for(cfg: TaskConfig) -> str:
        return pot_name(cfg.name, cfg.alloc_id, invocation_of(cfg.id))

    def start_record(self, cfg: TaskConfig) -> StartRecord:
        try:
            config: PotTaskConfig | None = parse_pot_config(cfg.config)
        except PotConfigError:
            config = None  # start_task refuses it; nothing will run
        return PotStart(task_id=cfg.id, pot_name=self.pot_name_for(cfg), cwd=cfg.task_dir,
                        env_path=task_files.env_path(cfg.task_dir, cfg.id),
                        plan=self._supervisor.plan(cfg),
                        network=network_plan(config) if config is not None else None,
                        addresses=tuple(config.addresses) if config is not None else ()
                        ).record()

    def start_task(self, cfg: TaskConfig) -> TaskHandle:
        with self._lock:
            if cfg.id in self._tasks:
                raise DriverError(f"task with ID {cfg.id!r} already started")
        try:
            config = parse_pot_config(cfg.config)
        except PotConfigError as err:
            raise DriverError(f"failed driver config validation: {err}") from None
        dns = resolver_config(cfg.dns, self.settings.host_resolv_conf)
        problems = dns_problems(dns, interpolated=True)
        if problems:
            raise DriverError("the group network's dns block cannot be passed to pot: "
                              + "; ".join(problems))
        cli = self._cli()
        name = self.pot_name_for(cfg)
        setup = plan_setup(cfg, config, name, pot_resolv_conf(
            dns, task_files.resolv_conf_path(cfg.task_dir, cfg.id)))
        env_path = task_files.env_path(cfg.task_dir, cfg.id)
        try:
            task_files.write_env(env_path, cfg.env)
            run_setup(cli, cfg, config, setup, prepare_timeout=self.settings.prepare_timeout,
                      root=self._root)
            self._saw_image(image_pot_name(config.pot, config.tag))
            network = task_network(cli, name, config, cwd=cfg.task_dir)
            diversion = start_diversion(name, self._root.last_run_stats_path(cli, name))
            supervision = self._supervisor.launch(cfg, SupervisedCommand(
                executable=cli.pot_bin, args=tuple(pot_argv.start(name)),
                env=pot_environment(), diversion=diversion))
        except BaseException as err:
            log.warning("pot %s: start failed, cleaning up: %s", name, err)
            self._abandon(cli, name, env_path)
            raise
        task = PotTask(task_id=cfg.id, pot_name=name, cwd=cfg.task_dir, env_path=env_path,
                       supervision=supervision, network=network)
        self._adopt(task)
        # From here on the task is tracked and its handle is returned whatever happens: a
        # pot whose start cannot be confirmed is still reported by wait_task, stopped by
        # stop_task and destroyed by destroy_task -- never left running unrecorded.
        try:
            wait_running(cli, name, cwd=task.cwd, exited=task.exited,
                         timeout=self.settings.start_timeout)
        except DriverError as err:
            log.warning("pot %s: cannot tell whether its jail came up (%s); leaving it to "
                        "start", name, err)
        log.info("pot %s started for task %s (pot start pid %d)", name, cfg.id,
                 supervision.pid)
        return task.handle()

    def _saw_image(self, image: str) -> None:
        """prepare succeeded, so the node holds ``image`` now; a new one is reported at
        once (the scheduler prefers nodes holding a task's image)."""
        if self._images.saw(image) and self._fingerprint_soon is not None:
            log.info("pot image %s is new on this node; fingerprinting again", image)
            self._fingerprint_soon()

    def _destroy_pot(self, cli: PotCLI, name: str) -> None:
        """One destroy of a pot at a time: a stop that has to destroy and the client's
        destroy_task would otherwise run two ``pot destroy -F`` at once, and the loser
        fails ("already stopping!").  The second one waits, then finds the pot gone."""
        with self._destroying.hold(name):
            destroy_pot(cli, name, timeout=self.settings.destroy_timeout)

    def _abandon(self, cli: PotCLI, name: str, env_path: str) -> None:
        """A start failed part-way: destroy whatever pot it created."""
        try:
            self._destroy_pot(cli, name)
        except DriverError as err:
            log.error("pot %s: could not destroy the pot of a failed start: %s", name, err)
        task_files.forget_file(env_path)

    # -- bookkeeping -------------------------------------------------------------------

    def _adopt(self, task: PotTask) -> None:
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

    def _task(self, handle: TaskHandle) -> PotTask:
        with self._lock:
            task = self._tasks.get(handle.task_id)
        if task is None:
            raise TaskNotFound(f"pot task {handle.task_id!r} is not known to this driver")
        return task

    # -- exit --------------------------------------------------------------------------

    def _watch(self, task: PotTask) -> None:
        """Wait for ``pot start`` to end and work out the program's exit status at once
        (before anyone destroys the pot and its last-run-stats)."""
        try:
            raw = self._supervisor.wait(task.supervision)
        except DriverError as err:
            raw = ExitResult(exit_code=-1, err=f"lost track of `pot start`: {err}")
        try:
            errors = [message.text for message in self._pot_messages(task)
                      if message.level is MessageLevel.ERROR]
            task.result = task_exit(raw, stop_forced=task.stop_forced, pot_errors=errors,
                                    last_run=lambda: self._last_run(task),
                                    pot_gone=lambda: self._pot_gone(task))
        except Exception as err:  # noqa: BLE001 - the task must still be reported as exited
            log.exception("pot %s: cannot interpret the exit of `pot start`", task.pot_name)
            task.result = ExitResult(exit_code=-1, err=f"exit status unknown: {err}")
        finally:
            task.exited.set()

    def _pot_messages(self, task: PotTask) -> list[PotMessage]:
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

    def _last_run(self, task: PotTask) -> LastRun:
        try:
            return last_run(self._cli(), task.pot_name, cwd=task.cwd)
        except DriverError as err:
            return LastRun(None, str(err))

    def _pot_gone(self, task: PotTask) -> bool:
        """Whether pot no longer lists the task's pot (False when it cannot tell)."""
        try:
            return not pot_exists(self._cli(), task.pot_name)
        except DriverError as err:
            log.warning("pot %s: cannot tell whether the pot still exists: %s",
                        task.pot_name, err)
            return False

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
        sent, why = send_signal(cli, task.pot_name, signal_name, cwd=task.cwd,
                                exited=task.exited,
                                deadline=time.monotonic() + SIGNAL_RETRY_TIMEOUT)
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
                task = PotTask.from_handle(handle)
            except TaskNotFound as err:
                name = readable_pot_name(handle.state)
                if not name:
                    raise
                log.warning("pot %s: %s; destroying the pot it names", name, err)
                self._destroy_pot(self._cli(), name)
                task_files.forget_file(str(handle.state.get("env_path") or ""))
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
        task_files.forget_file(task.env_path)
        with self._lock:
            self._tasks.pop(handle.task_id, None)

    # -- recovery ----------------------------------------------------------------------

    def recover_task(self, handle: TaskHandle) -> None:
        with self._lock:
            if handle.task_id in self._tasks:
                return
        task = PotTask.from_handle(handle)
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
        name = readable_pot_name(record.state)
        try:
            start = PotStart.from_record(record, name)
        except ValueError as err:
            if not name:
                raise DriverError(str(err)) from None
            log.warning("pot %s: %s; destroying the pot it names", name, err)
            self._wait_for_pot_commands(name, record.task_id)
            self._destroy_pot(self._cli(), name)
            task_files.forget_file(str(record.state.get("env_path") or ""))
            return None
        if not name:
            raise DriverError(f"pot start record for {record.task_id!r} names no pot")
        cli = self._cli()
        self._wait_for_pot_commands(name, record.task_id)
        supervision = self._supervisor.recover_start(start.plan)
        if supervision is not None:
            task = PotTask(task_id=record.task_id, pot_name=name, cwd=start.cwd,
                           env_path=start.env_path, supervision=supervision,
                           network=self._recovered_network(cli, start))
            self._adopt(task)
            log.info("pot %s: re-attached to the start interrupted by the client's restart",
                     name)
            return task.handle()
        self._destroy_pot(cli, name)
        task_files.forget_file(start.env_path)
        return None

    @staticmethod
    def _recovered_network(cli: PotCLI, start: PotStart) -> DriverNetwork | None:
        """The network of a pot whose start was interrupted: its address as pot reports
        it, else (pot does not answer) the one it was asked for."""
        network = start.network
        if network is None:
            return None
        try:
            network.ip = pot_address(cli, start.pot_name,
                                     cwd=start.cwd if os.path.isdir(start.cwd) else None)
        except DriverError as err:
            network.ip = first_address(start.addresses)
            log.warning("pot %s: %s; advertising the address it was given, %s",
                        start.pot_name, err, network.ip or "(none)")
        return network

    def _wait_for_pot_commands(self, name: str, task_id: str) -> None:
        """Let pot commands of an interrupted start (a ``prepare`` outlives the agent that
        ran it) finish before deciding what exists; kill them after the prepare timeout."""
        wait_for_leftover_commands(name, task_id, pot_bin=self.settings.pot_bin,
                                   timeout=self.settings.prepare_timeout)

    # -- while running -----------------------------------------------------------------

    def signal_task(self, handle: TaskHandle, signal: str) -> None:
        task = self._task(handle)
        if task.exited.is_set():
            raise DriverError(f"task {handle.task_id!r} is not running")
        try:
            signal_name = pot_argv.pot_signal_name(signal)
        except pot_argv.ArgvError as err:
            raise DriverError(str(err)) from None
        sent, why = send_signal(self._cli(), task.pot_name, signal_name, cwd=task.cwd,
                                exited=task.exited,
                                deadline=time.monotonic() + SIGNAL_RETRY_TIMEOUT)
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
            argv = pot_argv.exec_in(task.pot_name, cmd, task_files.read_env(task.env_path))
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
