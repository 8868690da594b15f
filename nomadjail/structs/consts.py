"""The status words and defaults Nomad uses, spelled exactly as on the wire.

They are ``StrEnum`` members, so they compare equal to the plain strings that
come back from JSON and serialise as those strings.
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


class JobType(StrEnum):
    SERVICE = "service"
    BATCH = "batch"
    SYSTEM = "system"
    SYSBATCH = "sysbatch"


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DEAD = "dead"


class AllocDesiredStatus(StrEnum):
    RUN = "run"
    STOP = "stop"
    EVICT = "evict"


class AllocClientStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    LOST = "lost"
    UNKNOWN = "unknown"


TERMINAL_CLIENT_STATUSES = frozenset({AllocClientStatus.COMPLETE, AllocClientStatus.FAILED,
                                      AllocClientStatus.LOST})


class TaskStateName(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DEAD = "dead"


class EvalStatus(StrEnum):
    BLOCKED = "blocked"
    PENDING = "pending"
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELED = "canceled"


TERMINAL_EVAL_STATUSES = frozenset({EvalStatus.COMPLETE, EvalStatus.FAILED, EvalStatus.CANCELED})


class EvalTrigger(StrEnum):
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


class NodeStatus(StrEnum):
    INITIALIZING = "initializing"
    READY = "ready"
    DOWN = "down"
    DISCONNECTED = "disconnected"


class NodeEligibility(StrEnum):
    ELIGIBLE = "eligible"
    INELIGIBLE = "ineligible"


class DeploymentStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    FAILED = "failed"
    SUCCESSFUL = "successful"
    CANCELLED = "cancelled"
    PENDING = "pending"
    BLOCKED = "blocked"
    UNBLOCKING = "unblocking"


class RestartMode(StrEnum):
    FAIL = "fail"
    DELAY = "delay"


class TaskEventType(StrEnum):
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
    RESTORE_FAILED = "Failed Restoring Task"
    MAIN_DEAD = "Main Tasks Dead"
    WAITING_SHUTDOWN_DELAY = "Waiting for shutdown delay"
    SKIPPING_SHUTDOWN_DELAY = "Skipping shutdown delay"
