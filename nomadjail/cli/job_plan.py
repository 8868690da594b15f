"""``job plan <path>`` (alias ``plan``): a scheduler dry run of a job file.

Exit status, as Nomad's: 0 nothing would be created or destroyed, 1
allocations would be created or destroyed, 255 the plan could not be made
(usage errors included).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from ..api import ApiError
from ..structs import AllocMetric, JobType, format_duration, from_api
from .flags import nomad_option
from .format import format_list, format_time_s, go_quote, rfc3339_ns, to_json
from .jobdiff import format_job_diff
from .jobfile import job_file_options, read_job_file
from .meta import CommandFailed, Meta, NomadCommand, common_options
from .views import format_alloc_metrics, placement_noun

PLAN_ERROR = 255
PREEMPTION_DISPLAY_THRESHOLD = 10

JOB_MODIFY_INDEX_HELP = """To submit the job with version verification run:

nomadjail job run -check-index {index} {args}{path}

When running the job with the check-index flag, the job will only be run if the
job modify index given matches the server-side version. If the index has
changed, another user has modified the job and the plan's results are
potentially invalid."""


@click.command("plan", cls=NomadCommand, usage_exit_code=PLAN_ERROR)
@common_options
@job_file_options
@nomad_option("-diff", "diff", is_flag=True, default=True,
              help="Show the diff against the running job (default true; -diff=false hides it).")
@nomad_option("-verbose", "verbose", is_flag=True, help="A more detailed diff.")
@nomad_option("-json-output", "json_output", is_flag=True, help="Print the plan result as JSON.")
@click.argument("args", nargs=-1, metavar="<path>")
def job_plan(meta: Meta, args: tuple[str, ...], json_input: bool, var_flags: tuple[str, ...],
             var_files: tuple[str, ...], diff: bool, verbose: bool, json_output: bool) -> int:
    """Dry-run a job update to determine its effects."""
    if len(args) != 1:
        raise meta.usage_error("This command takes one argument: <path>", PLAN_ERROR)
    path = args[0]
    try:
        job_file = read_job_file(path, json_input=json_input, var_flags=var_flags,
                                 var_files=var_files, environ=meta.env.environ)
    except CommandFailed as failed:
        raise CommandFailed(failed.message, PLAN_ERROR) from None
    job = job_file.job
    client = meta.client()
    if job.region:
        client.region = job.region
    if job.namespace:
        client.namespace = job.namespace
    try:
        response, _ = client.plan_job(job, diff=True)
    except ApiError as err:
        raise CommandFailed(f"Error during plan: {err}", PLAN_ERROR) from None

    if json_output:
        meta.ui.output(to_json(response))
        return plan_exit_code(response)

    run_args = "".join(f'-var="{v}" ' for v in var_flags)
    run_args += "".join(f'-var-file="{f}" ' for f in var_files)
    if meta.namespace:
        run_args += f'-namespace="{meta.namespace}" '
    code = output_planned_job(meta, response, job_type=job.type or JobType.SERVICE, diff=diff,
                              verbose=verbose)
    index = int(response.get("JobModifyIndex") or 0)
    meta.ui.output(meta.ui.colorize(
        f"[reset][bold]Job Modify Index: {index}[reset]\n"
        + JOB_MODIFY_INDEX_HELP.format(index=index, args=run_args, path=path)))
    return code


def plan_exit_code(response: Mapping[str, Any]) -> int:
    """Nomad's rule: 1 if any group would place, stop, migrate, replace or canary."""
    job_diff = response.get("Diff")
    if isinstance(job_diff, dict) and job_diff.get("Type") == "None":
        return 0
    updates = ((response.get("Annotations") or {}).get("DesiredTGUpdates")) or {}
    for counts in updates.values():
        counts = counts or {}
        if sum(int(counts.get(k) or 0) for k in
               ("Stop", "Place", "Migrate", "DestructiveUpdate", "Canary")) > 0:
            return 1
    return 0


def output_planned_job(meta: Meta, response: Mapping[str, Any], *, job_type: str, diff: bool,
                       verbose: bool) -> int:
    ui = meta.ui
    job_diff = response.get("Diff")
    if diff and isinstance(job_diff, dict):
        ui.output(ui.colorize(format_job_diff(job_diff, verbose).strip()) + "\n")
    ui.output(ui.colorize("[bold]Scheduler dry-run:[reset]"))
    ui.output(ui.colorize(format_dry_run(meta, response, job_type)))
    ui.output("")
    warnings = response.get("Warnings") or ""
    if warnings:
        ui.output(ui.colorize(f"[bold][yellow]Job Warnings:\n{warnings}[reset]\n"))
    preempted = (response.get("Annotations") or {}).get("PreemptedAllocs") or []
    if preempted:
        _output_preemptions(meta, preempted)
    return plan_exit_code(response)


