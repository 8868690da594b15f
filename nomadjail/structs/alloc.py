"""An allocation: one placed instance of a task group, and what became of it.

The server owns the *desired* side (``desired_status``, resources, job
version); the client owns the *client* side (``client_status``, task states
and their events).  Each side only ever updates its own fields.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass

from .codec import field
from .consts import TERMINAL_CLIENT_STATUSES, AllocClientStatus, AllocDesiredStatus, TaskStateName
from .job import Job
from .resources import AllocatedResources
from .task_group import TaskGroup

ZERO_TIME = "0001-01-01T00:00:00Z"


def now_ns() -> int:
    return time.time_ns()


def rfc3339(ns: int) -> str:
    """Go's time.Time JSON form (RFC 3339, nanoseconds, UTC)."""
    if ns <= 0:
        return ZERO_TIME
    seconds, frac = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    fraction = f".{frac:09d}".rstrip("0").rstrip(".")
    return f"{stamp}{fraction}Z"


def parse_rfc3339(text: str) -> int:
    """Nanoseconds since the epoch for a Go time string; 0 for the zero time or ""."""
    if not text or text.startswith("0001-01-01"):
        return 0
    main, _, rest = text.partition(".")
    if rest:
        # Only the fraction's digits: a zone such as "-07:00" follows them.
        digits = rest[:len(rest) - len(rest.lstrip("0123456789"))]
        zone = rest[len(digits):]
    else:
        digits, zone = "", main[19:]
        main = main[:19]
    seconds = calendar.timegm(time.strptime(main[:19], "%Y-%m-%dT%H:%M:%S"))
    if zone not in ("Z", ""):
        sign = 1 if zone[0] == "+" else -1
        hours, minutes = zone[1:].split(":")
        seconds -= sign * (int(hours) * 3600 + int(minutes) * 60)
    return seconds * 1_000_000_000 + int(digits.ljust(9, "0")[:9] or 0)


@dataclass(slots=True)
class TaskEvent:
    type: str = ""
    time: int = 0  # ns since the epoch
    message: str = ""
    display_message: str = ""
    details: dict[str, str] = field(default_factory=dict)
    fails_task: bool = False
    restart_reason: str = ""
    setup_error: str = ""
    driver_error: str = ""
    driver_message: str = ""
    exit_code: int = 0
    signal: int = 0
    kill_reason: str = ""
    kill_timeout: int = 0  # ns
    kill_error: str = ""
    start_delay: int = 0  # ns
    validation_error: str = ""
    task_signal: str = ""
    task_signal_reason: str = ""
    download_error: str = ""


@dataclass(slots=True)
class TaskState:
    state: TaskStateName = TaskStateName.PENDING
    failed: bool = False
    restarts: int = 0
    last_restart: str = ZERO_TIME
    started_at: str = ZERO_TIME
    finished_at: str = ZERO_TIME
    events: list[TaskEvent] = field(default_factory=list)


@dataclass(slots=True)
class RescheduleEvent:
    reschedule_time: int = 0  # ns since the epoch
    prev_alloc_id: str = field("", key="PrevAllocID")
    prev_node_id: str = field("", key="PrevNodeID")
    delay: int = 0  # ns


@dataclass(slots=True)
class RescheduleTracker:
    events: list[RescheduleEvent] = field(default_factory=list)
    # "ok" when the last reschedule placed a replacement, "no placement" when it
    # found no node (the failed allocation then stays eligible); "" before any.
    last_reschedule: str = ""


@dataclass(slots=True)
class DesiredTransition:
    migrate: bool | None = None
    reschedule: bool | None = None
    force_reschedule: bool | None = None
    no_shutdown_delay: bool | None = None


@dataclass(slots=True)
class AllocDeploymentStatus:
    healthy: bool | None = None
    timestamp: str = ZERO_TIME
    canary: bool = False
    modify_index: int = 0


@dataclass(slots=True)
class NodeScoreMeta:
    """One scored node: each scorer's value and the normalised final score."""

    node_id: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    norm_score: float = 0.0


@dataclass(slots=True)
class AllocMetric:
    """Why the scheduler placed (or could not place) an allocation."""

    nodes_evaluated: int = 0
    nodes_filtered: int = 0
    nodes_in_pool: int = 0
    nodes_available: dict[str, int] = field(default_factory=dict)
    class_filtered: dict[str, int] = field(default_factory=dict)
    constraint_filtered: dict[str, int] = field(default_factory=dict)
    nodes_exhausted: int = 0
    class_exhausted: dict[str, int] = field(default_factory=dict)
    dimension_exhausted: dict[str, int] = field(default_factory=dict)
    quota_exhausted: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    allocation_time: int = 0  # ns
    coalesced_failures: int = 0
    score_meta_data: list[NodeScoreMeta] = field(default_factory=list)  # best first


@dataclass(slots=True)
class Allocation:
    id: str = ""
    namespace: str = ""
    eval_id: str = ""
    name: str = ""  # "<job>.<group>[<index>]"
    node_id: str = ""
    node_name: str = ""
    job_id: str = ""
    job: Job | None = None
    task_group: str = ""
    allocated_resources: AllocatedResources | None = None
    metrics: AllocMetric | None = None
    desired_status: AllocDesiredStatus = AllocDesiredStatus.RUN
    desired_description: str = ""
    desired_transition: DesiredTransition = field(default_factory=DesiredTransition)
    client_status: AllocClientStatus = AllocClientStatus.PENDING
    client_description: str = ""
    task_states: dict[str, TaskState] = field(default_factory=dict)
    deployment_id: str = ""
    deployment_status: AllocDeploymentStatus | None = None
    followup_eval_id: str = ""
    previous_allocation: str = ""
    next_allocation: str = ""
    reschedule_tracker: RescheduleTracker | None = None
    create_index: int = 0
    modify_index: int = 0
    alloc_modify_index: int = 0
    create_time: int = 0  # ns since the epoch
    modify_time: int = 0  # ns since the epoch

    @property
    def index(self) -> int:
        """The ``N`` in ``job.group[N]``; NOMAD_ALLOC_INDEX."""
        start = self.name.rfind("[")
        try:
            return int(self.name[start + 1:-1])
        except ValueError:
            return 0

    @property
    def short_id(self) -> str:
        return self.id[:8]

    def lookup_task_group(self) -> TaskGroup | None:
        return self.job.lookup_task_group(self.task_group) if self.job else None

    def terminal_status(self) -> bool:
        """Stopped by the server or finished on the client: it holds no resources."""
        return self.server_terminal() or self.client_terminal()

    def server_terminal(self) -> bool:
        return self.desired_status in (AllocDesiredStatus.STOP, AllocDesiredStatus.EVICT)

    def client_terminal(self) -> bool:
        return self.client_status in TERMINAL_CLIENT_STATUSES


def alloc_name(job_id: str, group: str, index: int) -> str:
    return f"{job_id}.{group}[{index}]"
