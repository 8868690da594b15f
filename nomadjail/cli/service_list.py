"""``service list``: the services registered with Nomad's own service discovery."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import click

from ..api import ALL_NAMESPACES, ApiError
from .flags import nomad_option
from .format import format_list, to_json
from .meta import CommandFailed, Meta, NomadCommand, common_options

NO_REGISTRATIONS = "No service registrations found"


def format_service_list(command_namespace: str,
                        namespaces: Sequence[Mapping[str, Any]]) -> str:
    """Nomad's table: one row per service name (namespaces, names and tags sorted), with a
    Namespace column when the command asked for every namespace (``-namespace=*``)."""
    wildcard = command_namespace == ALL_NAMESPACES
    rows = ["Service Name|Namespace|Tags" if wildcard else "Service Name|Tags"]
    for stub in sorted(namespaces, key=lambda item: item.get("Namespace") or ""):
        services = stub.get("Services") or []
        for service in sorted(services, key=lambda item: item.get("ServiceName") or ""):
            tags = ",".join(sorted(service.get("Tags") or []))
            namespace = f"|{stub.get('Namespace') or ''}" if wildcard else ""
            rows.append(f"{service.get('ServiceName') or ''}{namespace}|[{tags}]")
    return format_list(rows)


@click.command("list", cls=NomadCommand)
@common_options
@nomad_option("-json", "as_json", is_flag=True, help="Output the services in JSON format.")
@click.argument("args", nargs=-1, metavar="")
def service_list(meta: Meta, args: tuple[str, ...], as_json: bool) -> int:
    """Display all registered Nomad services."""
    if args:
        raise meta.usage_error("This command takes no arguments")
    try:
        found, _ = meta.client().services()
    except ApiError as err:
        raise CommandFailed(f"Error listing service registrations: {err}") from None
    if not found:
        meta.ui.output(NO_REGISTRATIONS)
        return 0
    if as_json:
        meta.ui.output(to_json(found))
        return 0
    meta.ui.output(format_service_list(meta.namespace, found))
    return 0
