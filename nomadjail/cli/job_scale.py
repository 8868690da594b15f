"""``job scale <job> [<group>] <count>``: change one group's count.

The group may be left out when the job has only one.  The server registers
the job again with the new count (a new version), refusing a count outside the
group's ``scaling`` bounds; the command then monitors the evaluation (unless
``-detach``), as ``nomad job scale`` does.
"""

from __future__ import annotations

import click

from ..api import ApiError
from .flags import nomad_option
from .format import FULL_ID, SHORT_ID
from .lookup import job_id_by_prefix
from .meta import CommandFailed, Meta, NomadCommand, common_options
from .monitor import follow_evaluation

CLI_MESSAGE = "submitted using the Nomad CLI"


@click.command("scale", cls=NomadCommand)
@common_options
@nomad_option("-detach", "detach", is_flag=True,
              help="Print the evaluation ID and return instead of monitoring.")
@nomad_option("-verbose", "verbose", is_flag=True, help="Full IDs.")
@click.argument("args", nargs=-1, metavar="<job> [<group>] <count>")
def job_scale(meta: Meta, args: tuple[str, ...], detach: bool, verbose: bool) -> int:
    """Change the count of a job's task group."""
    if len(args) not in (2, 3):
        raise meta.usage_error("Command requires at least two arguments and no more than three")
    group = args[1] if len(args) == 3 else ""
    count_text = args[-1]
    if not (count_text.isascii() and count_text.lstrip("-").isdigit()):
        raise CommandFailed("Failed to convert count string to int")
    count = int(count_text)
    length = FULL_ID if verbose else SHORT_ID
    client = meta.client()
    job_id, namespace = job_id_by_prefix(meta, client, args[0].strip())
    if namespace:
        client.namespace = namespace
    try:
        job, _ = client.job(job_id)
    except ApiError as err:
        raise CommandFailed(f"Error querying job: {err}") from None
    if not group:
        if len(job.task_groups) != 1:
            raise CommandFailed("Group name required")
        group = job.task_groups[0].name
    try:
        response, _ = client.scale_job(job_id, group, count, message=CLI_MESSAGE)
    except ApiError as err:
        raise CommandFailed(f"Error submitting scaling request: {err}") from None
    if response.get("Warnings"):
        meta.ui.output(f"Job Warnings:\n{response['Warnings']}")
    return follow_evaluation(meta, client, response.get("EvalID") or "", detach=detach,
                             length=length)
