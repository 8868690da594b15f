"""``deployment status [<deployment>]``: one deployment's progress, per task group.

::

    ID          = e2e8b1b9
    Job ID      = web
    Job Version = 3
    Status      = running
    Description = Deployment is running but requires manual promotion

    Deployed
    Task Group  Promoted  Desired  Canaries  Placed  Healthy  Unhealthy  Progress Deadline
    web         false     3        1         1       1        0          2024-01-08T10:45:02Z

Without an argument it lists the deployments (as ``deployment list``).
``-monitor`` follows the deployment until it ends (see
:mod:`nomadjail.cli.deployment_monitor`); its exit status is 0 when the
deployment succeeds or waits for a promotion, 1 otherwise.
"""

from __future__ import annotations

import click

from ..api import ApiError
from ..structs import parse_duration, to_api
from .deployment_monitor import DeploymentMonitor
from .flags import nomad_option
from .format import FULL_ID, SHORT_ID, format_time_s, limit, to_json
from .lookup import deployment_by_prefix
from .meta import CommandFailed, Meta, NomadCommand, common_options
from .views import format_deployment, format_deployments

DEFAULT_MONITOR_WAIT = "2s"


def parse_wait(text: str) -> float:
    """Seconds of ``-wait`` (a Go duration), failing as Go's flag package does."""
    try:
        ns = parse_duration(text)
    except ValueError:
        ns = -1
    if ns < 0:
        raise click.UsageError(f'invalid value "{text}" for flag -wait: parse error')
    return ns / 1e9


@click.command("status", cls=NomadCommand)
@common_options
@nomad_option("-verbose", "verbose", is_flag=True,
              help="Full IDs (with -monitor: the deployment's allocations too).")
@nomad_option("-json", "as_json", is_flag=True, help="Print the deployment as JSON.")
@nomad_option("-monitor", "monitor", is_flag=True,
              help="Follow the deployment until it ends.")
@nomad_option("-wait", "wait", default=DEFAULT_MONITOR_WAIT, metavar="DURATION",
              help="With -monitor: how long each poll may wait for a change (default 2s).")
@click.argument("args", nargs=-1, metavar="[<deployment>]")
def deployment_status(meta: Meta, args: tuple[str, ...], verbose: bool, as_json: bool,
                      monitor: bool, wait: str) -> int:
    """Display the status of a deployment."""
    wait_s = parse_wait(wait)
    if monitor and as_json:
        raise CommandFailed("The monitor flag cannot be used with the '-json' or '-t' flags")
    if len(args) > 1:
        raise meta.usage_error("This command takes one argument: <deployment id>")
    length = FULL_ID if verbose else SHORT_ID
    client = meta.client()
    if not args:
        try:
            deployments, _ = client.deployments()
        except ApiError as err:
            raise CommandFailed(f"Error retrieving deployments: {err}") from None
        meta.ui.output(format_deployments(deployments, length))
        return 0

    deployment = deployment_by_prefix(client, args[0], verbose=verbose)
    if as_json:
        meta.ui.output(to_json(to_api(deployment)))
        return 0
    if not monitor:
        meta.ui.output(meta.ui.colorize(format_deployment(deployment, length)))
        return 0
    meta.ui.output(f'{format_time_s(meta.now())}: Monitoring deployment '
                   f'"{limit(deployment.id, length)}"')
    outcome = DeploymentMonitor(meta, client, meta.ui, verbose=verbose, wait=wait_s or None,
                                namespace=deployment.namespace or None).monitor(deployment.id)
    return 0 if outcome.succeeded() else 1
