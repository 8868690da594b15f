"""The list views Nomad returns (JobListStub, AllocListStub, NodeListStub).

List endpoints return these trimmed shapes rather than whole objects, exactly
as Nomad's ``Stub()`` methods build them, so API clients that decode into
Nomad's ``api`` structs see the fields they expect.
"""

from __future__ import annotations

from typing import Any

from ..structs import Allocation, Job, JobSummary, Node, to_api
from ..structs.addresses import split_raft_address


def job_stub(job: Job, summary: JobSummary | None, *, with_meta: bool = False) -> dict[str, Any]:
    stub = {
        "ID": job.id,
        "ParentID": job.parent_id,
        "Name": job.name,
        "Namespace": job.namespace,
        "Datacenters": list(job.datacenters),
        "NodePool": job.node_pool,
        "Multiregion": None,
        "Type": job.type,
        "Priority": job.priority,
        "Periodic": False,
        "ParameterizedJob": False,
        "Stop": job.stop,
        "Status": job.status,
        "StatusDescription": job.status_description,
        "JobSummary": to_api(summary) if summary else None,
        "CreateIndex": job.create_index,
        "ModifyIndex": job.modify_index,
        "JobModifyIndex": job.job_modify_index,
        "SubmitTime": job.submit_time,
    }
    if with_meta:
        stub["Meta"] = dict(job.meta)
    return stub


def alloc_stub(alloc: Allocation, *, resources: bool = False,
               task_states: bool = True) -> dict[str, Any]:
    job = alloc.job
    return {
        "ID": alloc.id,
        "EvalID": alloc.eval_id,
        "Name": alloc.name,
        "Namespace": alloc.namespace,
        "NodeID": alloc.node_id,
        "NodeName": alloc.node_name,
        "JobID": alloc.job_id,
        "JobType": job.type if job else "",
        "JobVersion": job.version if job else 0,
        "TaskGroup": alloc.task_group,
        "AllocatedResources": to_api(alloc.allocated_resources) if resources else None,
        "DesiredStatus": alloc.desired_status,
        "DesiredDescription": alloc.desired_description,
        "ClientStatus": alloc.client_status,
        "ClientDescription": alloc.client_description,
        "DesiredTransition": to_api(alloc.desired_transition),
        "TaskStates": to_api(alloc.task_states) if task_states else None,
        "DeploymentStatus": to_api(alloc.deployment_status),
        "FollowupEvalID": alloc.followup_eval_id,
        "NextAllocation": alloc.next_allocation,
        "RescheduleTracker": to_api(alloc.reschedule_tracker),
        "PreemptedAllocations": None,
        "PreemptedByAllocation": "",
        "CreateIndex": alloc.create_index,
        "ModifyIndex": alloc.modify_index,
        "CreateTime": alloc.create_time,
        "ModifyTime": alloc.modify_time,
    }


def node_stub(node: Node, *, resources: bool = False, os: bool = False) -> dict[str, Any]:
    address = split_raft_address(node.http_addr)[0] if node.http_addr else ""  # bare, as Nomad
    stub = {
        "Address": address,
        "ID": node.id,
        "Attributes": {"os.name": node.attributes.get("os.name", "")} if os else None,
        "Datacenter": node.datacenter,
        "Name": node.name,
        "NodeClass": node.node_class,
        "NodePool": node.node_pool,
        "Version": node.attributes.get("nomad.version", ""),
        "Drain": node.drain_strategy is not None,
        "SchedulingEligibility": node.scheduling_eligibility,
        "Status": node.status,
        "StatusDescription": node.status_description,
        "Drivers": to_api(node.drivers),
        "HostVolumes": None,
        "NodeResources": to_api(node.node_resources) if resources else None,
        "ReservedResources": to_api(node.reserved_resources) if resources else None,
        "LastDrain": to_api(node.last_drain),
        "CreateIndex": node.create_index,
        "ModifyIndex": node.modify_index,
    }
    return stub


def public_node(node: Node) -> dict[str, Any]:
    """A node as GET /v1/node/:id shows it: everything but the secret."""
    data = to_api(node)
    data["SecretID"] = ""
    return data


def public_alloc(alloc: Allocation) -> dict[str, Any]:
    return to_api(alloc)
