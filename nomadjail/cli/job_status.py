"""``job status [job]`` (alias ``status``): the jobs table, or one job in Nomad's full layout."""

from __future__ import annotations

from typing import Any

import click

from ..api import ALL_NAMESPACES, ApiClient, ApiError
from ..structs import EvalStatus, Evaluation, Job, format_duration, to_api
from .flags import nomad_option
from .format import (
    FULL_ID,
    SHORT_ID,
    format_kv,
    format_list,
    format_time_ns,
    go_quote,
    limit,
    pretty_time_diff,
    rfc3339_ns,
    status_string,
    to_json,
)
from .lookup import job_id_by_prefix
from .meta import CommandFailed, Meta, NomadCommand, common_options
from .views import (
    create_status_list_output,
    eval_failure_status,
    format_alloc_list_stubs,
    format_alloc_metrics,
    format_job_deployment,
)

MAX_FAILED_TASK_GROUPS = 5


@click.command("status", cls=NomadCommand)
@common_options
@nomad_option("-short", "short", is_flag=True, help="Only the job's basic information.")
@nomad_option("-evals", "evals", is_flag=True, help="Also list the job's evaluations.")
@nomad_option("-all-allocs", "all_allocs", is_flag=True,
              help="Include allocations of earlier instances of the job.")
@nomad_option("-json", "as_json", is_flag=True, help="Print the status as JSON.")
@nomad_option("-verbose", "verbose", is_flag=True, help="Full IDs and times.")
@click.argument("args", nargs=-1, metavar="[<job>]")
def job_status(meta: Meta, args: tuple[str, ...], short: bool, evals: bool, all_allocs: bool,
               as_json: bool, verbose: bool) -> int:
    """Display status information about a job (all jobs without an ID)."""
    if len(args) > 1:
        raise meta.usage_error("This command takes either no arguments or one: <job>")
    length = FULL_ID if verbose else SHORT_ID
    client = meta.client()
    if not args:
        return _list_jobs(meta, client, as_json=as_json, all_allocs=all_allocs)

    job_id, namespace = job_id_by_prefix(meta, client, args[0].strip())
    try:
        job, _ = client.job(job_id, namespace=namespace)
    except ApiError as err:
        raise CommandFailed(f"Error querying job: {err}") from None
    if as_json:
        meta.ui.output(to_json(_json_jobs(client, [(job.id, job.namespace or namespace)],
                                          all_allocs)))
        return 0

    meta.ui.output(format_kv([
        f"ID|{job.id}",
        f"Name|{job.name}",
        f"Submit Date|{format_time_ns(job.submit_time)}",
        f"Type|{job.type}",
        f"Priority|{job.priority}",
        f"Datacenters|{','.join(job.datacenters)}",
        f"Namespace|{job.namespace}",
        f"Node Pool|{job.node_pool or ''}",
        f"Status|{status_string(job.status, job.stop)}",
        "Periodic|false",
        "Parameterized|false",
    ]))
    if short:
        return 0
    _output_job_info(meta, client, job, length=length, verbose=verbose, show_evals=evals,
                     all_allocs=all_allocs)
    return 0


def _list_jobs(meta: Meta, client: ApiClient, *, as_json: bool, all_allocs: bool) -> int:
    try:
        jobs, _ = client.jobs()
    except ApiError as err:
        raise CommandFailed(f"Error querying jobs: {err}") from None
    if not jobs:
        meta.ui.output("No running jobs")
        return 0
    if as_json:
        pairs = [(j["ID"], j.get("Namespace") or "default") for j in jobs]
        meta.ui.output(to_json(_json_jobs(client, pairs, all_allocs)))
        return 0
    meta.ui.output(create_status_list_output(jobs,
                                             all_namespaces=meta.namespace == ALL_NAMESPACES))
    return 0


def _json_jobs(client: ApiClient, jobs: list[tuple[str, str]], all_allocs: bool
               ) -> list[dict[str, Any]]:
    """Nomad's ``job status -json`` shape: Summary, Allocations, LatestDeployment, Evaluations."""
    out = []
    for job_id, namespace in jobs:
        try:
            summary, _ = client.job_summary(job_id, namespace=namespace)
            allocs, _ = client.job_allocations(job_id, all_allocs=all_allocs, namespace=namespace)
            deployment, _ = client.job_latest_deployment(job_id, namespace=namespace)
            evals, _ = client.job_evaluations(job_id, namespace=namespace)
        except ApiError as err:
            raise CommandFailed(f"Error querying job: {err}") from None
        out.append({"Summary": to_api(summary), "Allocations": allocs,
                    "LatestDeployment": to_api(deployment) if deployment else None,
                    "Evaluations": [to_api(e) for e in evals]})
    return out


