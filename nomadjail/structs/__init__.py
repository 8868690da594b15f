"""The vocabulary of nomadjail: Nomad's objects as Python dataclasses.

Everything here is plain data plus pure helpers (defaults, validation, the JSON
codec).  No I/O, no threads, no imports from the rest of the package, so every
layer can depend on it.

Convention: objects inside the state store are never mutated; a writer makes a
copy (``dataclasses.replace`` or ``copy.deepcopy``), changes it and stores that.
"""

from .alloc import (ZERO_TIME, AllocDeploymentStatus, Allocation, AllocMetric, DesiredTransition,
                    NodeScoreMeta, RescheduleEvent, RescheduleTracker, TaskEvent, TaskState,
                    alloc_name, now_ns, parse_rfc3339, rfc3339)
from .codec import DecodeError, api_key, from_api, to_api
from .consts import (ALL_DATACENTERS, DEFAULT_NAMESPACE, DEFAULT_NODE_POOL, DEFAULT_PRIORITY,
                     GLOBAL_REGION, HOUR, MINUTE, SECOND, TERMINAL_CLIENT_STATUSES,
                     TERMINAL_EVAL_STATUSES, AllocClientStatus, AllocDesiredStatus,
                     DeploymentStatus, EvalStatus, EvalTrigger, JobStatus, JobType,
                     NodeEligibility, NodeStatus, RestartMode, TaskEventType, TaskStateName)
from .deployment import Deployment, DeploymentState
from .errors import BadRequest, Conflict, NomadError, NotFound, PermissionDenied, Unavailable
from .gobool import parse_go_bool
from .durations import format_duration, parse_duration
from .evaluation import Evaluation
from .ids import generate_uuid, short_id
from .job import (Affinity, CheckRestart, Constraint, EphemeralDisk, Job, LogConfig,
                  MigrateStrategy, ReschedulePolicy, RestartPolicy, Service, ServiceCheck, Task,
                  TaskGroup, TaskLifecycle, UpdateStrategy, VolumeMount, VolumeRequest,
                  default_reschedule_policy, default_restart_policy, default_update_strategy)
from .node import (ClientHostVolumeConfig, DrainStrategy, DriverInfo, Node, NodeCpuResources,
                   NodeDiskResources,
                   NodeEvent, NodeMemoryResources, NodeReservedResources, NodeResources,
                   parse_port_ranges)
from .plan import (DeploymentStatusUpdate, DesiredUpdates, Plan, PlanAnnotations, PlanResult)
from .resources import (DEFAULT_CPU_MHZ, DEFAULT_MEMORY_MB, AllocatedCpuResources,
                        AllocatedMemoryResources, AllocatedResources, AllocatedSharedResources,
                        AllocatedTaskResources, DNSConfig, NetworkResource, Port, PortMapping,
                        Resources)
from .summary import JobChildrenSummary, JobSummary, TaskGroupSummary
from .validate import ValidationError
from .versions import parse_version, version_matches

__all__ = [name for name in dir() if not name.startswith("_")]
