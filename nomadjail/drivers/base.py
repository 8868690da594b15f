"""The task driver protocol: how the client's task runner drives a runtime.

Modelled on Nomad's ``DriverPlugin``, in-process and synchronous.  The task
runner calls, for one task:

    fingerprint()                      at start and periodically (node attributes, health)
    validate_config(config)            when a job is submitted and again before start
    start_record(cfg) -> StartRecord   persisted by the client BEFORE start_task
    start_task(cfg) -> TaskHandle      the handle is persisted in the client state db
    wait_task(handle) -> ExitResult    blocks (in the runner's thread) until the task exits
    stop_task(handle, timeout, sig)    kill_signal, wait ``timeout``, then force
    destroy_task(handle, force)        release everything the task held (idempotent)
    recover_task(handle)               after a client restart: re-attach or raise
    recover_start(record) -> handle|None   after a client died inside start_task
    signal_task / exec_task / task_stats

Guarantees every driver keeps:

* Commands are argv lists, never shell strings.
* ``start_task`` returns only when the task is started (or raises
  :class:`DriverError` with a message for the task event).
* A :class:`TaskHandle` holds everything needed to find the task again after
  the client process died (kill -9 included); ``recover_task`` either
  re-attaches or raises :class:`TaskNotFound`, and ``destroy_task`` must still
  clean up a task that cannot be recovered.
* The client can die *inside* ``start_task``, after the task was launched but
  before the handle was persisted.  So the client first persists
  ``start_record(cfg)`` (no side effects; it says where the start will leave
  its traces), and after a restart calls ``recover_start(record)`` for a
  record that never got its handle: the driver either re-attaches to the task
  that start launched and returns its handle, or kills whatever was
  half-started and returns None.  Never a second copy, never a leaked task.
* Output goes to ``cfg.stdout_path`` / ``cfg.stderr_path`` through the
  driver's log sink, which keeps running while the client is down.
"""

from __future__ import annotations

import signal as signals
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..structs import DNSConfig, PortMapping


class DriverError(Exception):
    """The driver could not do what was asked; the message goes in the task event."""

    def __init__(self, message: str, *, recoverable: bool = False):
        super().__init__(message)
        self.recoverable = recoverable  # True: restarting the task may succeed


class TaskNotFound(DriverError):
    """``recover_task``/``signal_task`` on a task that no longer exists."""


@dataclass(slots=True)
class Fingerprint:
    """Driver health and the ``driver.<name>.*`` attributes it adds to the node."""

    detected: bool = False
    healthy: bool = False
    health_description: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Capabilities:
    send_signals: bool = True
    exec: bool = False
    fs_isolation: str = "none"  # none | chroot | image


@dataclass(slots=True)
class MountConfig:
    host_path: str
    task_path: str
    readonly: bool = False


@dataclass(slots=True)
class TaskResources:
    cpu_mhz: int = 0
    memory_mb: int = 0
    memory_max_mb: int = 0
    ports: list[PortMapping] = field(default_factory=list)  # label, host port, "to" port
    cores: int = 0  # whole CPU cores for the task alone (``resources { cores = N }``); 0: none


@dataclass(slots=True)
class TaskConfig:
    """Everything a driver needs to start one task, already interpolated."""

    id: str  # "<alloc_id>/<task>/<8 hex>": unique per start attempt
    alloc_id: str
    namespace: str
    job_id: str
    job_name: str
    group_name: str
    name: str  # the task's name
    node_id: str
    node_name: str
    env: dict[str, str]
    config: dict[str, Any]  # the task's driver config, ${...} resolved
    resources: TaskResources
    user: str
    alloc_dir: str  # host path of the allocation directory
    task_dir: str  # host path of <alloc_dir>/<task>
    stdout_path: str  # where the task's stdout goes (rotated log files' base path)
    stderr_path: str
    mounts: list[MountConfig] = field(default_factory=list)  # volume_mounts + alloc/local/secrets
    log_max_files: int = 10
    log_max_file_size_mb: int = 10
    # The group network's ``dns { servers searches options }`` (Nomad's TaskConfig.DNS),
    # ``${...}`` already interpolated with the task's environment by the client (a value
    # it could not resolve stays as written); None: the driver's default resolver
    # configuration.
    dns: DNSConfig | None = None


