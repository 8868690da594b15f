"""``job inspect <job>`` (alias ``inspect``) and ``job history <job>``: a job's stored versions."""

from __future__ import annotations

import click

from ..api import ApiClient, ApiError
from ..structs import Job, to_api
from .flags import nomad_option
from .format import columnize, format_time_ns, to_json
from .jobdiff import format_job_diff
from .lookup import job_id_by_prefix
from .meta import CommandFailed, Meta, NomadCommand, common_options


def _parse_version(text: str) -> int:
    if not text.isdigit():
        raise CommandFailed(f'Error parsing version value "{text}": strconv.ParseUint: '
                            f'parsing "{text}": invalid syntax')
    return int(text)


def _job_at_version(client: ApiClient, job_id: str, namespace: str, version: int | None) -> Job:
    if version is None:
        job, _ = client.job(job_id, namespace=namespace)
        return job
    versions, _, _ = client.job_versions(job_id, namespace=namespace)
    for candidate in versions:
        if candidate.version == version:
            return candidate
    raise CommandFailed(f'Error inspecting job: job "{job_id}" with version {version} '
                        "couldn't be found")


@click.command("inspect", cls=NomadCommand)
@common_options
@nomad_option("-json", "as_json", is_flag=True, help="Print the job itself, without the "
              '{"Job": ...} envelope.')
@nomad_option("-version", "version", default="", metavar="N", help="Show version N.")
@click.argument("args", nargs=-1, metavar="<job>")
def job_inspect(meta: Meta, args: tuple[str, ...], as_json: bool, version: str) -> int:
    """Inspect a submitted job (as JSON)."""
    client = meta.client()
    if not args and as_json:
        try:
            jobs, _ = client.jobs()
        except ApiError as err:
            raise CommandFailed(f"Error querying jobs: {err}") from None
        meta.ui.output(to_json(jobs))
        return 0
    if len(args) != 1:
        raise meta.usage_error("This command takes one argument: <job>")
    job_id, namespace = job_id_by_prefix(meta, client, args[0].strip())
    wanted = _parse_version(version) if version else None
    try:
        job = _job_at_version(client, job_id, namespace, wanted)
    except ApiError as err:
        raise CommandFailed(f"Error inspecting job: {err}") from None
    meta.ui.output(to_json(to_api(job) if as_json else {"Job": to_api(job)}))
    return 0


@click.command("history", cls=NomadCommand)
@common_options
@nomad_option("-p", "diffs", is_flag=True, help="Show the diff between each version and the "
              "previous one.")
@nomad_option("-full", "full", is_flag=True, help="Show each version's full job as JSON.")
@nomad_option("-json", "as_json", is_flag=True, help="Print the versions as JSON.")
@nomad_option("-version", "version", default="", metavar="N", help="Only version N.")
@click.argument("args", nargs=-1, metavar="<job>")
def job_history(meta: Meta, args: tuple[str, ...], diffs: bool, full: bool, as_json: bool,
                version: str) -> int:
    """Display all tracked versions of a job."""
    if len(args) != 1:
        raise meta.usage_error("This command takes one argument: <job>")
    if as_json and (diffs or full):
        raise CommandFailed("-json and -t are exclusive with -p and -full")
    client = meta.client()
    job_id, namespace = job_id_by_prefix(meta, client, args[0].strip())
    try:
        versions, version_diffs, _ = client.job_versions(job_id, diffs=diffs,
                                                         namespace=namespace)
    except ApiError as err:
        raise CommandFailed(f"Error retrieving job versions: {err}") from None

    def diff_of(i: int) -> dict | None:
        return version_diffs[i] if i < len(version_diffs) else None

    if version:
        wanted = _parse_version(version)
        chosen = [(i, v) for i, v in enumerate(versions) if v.version == wanted]
        if as_json:
            meta.ui.output(to_json(to_api(chosen[-1][1]) if chosen else None))
            return 0
        if not chosen:
            raise CommandFailed("Error printing job history for non-existing job or job "
                                "version")
        i, job = chosen[-1]
        meta.ui.output(meta.ui.colorize(format_job_version(job, diff_of(i), full)))
        return 0
    if as_json:
        meta.ui.output(to_json([to_api(v) for v in versions]))
        return 0
    blocks = [meta.ui.colorize(format_job_version(v, diff_of(i), full))
              for i, v in enumerate(versions)]
    meta.ui.output("\n\n".join(blocks))
    return 0


def format_job_version(job: Job, diff: dict | None, full: bool) -> str:
    rows = [f"Version|{job.version}",
            f"Stable|{'true' if job.stable else 'false'}",
            f"Submit Date|{format_time_ns(job.submit_time)}"]
    if diff is not None and diff.get("Type") != "None":
        rows.append(f"Diff|\n{format_job_diff(diff, False).strip()}")
    if full:
        rows.append(f"Full|JSON Job:\n{to_json(to_api(job))}")
    return columnize(rows, glue=" = ", trim=False)
