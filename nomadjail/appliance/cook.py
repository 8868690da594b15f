"""``nomadjail flavour cook``: turn a pot's environment into a running server.

potluck's model: the jail's ``cook`` rc script runs this at every start; the
first successful run marks the jail *seasoned* and later runs do nothing.
One run:

1. reads the variables (process environment, then ``/tmp/environment.sh``)
   and checks them all; on any problem it prints every one and exits
   non-zero **before writing anything**;
2. renders ``/usr/local/etc/nomadjail/server.hcl`` (mode 0600) and checks it
   with the agent's own config loader;
3. sets rc.conf with ``sysrc`` (``nomadjail_enable``, ``nomadjail_args``);
4. starts ``service nomadjail`` (restarts it if it runs with an older config)
   and waits, bounded, until the API answers on ``IP:4646`` -- and, for a
   single server (BOOTSTRAP=1), until it is the leader;
5. with IMPORTJOBS=1 submits every ``/root/nomadjobs/*.nomad``
   (see :mod:`nomadjail.agent.import_jobs`);
6. marks the jail seasoned.

A cluster (BOOTSTRAP=3 or 5) has no leader until enough servers run, and
the other jails may be started much later, so the cook does not wait for
one: the API answering is success.  Its jobs are imported by the agent
itself once a leader exists (``nomadjail_args`` gets ``-import-jobs``; the
agent remembers what it imported, so later starts do not submit the same
files again).

Every step is idempotent: a file whose content would not change is not
written, an rc.conf value already set is not set again, a running service
with an unchanged config is left alone and unchanged jobs are not submitted,
so ``--force`` (cook again although seasoned) changes nothing that is already
right.  Paths are under ``root`` (``/`` in a jail; a temp dir in tests).
"""

from __future__ import annotations

import enum
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ..agent.addresses import url_host
from ..agent.config_file import load_config_file
from ..agent.import_jobs import ImportOutcome, ImportStatus, import_jobs
from ..api import ApiClient, ApiError
from ..helper.atomic_file import write_atomically
from ..structs import NomadError
from .environment import (
    ApplianceSettings,
    InvalidEnvironment,
    read_environment,
    settings_from_environment,
)
from .job_target import ApiJobTarget
from .render import SERVER_CONFIG_NAME, Ports, render_server_config
from .system import SystemCommandError, SystemTools

SERVICE = "nomadjail"
DEFAULT_WAIT = 120.0  # seconds for the API and a leader after `service nomadjail start`
POLL_INTERVAL = 0.5


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the appliance keeps things, under ``root``."""

    root: Path = Path("/")

    def _at(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    @property
    def environment_file(self) -> Path:
        return self._at("/tmp/environment.sh")

    @property
    def config_dir(self) -> Path:
        return self._at("/usr/local/etc/nomadjail")

    @property
    def config_file(self) -> Path:
        return self.config_dir / SERVER_CONFIG_NAME

    @property
    def data_dir(self) -> Path:
        return self._at("/var/db/nomadjail")

    @property
    def jobs_dir(self) -> Path:
        return self._at("/root/nomadjobs")

    @property
    def seasoned_marker(self) -> Path:
        return self._at("/usr/local/etc/pot-is-seasoned")  # potluck's marker

    @property
    def cook_log(self) -> Path:
        return self._at("/var/log/cook.log")


class CookFailed(RuntimeError):
    """A step failed; the message says which and why."""


class ServiceAction(enum.StrEnum):
    """What the cook did to ``service nomadjail`` (the values are the service verbs)."""

    NONE = ""  # it ran with this configuration already
    START = "start"
    RESTART = "restart"


class Level(enum.StrEnum):
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


@dataclass(slots=True)
class CookReport:
    exit_code: int = 0
    already_seasoned: bool = False
    config_changed: bool = False
    rc_changed: list[str] = field(default_factory=list)
    service_action: ServiceAction = ServiceAction.NONE
    imports: list[ImportOutcome] = field(default_factory=list)
    # BOOTSTRAP>1: the agent imports the jobs once the cluster has a leader.
    imports_left_to_agent: bool = False


class CookLog:
    """Lines to stderr and, timestamped like potluck's, to ``/var/log/cook.log``."""

    def __init__(self, path: Path, stream: TextIO | None = None):
        self.path = path
        self.stream = stream or sys.stderr

    def __call__(self, level: Level, message: str) -> None:
        line = f"{level.value}: {message}" if level is not Level.INFO else message
        print(f"==> {line}", file=self.stream, flush=True)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as log:
                log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n")
        except OSError:
            pass  # the log file is a convenience; stderr has the line