@dataclass(slots=True)
class DriverNetwork:
    """The network a driver gave a task, when it is not the node's (Nomad's
    ``drivers.DriverNetwork``): a pot with its own IP (``alias``) answers there, on
    the task's own ports.  Services with ``address_mode = "driver"`` (or ``"auto"``
    when ``auto_advertise``) advertise this address and ``port_map`` ports."""

    ip: str = ""
    port_map: dict[str, int] = field(default_factory=dict)  # port label -> port in the task
    auto_advertise: bool = False  # "auto" address mode picks this network, not the host's


@dataclass(slots=True)
class TaskHandle:
    """What the client persists to find a task again.  JSON-serialisable."""

    driver: str
    task_id: str
    started_at: int = 0  # ns since the epoch
    pid: int = 0  # the process the driver watches (0 if none)
    state: dict[str, Any] = field(default_factory=dict)  # driver-specific (pot name, ...)
    network: DriverNetwork | None = None  # None: the task uses the node's network


@dataclass(slots=True)
class StartRecord:
    """Where one start attempt (``task_id``) leaves its traces.  JSON-serialisable.

    The client persists it before calling ``start_task`` and drops it once the
    handle is persisted; one left over means the client died in between.
    """

    driver: str
    task_id: str
    state: dict[str, Any] = field(default_factory=dict)  # driver-specific (file paths ...)


@dataclass(slots=True)
class ExitResult:
    exit_code: int = 0
    signal: int = 0
    oom_killed: bool = False
    err: str = ""

    def successful(self) -> bool:
        return self.exit_code == 0 and self.signal == 0 and not self.err


@dataclass(slots=True)
class ExecResult:
    stdout: bytes
    stderr: bytes
    exit_code: int


@dataclass(slots=True)
class TaskStats:
    rss_bytes: int = 0
    swap_bytes: int = 0
    cpu_percent: float = 0.0
    cpu_total_ticks: float = 0.0
    timestamp: int = 0  # ns since the epoch


@runtime_checkable
class FingerprintNotifier(Protocol):
    """A driver whose fingerprint can change between the periodic ones (the pot driver:
    a task's start imported an image).  The client hands it a callable that asks for a
    fingerprint of every driver as soon as possible; the driver calls it (from any
    thread, without blocking) when its attributes changed."""

    def notify_fingerprint_changes(self, fingerprint_soon: Callable[[], None]) -> None: ...


class Driver(Protocol):
    name: str

    def fingerprint(self) -> Fingerprint: ...

    def capabilities(self) -> Capabilities: ...

    def validate_config(self, config: dict[str, Any]) -> list[str]:
        """Every problem in a task's ``config`` block, each naming the key."""
        ...

    def start_record(self, cfg: TaskConfig) -> StartRecord:
        """Where ``start_task(cfg)`` will leave its traces; no side effects."""
        ...

    def start_task(self, cfg: TaskConfig) -> TaskHandle: ...

    def wait_task(self, handle: TaskHandle) -> ExitResult: ...

    def stop_task(self, handle: TaskHandle, timeout: float, signal: str) -> None: ...

    def destroy_task(self, handle: TaskHandle, force: bool) -> None: ...

    def recover_task(self, handle: TaskHandle) -> None: ...

    def recover_start(self, record: StartRecord) -> TaskHandle | None:
        """After the client died inside ``start_task``: the re-attached task's handle, or
        None once nothing of that start runs any more."""
        ...

    def signal_task(self, handle: TaskHandle, signal: str) -> None: ...

    def exec_task(self, handle: TaskHandle, cmd: list[str], timeout: float) -> ExecResult: ...

    def task_stats(self, handle: TaskHandle) -> TaskStats: ...


def signal_number(name: str, default: int = signals.SIGINT) -> int:
    """``"SIGTERM"``/``"TERM"``/``"15"`` -> 15; ``""`` -> the default (Nomad: SIGINT)."""
    if not name:
        return int(default)
    if name.isdigit():
        return int(name)
    upper = name.upper()
    try:
        return int(getattr(signals, upper if upper.startswith("SIG") else "SIG" + upper))
    except AttributeError:
        raise ValueError(f"unknown signal {name!r}") from None