def format_dry_run(meta: Meta, response: Mapping[str, Any], job_type: str) -> str:
    rolling = None
    for evaluation in response.get("CreatedEvals") or []:
        if (evaluation or {}).get("TriggeredBy") == "rolling-update":
            rolling = evaluation
    failed: dict[str, AllocMetric] = {
        group: from_api(AllocMetric, metric)
        for group, metric in (response.get("FailedTGAllocs") or {}).items() if metric}
    if not failed:
        out = "[bold][green]- All tasks successfully allocated.[reset]\n"
    else:
        if job_type == JobType.SYSTEM:
            out = "[bold][yellow]- WARNING: Failed to place allocations on all nodes.[reset]\n"
        else:
            out = "[bold][yellow]- WARNING: Failed to place all allocations.[reset]\n"
        for group in sorted(failed):
            metrics = failed[group]
            out += (f"  [yellow]Task Group {go_quote(group)} (failed to place "
                    f"{metrics.coalesced_failures + 1} {placement_noun(metrics)}):\n[reset]")
            out += f"[yellow]{format_alloc_metrics(metrics, prefix='    ')}[reset]\n\n"
        if rolling is None:
            out = out.removesuffix("\n")
    if rolling is not None:
        out += ("[green]- Rolling update, next evaluation will be in "
                f"{format_duration(int(rolling.get('Wait') or 0))}.\n")
    out += format_pot_image_cache(response)
    next_launch = rfc3339_ns(str(response.get("NextPeriodicLaunch") or ""))
    if next_launch:
        now = meta.now()
        out += (f"[green]- If submitted now, next periodic launch would be at "
                f"{format_time_s(next_launch / 1e9)} "
                f"({format_duration(int(next_launch / 1e9 - now) * 1_000_000_000)} from now).\n")
    return out.removesuffix("\n")


# nomadjail's own annotation (see nomadjail.scheduler.pot_images); Nomad's servers never
# send it, so a plan against Nomad prints nothing more.
POT_IMAGE_CACHE_KEY = "NomadjailPotImageCached"


def format_pot_image_cache(response: Mapping[str, Any]) -> str:
    """Per task group running pot images: how many of its placements land on nodes that
    already hold the image (they start at once; the others first import it)."""
    annotations = response.get("Annotations") or {}
    cached = annotations.get(POT_IMAGE_CACHE_KEY) or {}
    updates = annotations.get("DesiredTGUpdates") or {}
    out = ""
    for group in sorted(cached):
        placed = int((updates.get(group) or {}).get("Place") or 0)
        if placed == 0:
            continue
        hits = int(cached[group] or 0)
        out += (f"[green]- Task Group {go_quote(group)}: {hits} of {placed} "
                f"{'placement' if placed == 1 else 'placements'} on nodes that hold "
                "the pot image.[reset]\n")
    return out


def _output_preemptions(meta: Meta, preempted: list[Mapping[str, Any]]) -> None:
    ui = meta.ui
    ui.output(ui.colorize("[bold][yellow]Preemptions:\n[reset]"))
    if len(preempted) < PREEMPTION_DISPLAY_THRESHOLD:
        rows = ["Alloc ID|Job ID|Task Group"]
        rows += [f"{a.get('ID', '')}|{a.get('JobID', '')}|{a.get('TaskGroup', '')}"
                 for a in preempted]
        ui.output(format_list(rows))
        return
    by_type: dict[str, dict[tuple[str, str], int]] = {}
    for alloc in preempted:
        key = (alloc.get("JobID", ""), alloc.get("Namespace", ""))
        counts = by_type.setdefault(alloc.get("JobType", ""), {})
        counts[key] = counts.get(key, 0) + 1
    jobs = sum(len(counts) for counts in by_type.values())
    if jobs < PREEMPTION_DISPLAY_THRESHOLD:
        rows = ["Job ID|Namespace|Job Type|Preemptions"]
        for job_type, counts in sorted(by_type.items()):
            for (job_id, namespace), count in sorted(counts.items()):
                rows.append(f"{job_id}|{namespace}|{job_type}|{count}")
    else:
        rows = ["Job Type|Preemptions"]
        for job_type, counts in sorted(by_type.items()):
            rows.append(f"{job_type}|{sum(counts.values())}")
    ui.output(format_list(rows))
