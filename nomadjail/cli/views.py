"""Renderings of Nomad's objects that several commands share.

Each function returns the text Nomad's CLI prints for the same object
(``formatAllocListStubs``, ``formatAllocMetrics``, ``formatDeployment`` ...),
with ``[bold]``-style colour tags left in for :func:`format.colorize`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..structs import AllocMetric, Deployment, DeploymentState, EvalStatus, Evaluation
from .format import (
    FULL_ID,
    SHORT_ID,
    format_kv,
    format_list,
    format_rfc3339,
    format_time_ns,
    go_quote,
    limit,
    pretty_time_diff,
    status_string,
)


def format_alloc_list_stubs(stubs: Sequence[Mapping[str, Any]], *, verbose: bool, length: int,
                            now: float) -> str:
    """The ``Allocations`` table of ``job status``, ``eval status`` and friends."""
    if not stubs:
        return "No allocations placed"
    if verbose:
        rows = ["ID|Eval ID|Node ID|Node Name|Task Group|Version|Desired|Status|Created|Modified"]
        for stub in stubs:
            rows.append("|".join([
                limit(stub.get("ID", ""), length), limit(stub.get("EvalID", ""), length),
                limit(stub.get("NodeID", ""), length), stub.get("NodeName", ""),
                stub.get("TaskGroup", ""), str(stub.get("JobVersion", 0)),
                stub.get("DesiredStatus", ""), stub.get("ClientStatus", ""),
                format_time_ns(int(stub.get("CreateTime") or 0)),
                format_time_ns(int(stub.get("ModifyTime") or 0))]))
    else:
        rows = ["ID|Node ID|Task Group|Version|Desired|Status|Created|Modified"]
        for stub in stubs:
            rows.append("|".join([
                limit(stub.get("ID", ""), length), limit(stub.get("NodeID", ""), length),
                stub.get("TaskGroup", ""), str(stub.get("JobVersion", 0)),
                stub.get("DesiredStatus", ""), stub.get("ClientStatus", ""),
                pretty_time_diff(int(stub.get("CreateTime") or 0), now),
                pretty_time_diff(int(stub.get("ModifyTime") or 0), now)]))
    return format_list(rows)


def job_type_string(stub: Mapping[str, Any]) -> str:
    text = stub.get("Type", "")
    if stub.get("Periodic"):
        text += "/periodic"
    if stub.get("ParameterizedJob"):
        text += "/parameterized"
    return text


def create_status_list_output(jobs: Sequence[Mapping[str, Any]], *,
                              all_namespaces: bool = False) -> str:
    """The jobs table of ``job status`` without an ID."""
    if all_namespaces:
        rows = ["ID|Namespace|Type|Priority|Status|Submit Date"]
    else:
        rows = ["ID|Type|Priority|Status|Submit Date"]
    for job in jobs:
        cells = [job.get("ID", "")]
        if all_namespaces:
            cells.append((job.get("JobSummary") or {}).get("Namespace") or
                         job.get("Namespace", ""))
        cells += [job_type_string(job), str(job.get("Priority", 0)),
                  status_string(job.get("Status", ""), bool(job.get("Stop"))),
                  format_time_ns(int(job.get("SubmitTime") or 0))]
        rows.append("|".join(cells))
    return format_list(rows)


def format_alloc_metrics(metrics: AllocMetric, *, scores: bool = False, prefix: str = "") -> str:
    """Why placements failed: ``* Constraint "...": 2 nodes excluded by filter`` lines."""
    lines: list[str] = []
    if metrics.nodes_evaluated == 0:
        lines.append(f"{prefix}* No nodes were eligible for evaluation")
    for dc, available in sorted(metrics.nodes_available.items()):
        if available == 0:
            lines.append(f"{prefix}* No nodes are available in datacenter {go_quote(dc)}")
    for node_class, count in sorted(metrics.class_filtered.items()):
        lines.append(f"{prefix}* Class {go_quote(node_class)}: {count} nodes excluded by filter")
    for constraint, count in sorted(metrics.constraint_filtered.items()):
        line = f"{prefix}* Constraint {go_quote(constraint)}: {count} nodes excluded by filter"
        if "missing drivers" in constraint:
            line = f"[red]{line}[reset]"
        lines.append(line)
    if metrics.nodes_exhausted > 0:
        lines.append(f"{prefix}* Resources exhausted on {metrics.nodes_exhausted} nodes")
    for node_class, count in sorted(metrics.class_exhausted.items()):
        lines.append(f"{prefix}* Class {go_quote(node_class)} exhausted on {count} nodes")
    for dimension, count in sorted(metrics.dimension_exhausted.items()):
        lines.append(f"{prefix}* Dimension {go_quote(dimension)} exhausted on {count} nodes")
    for dimension in metrics.quota_exhausted:
        lines.append(f"{prefix}* Quota limit hit {go_quote(dimension)}")
    if scores and metrics.score_meta_data:
        lines.append(format_score_table(metrics))
    elif scores:  # allocations placed before ScoreMetaData: the flat map
        for name, score in metrics.scores.items():
            lines.append(f"{prefix}* Score {go_quote(name)} = {score:f}")
    return "\n".join(lines)


def format_score_table(metrics: AllocMetric) -> str:
    """Nomad's ``alloc status -verbose`` score table: one row per scored node, best
    first, a column per scorer (named by the first row, sorted) and the final score,
    Go's ``%.3g``.  nomadjail's own scorer ``pot-image`` shows as a column like Nomad's."""
    first = metrics.score_meta_data[0]
    names = sorted(first.scores)
    rows = ["Node|" + "".join(f"{name}|" for name in names) + "final score"]
    for meta in metrics.score_meta_data:
        rows.append(f"{meta.node_id}|" + "".join(
            f"{meta.scores.get(name, 0.0):.3g}|" for name in names) + f"{meta.norm_score:.3g}")
    return format_list(rows)


