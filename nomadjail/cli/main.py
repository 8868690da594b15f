"""The ``nomadjail`` command: Nomad's CLI verbs, grouped by noun.

::

    nomadjail agent              run an agent (server and/or client)
    nomadjail job    run|plan|status|stop|init|validate|history|inspect|deployments|
                     promote|revert|scale
    nomadjail deployment list|status|promote|fail|pause|resume
    nomadjail alloc  status|logs|stop|signal|checks
    nomadjail node   status|drain|eligibility
    nomadjail eval   status
    nomadjail scaling policy list|info
    nomadjail service list|info|delete
    nomadjail server members
    nomadjail var    init|put|get|list|purge|lock
    nomadjail operator root keyring list|rotate|remove
    nomadjail flavour cook       set up the pot server appliance
    nomadjail version

with Nomad's top-level shortcuts ``run``, ``plan``, ``status``, ``stop``,
``init``, ``validate``, ``inspect`` and ``logs``.  Flags, output and exit
codes follow ``nomad`` (see :mod:`nomadjail.cli.meta` for the common flags
and the exit-code rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata

import click

from .agent import agent
from .alloc_checks import alloc_checks
from .alloc_logs import alloc_logs
from .alloc_signal import alloc_signal
from .alloc_status import alloc_status
from .alloc_stop import alloc_stop
from .deployment_fail import deployment_fail
from .deployment_list import deployment_list
from .deployment_pause import deployment_pause, deployment_resume
from .deployment_promote import deployment_promote
from .deployment_status import deployment_status
from .eval_status import eval_status
from .flavour import flavour
from .job_deployments import job_deployments
from .job_init import job_init
from .job_inspect import job_history, job_inspect
from .job_plan import job_plan
from .job_promote import job_promote
from .job_revert import job_revert
from .job_run import job_run
from .job_scale import job_scale
from .job_status import job_status
from .job_stop import job_stop
from .job_validate import job_validate
from .meta import PROG, CliEnv, NomadCommand, NomadGroup, RootGroup
from .node_drain import node_drain, node_eligibility
from .node_status import node_status
from .operator_root_keyring import root as operator_root
from .scaling_policy import scaling_policy_info, scaling_policy_list
from .server_members import server_members
from .service_delete import service_delete
from .service_info import service_info
from .service_list import service_list
from .var_get import var_get
from .var_init import var_init
from .var_list import var_list
from .var_lock import var_lock
from .var_purge import var_purge
from .var_put import var_put


def version_string() -> str:
    try:
        return metadata.version("nomadjail")
    except metadata.PackageNotFoundError:
        return "unknown"


@click.group(PROG, cls=RootGroup)
def cli() -> None:
    """nomadjail: HashiCorp Nomad's API and CLI, FreeBSD-first (jobs in pot jails)."""


@cli.group("job", cls=NomadGroup)
def job() -> None:
    """Interact with jobs."""


@cli.group("alloc", cls=NomadGroup)
def alloc() -> None:
    """Interact with allocations."""


@cli.group("node", cls=NomadGroup)
def node() -> None:
    """Interact with client nodes."""


@cli.group("eval", cls=NomadGroup)
def eval_() -> None:
    """Interact with evaluations."""


@cli.group("deployment", cls=NomadGroup)
def deployment() -> None:
    """Interact with deployments."""


@cli.group("service", cls=NomadGroup)
def service() -> None:
    """Interact with registered services."""


@cli.group("scaling", cls=NomadGroup)
def scaling() -> None:
    """Interact with autoscaling policies."""


@scaling.group("policy", cls=NomadGroup)
def scaling_policy() -> None:
    """Interact with autoscaling policies."""


@cli.group("server", cls=NomadGroup)
def server() -> None:
    """Interact with servers."""


@cli.group("var", cls=NomadGroup)
def var() -> None:
    """Interact with variables."""


@cli.group("operator", cls=NomadGroup)
def operator() -> None:
    """Provides cluster-level tools for Nomad operators."""


@cli.command("version", cls=NomadCommand)
def version() -> int:
    """Print the nomadjail version."""
    click.echo(f"{PROG} v{version_string()}")
    return 0


for command in (job_run, job_plan, job_status, job_stop, job_init, job_validate, job_history,
                job_inspect, job_deployments, job_promote, job_revert, job_scale):
    job.add_command(command)
for command in (deployment_list, deployment_status, deployment_promote, deployment_fail,
                deployment_pause, deployment_resume):
    deployment.add_command(command)
for command in (alloc_status, alloc_logs, alloc_stop, alloc_signal, alloc_checks):
    alloc.add_command(command)
for command in (node_status, node_drain, node_eligibility):
    node.add_command(command)
eval_.add_command(eval_status)
server.add_command(server_members)
for command in (scaling_policy_list, scaling_policy_info):
    scaling_policy.add_command(command)
for command in (service_list, service_info, service_delete):
    service.add_command(command)

for command in (var_init, var_put, var_get, var_list, var_purge, var_lock):
    var.add_command(command)
operator.add_command(operator_root)
for alias, command in (("run", job_run), ("plan", job_plan), ("status", job_status),
                       ("stop", job_stop), ("init", job_init), ("validate", job_validate),
                       ("inspect", job_inspect), ("logs", alloc_logs)):
    cli.add_command(command, alias)

cli.add_command(agent)
cli.add_command(flavour)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point; exits with the command's status."""
    cli.main(args=list(argv) if argv is not None else None, prog_name=PROG, obj=CliEnv())