@dataclass(slots=True)
class CookOptions:
    root: Path = Path("/")
    force: bool = False
    wait: float = DEFAULT_WAIT
    ports: Ports = Ports()
    environ: Mapping[str, str] | None = None  # None: os.environ
    tools: SystemTools | None = None
    stream: TextIO | None = None


def cook(options: CookOptions) -> CookReport:
    """Run the cook (see the module docstring); never raises for an expected failure:
    the report's ``exit_code`` is non-zero and the reason has been printed."""
    layout = Layout(options.root)
    say = CookLog(layout.cook_log, options.stream)
    report = CookReport()
    if layout.seasoned_marker.exists() and not options.force:
        say(Level.INFO, f"already seasoned ({layout.seasoned_marker} exists): nothing to do")
        report.already_seasoned = True
        return report
    env = read_environment(os.environ if options.environ is None else options.environ,
                           layout.environment_file)
    try:
        settings = settings_from_environment(env)
    except InvalidEnvironment as err:
        for problem in err.problems:
            say(Level.ERROR, problem)
        say(Level.ERROR, "nothing was written; fix the variables with pot set-env and start "
                         "the pot again")
        report.exit_code = 1
        return report
    for warning in settings.warnings:
        say(Level.WARNING, f"!!! {warning} !!!")
    tools = options.tools or SystemTools(root=options.root)
    try:
        _cook(settings, layout, options, tools, say, report)
    except (CookFailed, SystemCommandError) as err:
        say(Level.ERROR, str(err))
        report.exit_code = 1
        return report
    layout.seasoned_marker.parent.mkdir(parents=True, exist_ok=True)
    layout.seasoned_marker.touch()
    say(Level.INFO, f"seasoned: the server answers on http://{url_host(settings.ip)}:"
                    f"{options.ports.http}")
    return report


def agent_args(settings: ApplianceSettings, layout: Layout) -> str:
    """``nomadjail_args``: the config directory, and for a cluster with IMPORTJOBS=1
    the jobs directory (the agent imports once there is a leader)."""
    args = f"-config={layout.config_dir}"
    if settings.import_jobs and settings.bootstrap > 1:
        args += f" -import-jobs={layout.jobs_dir}"
    return args


def _cook(settings: ApplianceSettings, layout: Layout, options: CookOptions,
          tools: SystemTools, say: CookLog, report: CookReport) -> None:
    text = render_server_config(settings, data_dir=str(layout.data_dir), ports=options.ports)
    _check_config(text)
    report.config_changed = _write_private(layout.config_file, text)
    say(Level.INFO,
        f"{layout.config_file}: {'written' if report.config_changed else 'unchanged'}")
    layout.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    layout.jobs_dir.mkdir(parents=True, exist_ok=True)

    wanted = {f"{SERVICE}_enable": "YES", f"{SERVICE}_args": agent_args(settings, layout)}
    for name, value in wanted.items():
        if tools.rc_get(name) != value:
            tools.rc_set(name, value)
            report.rc_changed.append(name)
            say(Level.INFO, f"rc.conf: {name}={value!r}")

    if not tools.service_status(SERVICE):
        report.service_action = ServiceAction.START
    elif report.config_changed or report.rc_changed:
        report.service_action = ServiceAction.RESTART
    if report.service_action is not ServiceAction.NONE:
        say(Level.INFO, f"service {SERVICE} {report.service_action.value}")
        tools.service_do(SERVICE, report.service_action.value)
    else:
        say(Level.INFO, f"service {SERVICE} runs with this configuration already")

    address = f"http://{url_host(settings.ip)}:{options.ports.http}"
    client = ApiClient(address, timeout=10.0)
    if settings.bootstrap > 1:
        _wait_for_api(client, address, settings, options.wait, say)
        if settings.import_jobs:
            report.imports_left_to_agent = True
            say(Level.INFO, f"the agent imports the jobs in {layout.jobs_dir} once the cluster "
                            "has a leader (see /var/log/nomadjail.log)")
        return
    _wait_for_leader(client, address, options.wait, say)

    if settings.import_jobs:
        say(Level.INFO, f"importing jobs from {layout.jobs_dir}")
        report.imports = import_jobs(ApiJobTarget(client), layout.jobs_dir)
        for outcome in report.imports:
            if outcome.status is ImportStatus.FAILED:
                say(Level.ERROR, f"{outcome.path}: not imported: {outcome.error}")
            else:
                say(Level.INFO, f"{outcome.path}: job {outcome.job_id!r} {outcome.status.value}")
        if not report.imports:
            say(Level.INFO, f"no *.nomad files in {layout.jobs_dir}")