def placement_noun(metrics: AllocMetric) -> str:
    return "allocations" if metrics.coalesced_failures > 0 else "allocation"


def format_deployment_groups(groups: Mapping[str, DeploymentState], length: int) -> str:
    """The ``Deployed`` table: one row per task group."""
    canaries = any(state.desired_canaries > 0 for state in groups.values())
    autorevert = any(state.auto_revert for state in groups.values())
    deadline = any(state.progress_deadline != 0 for state in groups.values())
    header = "Task Group|"
    if autorevert:
        header += "Auto Revert|"
    if canaries:
        header += "Promoted|"
    header += "Desired|"
    if canaries:
        header += "Canaries|"
    header += "Placed|Healthy|Unhealthy"
    if deadline:
        header += "|Progress Deadline"
    rows = [header]
    for name in sorted(groups):
        state = groups[name]
        row = f"{name}|"
        if autorevert:
            row += f"{go_bool(state.auto_revert)}|"
        if canaries:
            row += (f"{go_bool(state.promoted)}|" if state.desired_canaries > 0 else "N/A|")
        row += f"{state.desired_total}|"
        if canaries:
            row += f"{state.desired_canaries}|"
        row += f"{state.placed_allocs}|{state.healthy_allocs}|{state.unhealthy_allocs}"
        if deadline:
            by = format_rfc3339(state.require_progress_by)
            row += f"|{by or 'N/A'}"
        rows.append(row)
    return format_list(rows)


def format_deployment(deployment: Deployment | None, length: int) -> str:
    """``deployment status``'s layout (also printed while ``job run`` monitors one)."""
    if deployment is None:
        return "No deployment found"
    base = format_kv([
        f"ID|{limit(deployment.id, length)}",
        f"Job ID|{deployment.job_id}",
        f"Job Version|{deployment.job_version}",
        f"Status|{deployment.status}",
        f"Description|{deployment.status_description}",
    ])
    if not deployment.task_groups:
        return base
    return base + "\n\n[bold]Deployed[reset]\n" + format_deployment_groups(
        deployment.task_groups, length)


def format_deployments(deployments: Sequence[Deployment], length: int) -> str:
    """The table of ``deployment list`` (and of a prefix that matched several)."""
    if not deployments:
        return "No deployments found"
    rows = ["ID|Job ID|Job Version|Status|Description"]
    for deployment in deployments:
        rows.append("|".join([limit(deployment.id, length), deployment.job_id,
                              str(deployment.job_version), deployment.status,
                              deployment.status_description]))
    return format_list(rows)


def format_job_deployment(deployment: Deployment, length: int) -> str:
    """The ``Latest Deployment`` block of ``job status``."""
    base = format_kv([
        f"ID|{limit(deployment.id, length)}",
        f"Status|{deployment.status}",
        f"Description|{deployment.status_description}",
    ])
    if not deployment.task_groups:
        return base
    return base + "\n\n[bold]Deployed[reset]\n" + format_deployment_groups(
        deployment.task_groups, length)


def format_node_stub_list(nodes: Sequence[Mapping[str, Any]], *, verbose: bool) -> str:
    """The short node table shown when a node prefix matches several nodes."""
    if not nodes:
        return ""
    length = FULL_ID if verbose else SHORT_ID
    rows = ["ID|DC|Name|Class|Drain|Eligibility|Status"]
    for node in nodes:
        rows.append("|".join([
            limit(node.get("ID", ""), length), node.get("Datacenter", ""),
            node.get("Name", ""), node.get("NodeClass", ""), go_bool(bool(node.get("Drain"))),
            node.get("SchedulingEligibility", ""), node.get("Status", "")]))
    return format_list(rows)


def eval_failure_status(evaluation: Evaluation) -> tuple[str, bool]:
    """("true"/"false"/"N/A - In Progress", whether any placement failed)."""
    failures = bool(evaluation.failed_tg_allocs)
    text = go_bool(failures)
    if evaluation.status == EvalStatus.BLOCKED:
        text = "N/A - In Progress"
    return text, failures


def format_eval_list(evals: Sequence[Evaluation], *, verbose: bool) -> str:
    length = FULL_ID if verbose else SHORT_ID
    rows = ["ID|Priority|Triggered By|Job ID|Namespace|Node ID|Status|Placement Failures"]
    for evaluation in evals:
        failures, _ = eval_failure_status(evaluation)
        rows.append("|".join([
            limit(evaluation.id, length), str(evaluation.priority), evaluation.triggered_by,
            evaluation.job_id, evaluation.namespace, limit(evaluation.node_id, length),
            evaluation.status, failures]))
    return format_list(rows)


def go_bool(value: bool) -> str:
    return "true" if value else "false"

