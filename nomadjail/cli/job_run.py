"""``job run <path>`` (alias ``run``): submit a job and watch it being placed.

Exit status, as Nomad's: 0 placed (and running, or its deployment
successful), 2 the scheduler could not place every allocation, 1 any other
error.  ``-detach`` returns right after the registration.
"""

from __future__ import annotations

import re

import click

from ..api import ApiError
from ..structs import to_api
from .flags import nomad_option
from .format import FULL_ID, SHORT_ID, to_json
from .jobfile import job_file_options, read_job_file
from .meta import CommandFailed, Meta, NomadCommand, common_options
from .monitor import EvalMonitor

ENFORCE_INDEX_PREFIX = "Enforcing job modify index"
_ENFORCE_INDEX_RE = re.compile(r"\((Enforcing job modify index.*)\)")


def parse_check_index(text: str) -> tuple[int, bool]:
    """(index, enforce?) from ``-check-index``; an empty value enforces nothing."""
    if text == "":
        return 0, False
    if not text.isdigit():
        raise CommandFailed(f'Error parsing check-index value "{text}": strconv.ParseUint: '
                            f'parsing "{text}": invalid syntax')
    return int(text), True


@click.command("run", cls=NomadCommand)
@common_options
@job_file_options
@nomad_option("-detach", "detach", is_flag=True,
              help="Return after submitting; print the evaluation ID.")
@nomad_option("-verbose", "verbose", is_flag=True, help="Full IDs.")
@nomad_option("-check-index", "check_index", default="", metavar="INDEX",
              help="Only register if the job's modify index is INDEX (0: only if new).")
@nomad_option("-output", "output", is_flag=True,
              help="Print the JSON that would be submitted, without submitting it.")
@click.argument("args", nargs=-1, metavar="<path>")
def job_run(meta: Meta, args: tuple[str, ...], json_input: bool, var_flags: tuple[str, ...],
            var_files: tuple[str, ...], detach: bool, verbose: bool, check_index: str,
            output: bool) -> int:
    """Run a new job or update an existing job."""
    if len(args) != 1:
        raise meta.usage_error("This command takes one argument: <path>")
    job_file = read_job_file(args[0], json_input=json_input, var_flags=var_flags,
                             var_files=var_files, environ=meta.env.environ)
    job = job_file.job
    client = meta.client()
    if job.region:
        client.region = job.region
    if job.namespace:
        client.namespace = job.namespace

    if output:
        meta.ui.output(to_json({"Job": to_api(job)}))
        return 0

    index, enforce = parse_check_index(check_index)
    try:
        response, _ = client.register_job(job, enforce_index=enforce, job_modify_index=index,
                                          submission=job_file.submission())
    except ApiError as err:
        if ENFORCE_INDEX_PREFIX in str(err):
            match = _ENFORCE_INDEX_RE.search(str(err))
            if match:
                raise CommandFailed(f"{match.group(1)}\nJob not updated") from None
        raise CommandFailed(f"Error submitting job: {err}") from None

    warnings = response.get("Warnings") or ""
    if warnings:
        meta.ui.output(meta.ui.colorize(f"[bold][yellow]Job Warnings:\n{warnings}[reset]\n"))

    eval_id = response.get("EvalID") or ""
    if detach or not eval_id:
        meta.ui.output("Job registration successful")
        if eval_id:
            meta.ui.output(f"Evaluation ID: {eval_id}")
        return 0

    length = FULL_ID if verbose else SHORT_ID
    return EvalMonitor(meta, client, length, wait_for_running=True).monitor(eval_id)
