"""The status words and defaults Nomad uses, spelled exactly as on the wire.

Every value Nomad's ``nomad/structs`` defines for these is here.  They are
``StrEnum`` members, so they compare equal to the plain strings that come back
from JSON and serialise as those strings; the codec decodes a status field's
JSON string to its member and refuses a value that is not one (a 400 naming the
field and the allowed values).
"""

from __future__ import annotations

from enum import StrEnum

GLOBAL_REGION = "global"
DEFAULT_NAMESPACE = "default"
DEFAULT_NODE_POOL = "default"
DEFAULT_PRIORITY = 50
MIN_PRIORITY = 1
MAX_PRIORITY = 100
ALL_DATACENTERS = "*"

SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE


class WireEnum(StrEnum):
    """A ``StrEnum`` that also *reads* as its wire string.

    ``repr`` is the plain string's, so a message that quotes a value
    (``f"status {status!r}"``) says ``'running'`` whether the value was decoded
    from JSON or written in code, as it did when decoded values were plain strings.
    """

    def __repr__(self) -> str:
        return repr(self.value)


class JobType(WireEnum):
    SERVICE = "service"
    BATCH = "batch"
    SYSTEM = "system"
    SYSBATCH = "sysbatch"


class JobStatus(WireEnum):
    PENDING = "pending"
    RUNNING = "running"
    DEAD = "dead"


class AllocDesiredStatus(WireEnum):
    RUN = "run"
    STOP = "stop"
    EVICT = "evict"


class AllocClientStatus(WireEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    LOST = "lost"
    UNKNOWN = "unknown"


TERMINAL_CLIENT_STATUSES = frozenset({AllocClientStatus.COMPLETE, AllocClientStatus.FAILED,
                                      AllocClientStatus.LOST})


class TaskStateName(WireEnum):
    PENDING = "pending"
    RUNNING = "running"
    DEAD = "dead"


class EvalStatus(WireEnum):
    BLOCKED = "blocked"
    PENDING = "pending"
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELED = "canceled"


TERMINAL_EVAL_STATUSES = frozenset({EvalStatus.COMPLETE, EvalStatus.FAILED, EvalStatus.CANCELED})


class EvalTrigger(WireEnum):
    JOB_REGISTER = "job-register"
    JOB_DEREGISTER = "job-deregister"
    PERIODIC_JOB = "periodic-job"
    NODE_DRAIN = "node-drain"
    NODE_UPDATE = "node-update"
    ALLOC_STOP = "alloc-stop"
    SCHEDULED = "scheduled"
    ROLLING_UPDATE = "rolling-update"
    DEPLOYMENT_WATCHER = "deployment-watcher"
    FAILED_FOLLOW_UP = "failed-follow-up"
    MAX_PLAN_ATTEMPTS = "max-plan-attempts"
    RETRY_FAILED_ALLOC = "alloc-failure"
    QUEUED_ALLOCS = "queued-allocs"
    PREEMPTION = "preemption"
    JOB_SCALING = "job-scaling"
    RECONNECT = "reconnect"
    MAX_DISCONNECT_TIMEOUT = "max-disconnect-timeout"
    ALLOC_RESCHEDULE = "alloc-reschedule"


class NodeStatus(WireEnum):
    INITIALIZING = "initializing"
    READY = "ready"
    DOWN = "down"
    DISCONNECTED = "disconnected"


class NodeEligibility(WireEnum):
    ELIGIBLE = "eligible"
    INELIGIBLE = "ineligible"


class DrainStatus(WireEnum):
    """How a node's last drain went (Nomad's DrainStatus, in Node.LastDrain)."""

    DRAINING = "draining"
    COMPLETE = "complete"
    CANCELED = "canceled"


class DeploymentStatus(WireEnum):
    RUNNING = "running"
    PAUSED = "paused"
    FAILED = "failed"
    SUCCESSFUL = "successful"
    CANCELLED = "cancelled"
    INITIALIZING = "initializing"  # multiregion: waiting for the other regions
    PENDING = "pending"
    BLOCKED = "blocked"
    UNBLOCKING = "unblocking"


class TaskLifecycleHook(WireEnum):
    """When a task runs relative to the group's main tasks (a main task has no hook)."""

    PRESTART = "prestart"
    POSTSTART = "poststart"
    POSTSTOP = "poststop"


class RestartMode(WireEnum):
    FAIL = "fail"
    DELAY = "delay"


class TaskEventType(WireEnum):
    """The ``Type`` of a task event, as ``nomad alloc status`` prints it."""

    SETUP = "Task Setup"
    SETUP_FAILURE = "Setup Failure"
    DRIVER_FAILURE = "Driver Failure"
    DRIVER_MESSAGE = "Driver"
    RECEIVED = "Received"
    FAILED_VALIDATION = "Failed Validation"
    STARTED = "Started"
    TERMINATED = "Terminated"
    KILLING = "Killing"
    KILLED = "Killed"
    RESTARTING = "Restarting"
    NOT_RESTARTING = "Not Restarting"
    SIBLING_FAILED = "Sibling Task Failed"
    SIGNALING = "Signaling"
    RESTART_SIGNAL = "Restart Signaled"
    LEADER_DEAD = "Leader Task Dead"
    BUILDING_TASK_DIR = "Building Task Directory"
    CLIENT_RECONNECTED = "Reconnected"
    HOOK_FAILED = "Task hook failed"
    HOOK_MESSAGE = "Task hook message"
    ALLOC_UNHEALTHY = "Alloc Unhealthy"
    RESTORE_FAILED = "Failed Restoring Task"
    MAIN_DEAD = "Main Tasks Dead"
    WAITING_SHUTDOWN_DELAY = "Waiting for shutdown delay"
    SKIPPING_SHUTDOWN_DELAY = "Skipping shutdown delay"
    TEMPLATE = "Template"  # the template manager's own events ("Missing: ...")
    DOWNLOADING_ARTIFACTS = "Downloading Artifacts"
    ARTIFACT_DOWNLOAD_FAILED = "Failed Artifact Download"