def _output_job_info(meta: Meta, client: ApiClient, job: Job, *, length: int, verbose: bool,
                     show_evals: bool, all_allocs: bool) -> None:
    ui = meta.ui
    namespace = job.namespace
    try:
        allocs, _ = client.job_allocations(job.id, all_allocs=all_allocs, namespace=namespace)
    except ApiError as err:
        raise CommandFailed(f"Error querying job allocations: {err}") from None
    try:
        evals, _ = client.job_evaluations(job.id, namespace=namespace)
    except ApiError as err:
        raise CommandFailed(f"Error querying job evaluations: {err}") from None
    try:
        deployment, _ = client.job_latest_deployment(job.id, namespace=namespace)
    except ApiError as err:
        raise CommandFailed(f"Error querying latest job deployment: {err}") from None

    _output_summary(meta, client, job)

    rows = ["ID|Priority|Triggered By|Status|Placement Failures"]
    latest_failed: Evaluation | None = None
    blocked = False
    for evaluation in evals:
        failures, _ = eval_failure_status(evaluation)
        rows.append(f"{limit(evaluation.id, length)}|{evaluation.priority}|"
                    f"{evaluation.triggered_by}|{evaluation.status}|{failures}")
        if evaluation.status == EvalStatus.BLOCKED:
            blocked = True
        if evaluation.failed_tg_allocs and (
                latest_failed is None or latest_failed.create_index < evaluation.create_index):
            latest_failed = evaluation
    if verbose or show_evals:
        ui.output(ui.colorize("\n[bold]Evaluations[reset]"))
        ui.output(format_list(rows))
    if blocked and latest_failed is not None:
        _output_failed_placements(meta, latest_failed)
    _output_rescheduling(meta, client, job, allocs, length, verbose)
    if deployment is not None:
        ui.output(ui.colorize("\n[bold]Latest Deployment[reset]"))
        ui.output(ui.colorize(format_job_deployment(deployment, length)))
    ui.output(ui.colorize("\n[bold]Allocations[reset]"))
    ui.output(format_alloc_list_stubs(allocs, verbose=verbose, length=length, now=meta.now()))


def _output_summary(meta: Meta, client: ApiClient, job: Job) -> None:
    ui = meta.ui
    try:
        summary, _ = client.job_summary(job.id, namespace=job.namespace)
    except ApiError as err:
        raise CommandFailed(f"Error querying job summary: {err}") from None
    ui.output(ui.colorize("\n[bold]Summary[reset]"))
    rows = ["Task Group|Queued|Starting|Running|Failed|Complete|Lost|Unknown"]
    for group in sorted(summary.summary):
        s = summary.summary[group]
        rows.append(f"{group}|{s.queued}|{s.starting}|{s.running}|{s.failed}|{s.complete}|"
                    f"{s.lost}|{s.unknown}")
    ui.output(format_list(rows))
    children = summary.children
    if children.pending + children.running + children.dead > 0:
        ui.output(ui.colorize("\n[bold]Children Job Summary[reset]"))
        ui.output(format_list(["Pending|Running|Dead",
                               f"{children.pending}|{children.running}|{children.dead}"]))


def _output_failed_placements(meta: Meta, evaluation: Evaluation) -> None:
    ui = meta.ui
    ui.output(ui.colorize("\n[bold]Placement Failure[reset]"))
    groups = sorted(evaluation.failed_tg_allocs)
    for i, group in enumerate(groups[:MAX_FAILED_TASK_GROUPS]):
        ui.output(f"Task Group {go_quote(group)}:")
        ui.output(ui.colorize(format_alloc_metrics(evaluation.failed_tg_allocs[group],
                                                   prefix="  ")))
        if i != len(groups) - 1:
            ui.output("")
    if len(groups) > MAX_FAILED_TASK_GROUPS:
        ui.output("\nPlacement failures truncated. To see remainder run:\n"
                  f"nomadjail eval status {evaluation.id}")


def _output_rescheduling(meta: Meta, client: ApiClient, job: Job, allocs: list[dict[str, Any]],
                         length: int, verbose: bool) -> None:
    """``Future Rescheduling Attempts``: delayed follow-up evaluations per task group."""
    newest: dict[str, dict[str, Any]] = {}
    for alloc in allocs:
        group = alloc.get("TaskGroup", "")
        if group not in newest or alloc.get("ModifyTime", 0) > newest[group].get("ModifyTime", 0):
            newest[group] = alloc
    followups = {group: a["FollowupEvalID"] for group, a in newest.items()
                 if a.get("FollowupEvalID")}
    if not followups:
        return
    rows: list[str] = []
    now = meta.now()
    for group in sorted(followups):
        try:
            evaluation, _ = client.evaluation(followups[group])
        except ApiError:
            continue
        until_ns = rfc3339_ns(evaluation.wait_until)
        if until_ns == 0 or until_ns / 1e9 < now:
            continue
        when = pretty_time_diff(until_ns, now)
        if not rows:
            rows.append("Task Group|Reschedule Policy|Eval ID|Eval Time" if verbose
                        else "Task Group|Eval ID|Eval Time")
        if verbose:
            rows.append(f"{group}|{_reschedule_policy(job, group)}|"
                        f"{limit(followups[group], length)}|{when}")
        else:
            rows.append(f"{group}|{limit(followups[group], length)}|{when}")
    if len(rows) > 1:
        meta.ui.output(meta.ui.colorize("\n[bold]Future Rescheduling Attempts[reset]"))
        meta.ui.output(format_list(rows))


def _reschedule_policy(job: Job, group_name: str) -> str:
    """api.ReschedulePolicy.String()."""
    group = job.lookup_task_group(group_name)
    policy = group.reschedule_policy if group else None
    if policy is None:
        return ""
    max_delay = format_duration(policy.max_delay or 0)
    if policy.unlimited:
        return f"unlimited with {policy.delay_function} delay, max_delay = {max_delay}"
    return (f"{policy.attempts} in {format_duration(policy.interval or 0)} with "
            f"{policy.delay_function} delay, max_delay = {max_delay}")
