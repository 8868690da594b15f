"""The words the scheduler writes into allocations and evaluations.

Spelled exactly as Nomad spells them: ``nomad alloc status`` and API clients
show them to operators, and some tooling matches on them.
"""

from __future__ import annotations

# Allocation.desired_description when the scheduler stops an allocation.
ALLOC_NOT_NEEDED = "alloc not needed due to job update"
ALLOC_MIGRATING = "alloc is being migrated"
ALLOC_UPDATING = "alloc is being updated due to job update"
ALLOC_LOST = "alloc is lost since its node is down"
ALLOC_IN_PLACE = "alloc updating in-place"
ALLOC_NODE_TAINTED = "alloc not needed as node is tainted"
ALLOC_RESCHEDULED = "alloc was rescheduled because it failed"

# Evaluation.status_description of the evaluations a scheduler creates.
BLOCKED_EVAL_MAX_PLAN = "created due to placement conflicts"
BLOCKED_EVAL_FAILED_PLACEMENTS = "created to place remaining allocations"
RESCHEDULING_FOLLOWUP_EVAL = "created for delayed rescheduling"

# Deployment.status_description.
DEPLOYMENT_RUNNING = "Deployment is running"
DEPLOYMENT_RUNNING_NEEDS_PROMOTION = "Deployment is running but requires manual promotion"
DEPLOYMENT_RUNNING_AUTO_PROMOTION = "Deployment is running pending automatic promotion"
DEPLOYMENT_SUCCESSFUL = "Deployment completed successfully"
DEPLOYMENT_STOPPED_JOB = "Cancelled because job is stopped"
DEPLOYMENT_NEWER_JOB = "Cancelled due to newer version of job"

# RescheduleTracker.last_reschedule.
LAST_RESCHEDULE_SUCCESS = "ok"
LAST_RESCHEDULE_FAILED_TO_PLACE = "no placement"
