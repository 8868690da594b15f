"""``service delete <name> <id>``: remove one registration by hand."""

from __future__ import annotations

import click

from ..api import ApiError
from .meta import CommandFailed, Meta, NomadCommand, common_options


@click.command("delete", cls=NomadCommand)
@common_options
@click.argument("args", nargs=-1, metavar="<service_name> <service_id>")
def service_delete(meta: Meta, args: tuple[str, ...]) -> int:
    """Deregister a registered service.

    Removes one instance, named by its service and its ID (``service info -verbose``
    shows IDs).  Meant for an instance nothing else will remove: a client
    deregisters its own instances when their tasks stop."""
    if len(args) != 2:
        raise meta.usage_error("This command takes two arguments: <service_name> and "
                               "<service_id>")
    try:
        meta.client().delete_service_registration(args[0], args[1])
    except ApiError as err:
        raise CommandFailed(f"Error deleting service registration: {err}") from None
    meta.ui.output("Successfully deleted service registration")
    return 0
