"""The vocabulary of nomadjail: Nomad's objects as Python dataclasses.

Everything here is plain data plus pure helpers (defaults, validation, the JSON
codec).  No I/O, no threads, no imports from the rest of the package, so every
layer can depend on it.

Convention: objects inside the state store are never mutated; a writer makes a
copy (``dataclasses.replace`` or ``copy.deepcopy``), changes it and stores that.
"""

from .alloc import (
    ZERO_TIME,
    Allocation,
    AllocDeploymentStatus,
    AllocMetric,
    DesiredTransition,
    NodeScoreMeta,
    RescheduleEvent,
    RescheduleTracker,
    TaskEvent,
    TaskState,
    alloc_name,
    now_ns,
    parse_rfc3339,
    rfc3339,
)
from .codec import DecodeError, api_key, from_api, to_api
from .constraint import Affinity, Constraint
from .consts import (
    ALL_DATACENTERS,
    DEFAULT_NAMESPACE,
    DEFAULT_NODE_POOL,
    DEFAULT_PRIORITY,
    GLOBAL_REGION,
    HOUR,
    MINUTE,
    SECOND,
    TERMINAL_CLIENT_STATUSES,
    TERMINAL_EVAL_STATUSES,
    AllocClientStatus,
    AllocDesiredStatus,
    DeploymentStatus,
    DrainStatus,
    EvalStatus,
    EvalTrigger,
    JobStatus,
    JobType,
    NodeEligibility,
    NodeStatus,
    RestartMode,
    TaskEventType,
    TaskLifecycleHook,
    TaskStateName,
)
from .deployment import Deployment, DeploymentState
from .durations import format_duration, parse_duration
from .errors import BadRequest, Conflict, NomadError, NotFound, PermissionDenied, Unavailable
from .evaluation import Evaluation
from .gobool import parse_go_bool
from .ids import generate_uuid, short_id
from .job import Job
from .node import (
    ClientHostVolumeConfig,
    DrainMetadata,
    DrainStrategy,
    DriverInfo,
    Node,
    NodeCpuResources,
    NodeDiskResources,
    NodeEvent,
    NodeMemoryResources,
    NodeReservedResources,
    NodeResources,
    parse_port_ranges,
)
from .plan import DeploymentStatusUpdate, DesiredUpdates, Plan, PlanAnnotations, PlanResult
from .policies import (
    MigrateStrategy,
    ReschedulePolicy,
    RestartPolicy,
    UpdateStrategy,
    default_reschedule_policy,
    default_restart_policy,
    default_update_strategy,
)
from .resources import (
    DEFAULT_CPU_MHZ,
    DEFAULT_MEMORY_MB,
    AllocatedCpuResources,
    AllocatedMemoryResources,
    AllocatedResources,
    AllocatedSharedResources,
    AllocatedTaskResources,
    DNSConfig,
    NetworkResource,
    Port,
    PortMapping,
    Resources,
)
from .scaling import ScalingPolicy, ScalingPolicyType, ScalingTarget
from .service_registration import ServiceRegistration
from .services import CheckRestart, Service, ServiceCheck
from .summary import JobChildrenSummary, JobSummary, TaskGroupSummary
from .task import LogConfig, Task, TaskLifecycle, VolumeMount
from .task_group import EphemeralDisk, TaskGroup, VolumeRequest
from .template import ChangeScript, Template, TemplateChangeMode, WaitConfig
from .validate import ValidationError
from .versions import parse_version, version_matches

__all__ = [
    "ALL_DATACENTERS", "Affinity", "AllocClientStatus", "AllocDeploymentStatus",
    "AllocDesiredStatus", "AllocMetric", "AllocatedCpuResources", "AllocatedMemoryResources",
    "AllocatedResources", "AllocatedSharedResources", "AllocatedTaskResources", "Allocation",
    "BadRequest", "ChangeScript", "CheckRestart", "ClientHostVolumeConfig", "Conflict",
    "Constraint",
    "DEFAULT_CPU_MHZ", "DEFAULT_MEMORY_MB", "DEFAULT_NAMESPACE", "DEFAULT_NODE_POOL",
    "DEFAULT_PRIORITY", "DNSConfig", "DecodeError", "Deployment", "DeploymentState",
    "DeploymentStatus", "DeploymentStatusUpdate", "DesiredTransition", "DesiredUpdates",
    "DrainMetadata", "DrainStatus", "DrainStrategy", "DriverInfo", "EphemeralDisk",
    "EvalStatus", "EvalTrigger", "Evaluation",
    "GLOBAL_REGION", "HOUR", "Job", "JobChildrenSummary", "JobStatus", "JobSummary", "JobType",
    "LogConfig", "MINUTE", "MigrateStrategy", "NetworkResource", "Node", "NodeCpuResources",
    "NodeDiskResources", "NodeEligibility", "NodeEvent", "NodeMemoryResources",
    "NodeReservedResources", "NodeResources", "NodeScoreMeta", "NodeStatus", "NomadError",
    "NotFound", "PermissionDenied", "Plan", "PlanAnnotations", "PlanResult", "Port", "PortMapping",
    "RescheduleEvent", "ReschedulePolicy", "RescheduleTracker", "Resources", "RestartMode",
    "RestartPolicy", "SECOND", "ScalingPolicy", "ScalingPolicyType", "ScalingTarget",
    "Service", "ServiceCheck", "ServiceRegistration",
    "TERMINAL_CLIENT_STATUSES",
    "TERMINAL_EVAL_STATUSES", "Task", "TaskEvent", "TaskEventType", "TaskGroup",
    "TaskGroupSummary", "TaskLifecycle", "TaskLifecycleHook", "TaskState", "TaskStateName",
    "Template", "TemplateChangeMode", "WaitConfig",
    "Unavailable", "UpdateStrategy", "ValidationError", "VolumeMount", "VolumeRequest",
    "ZERO_TIME", "alloc_name",
    "api_key", "default_reschedule_policy", "default_restart_policy", "default_update_strategy",
    "format_duration", "from_api", "generate_uuid", "now_ns", "parse_duration", "parse_go_bool",
    "parse_port_ranges", "parse_rfc3339", "parse_version", "rfc3339", "short_id", "to_api",
    "version_matches",
]