def _check_config(text: str) -> None:
    """Parse the rendered config with the agent's loader before it replaces anything."""
    with tempfile.TemporaryDirectory(prefix="nomadjail-cook-") as scratch:
        path = Path(scratch) / SERVER_CONFIG_NAME
        path.write_text(text, encoding="utf-8")
        try:
            load_config_file(str(path))
        except NomadError as err:
            raise CookFailed(f"the rendered config does not load (a bug in the template): "
                             f"{err}") from None


def _write_private(path: Path, text: str) -> bool:
    """Write ``text`` with mode 0600 (it holds the gossip key) unless it is there already."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if path.read_text(encoding="utf-8") == text:
            if path.stat().st_mode & 0o777 != 0o600:
                path.chmod(0o600)
            return False
    except FileNotFoundError:
        pass
    write_atomically(path, text, mode=0o600)
    path.chmod(0o600)  # exactly 0600, whatever the umask narrowed
    return True


def _poll_leader(client: ApiClient, wait: float, *, need_leader: bool) -> tuple[bool, str]:
    """Ask ``/v1/status/leader`` until it answers (with a leader, if ``need_leader``) or
    ``wait`` seconds pass: (success, the leader or the last problem)."""
    deadline = time.monotonic() + wait
    last_problem = "no answer yet"
    while True:
        try:
            leader = client.status_leader()
            if leader or not need_leader:
                return True, leader
            last_problem = "the API answers, but there is no cluster leader yet"
        except (ApiError, NomadError, OSError) as err:
            last_problem = str(err)
        if time.monotonic() >= deadline:
            return False, last_problem
        time.sleep(POLL_INTERVAL)


def _wait_for_api(client: ApiClient, address: str, settings: ApplianceSettings,
                  wait: float, say: CookLog) -> None:
    """A cluster member: the API answering is enough (a leader needs the others)."""
    say(Level.INFO, f"waiting up to {wait:.0f}s for the API on {address}")
    answered, leader = _poll_leader(client, wait, need_leader=False)
    if not answered:
        raise CookFailed(f"the API on {address} did not answer within {wait:.0f}s "
                         f"({leader}); see the agent's log in /var/log/nomadjail.log")
    peers = (f"the servers in server_join ({', '.join(settings.retry_join)})"
             if settings.retry_join else
             f"{settings.bootstrap} servers of service \"nomad\" in Consul")
    say(Level.INFO, f"cluster leader: {leader}" if leader else
        f"the API answers; the cluster of {settings.bootstrap} forms once "
        f"{peers} are up: start the other jails")


def _wait_for_leader(client: ApiClient, address: str, wait: float, say: CookLog) -> None:
    """A single server elects itself within a second of starting: wait for that."""
    say(Level.INFO, f"waiting up to {wait:.0f}s for the API on {address} and a cluster leader")
    elected, leader = _poll_leader(client, wait, need_leader=True)
    if not elected:
        raise CookFailed(f"no cluster leader on {address} after {wait:.0f}s ({leader}); "
                         "see the agent's log in /var/log/nomadjail.log")
    say(Level.INFO, f"cluster leader: {leader}")
