"""``job revert <job> <version|tag>``: run an earlier version of a job again.

The version is a number from ``job history`` or the name of a version tag.
The server registers that version's job as the newest version (so a
revert is itself a new version), and the command monitors the evaluation
and the deployment that follow (unless ``-detach``).
"""

from __future__ import annotations

import click

from ..api import ApiError
from .flags import nomad_option
from .format import FULL_ID, SHORT_ID
from .lookup import job_id_by_prefix
from .meta import CommandFailed, Meta, NomadCommand, common_options
from .monitor import follow_evaluation


@click.command("revert", cls=NomadCommand)
@common_options
@nomad_option("-detach", "detach", is_flag=True,
              help="Print the evaluation ID and return instead of monitoring.")
@nomad_option("-verbose", "verbose", is_flag=True, help="Full IDs.")
@click.argument("args", nargs=-1, metavar="<job> <version|tag>")
def job_revert(meta: Meta, args: tuple[str, ...], detach: bool, verbose: bool) -> int:
    """Revert to a prior version of the job."""
    if len(args) != 2:
        raise meta.usage_error("This command takes two arguments: <job> <version|tag>")
    length = FULL_ID if verbose else SHORT_ID
    client = meta.client()
    job_id, namespace = job_id_by_prefix(meta, client, args[0].strip())
    if namespace:
        client.namespace = namespace
    wanted = args[1]
    if wanted.isdigit() and wanted.isascii():
        version = int(wanted)
    else:
        try:
            tagged = client.job_version_by_tag(job_id, wanted)
        except ApiError as err:
            raise CommandFailed(f"Error retrieving job versions: {err}") from None
        if tagged is None:
            raise CommandFailed(f"Error retrieving job versions: version tag {wanted} not "
                                f"found for job {job_id}")
        version = tagged
    try:
        response, _ = client.revert_job(job_id, version)
    except ApiError as err:
        raise CommandFailed(f"Error reverting job: {err}") from None
    return follow_evaluation(meta, client, response.get("EvalID") or "", detach=detach,
                             length=length)
