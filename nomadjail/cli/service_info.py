"""``service info <name>``: the registered instances of one service."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import click

from ..api import ApiClient, ApiError
from ..structs import ServiceRegistration, to_api
from ..structs.addresses import join_host_port
from .flags import nomad_option
from .format import SHORT_ID, format_kv, format_list, go_quote, limit, to_json
from .meta import PROG, CommandFailed, Meta, NomadCommand, common_options
from .service_list import NO_REGISTRATIONS, format_service_list


class Ambiguous(Exception):
    """The name given is a prefix of several services."""

    def __init__(self, candidates: Sequence[Mapping[str, Any]]):
        super().__init__("Prefix matched multiple services")
        self.candidates = candidates


def service_by_prefix(client: ApiClient, prefix: str, namespace: str,
                      filter_expr: str = "") -> tuple[str, str]:
    """(namespace, service name) of the service ``prefix`` names, as Nomad's
    getServiceByPrefix decides: the only service the prefix matches, else the one it
    matches exactly; "" as namespace when that is left to the command's namespace.

    Raises :class:`Ambiguous`, :class:`LookupError` (nothing matches) or ApiError."""
    stubs, _ = client.services(prefix, filter_expr=filter_expr, namespace=namespace or None)
    missing = LookupError(f"No service registrations with prefix {go_quote(prefix)} found")
    if not stubs:
        raise missing
    if len(stubs) == 1:
        services = stubs[0].get("Services") or []
        names = [s.get("ServiceName") or "" for s in services]
        if not names:
            raise missing
        if len(names) == 1:
            return stubs[0].get("Namespace") or "", names[0]
        if prefix in names:
            return stubs[0].get("Namespace") or "", prefix
        raise Ambiguous(stubs)
    exact = sum(1 for stub in stubs for s in stub.get("Services") or []
                if s.get("ServiceName") == prefix)
    if exact == 0:
        raise missing
    if exact > 1:
        raise Ambiguous(stubs)
    return "", prefix


def _by_job(found: Sequence[ServiceRegistration]) -> list[ServiceRegistration]:
    """Grouped by job ID, jobs sorted, instances in the order the server sent them
    (several jobs may register the same service name)."""
    order = sorted({reg.job_id for reg in found})
    return [reg for job_id in order for reg in found if reg.job_id == job_id]


def format_instances(found: Sequence[ServiceRegistration]) -> str:
    rows = ["Job ID|Address|Tags|Node ID|Alloc ID"]
    for reg in _by_job(found):
        address = join_host_port(reg.address, reg.port) if reg.port else reg.address
        rows.append(f"{reg.job_id}|{address}|[{','.join(reg.tags)}]|"
                    f"{limit(reg.node_id, SHORT_ID)}|{limit(reg.alloc_id, SHORT_ID)}")
    return format_list(rows)


def format_instances_verbose(found: Sequence[ServiceRegistration]) -> list[str]:
    """One key/value block per instance."""
    return [format_kv([
        f"ID|{reg.id}",
        f"Service Name|{reg.service_name}",
        f"Namespace|{reg.namespace}",
        f"Job ID|{reg.job_id}",
        f"Alloc ID|{reg.alloc_id}",
        f"Node ID|{reg.node_id}",
        f"Datacenter|{reg.datacenter}",
        f"Address|{reg.address}:{reg.port}",
        f"Tags|[{','.join(reg.tags)}]",
    ]) for reg in _by_job(found)]


@click.command("info", cls=NomadCommand)
@common_options
@nomad_option("-verbose", "verbose", is_flag=True, help="Display full information.")
@nomad_option("-per-page", "per_page", type=int, default=0,
              help="How many results to show per page.")
@nomad_option("-page-token", "page_token", default="", help="Where to start pagination.")
@nomad_option("-filter", "filter_expr", default="",
              help="An expression used to filter query results.")
@nomad_option("-json", "as_json", is_flag=True, help="Output the service in JSON format.")
@click.argument("args", nargs=-1, metavar="<service_name>")
def service_info(meta: Meta, args: tuple[str, ...], verbose: bool, per_page: int,
                 page_token: str, filter_expr: str, as_json: bool) -> int:
    """Display an individual Nomad service registration."""
    if len(args) != 1:
        raise meta.usage_error("This command takes one argument: <service_name>")
    client = meta.client()
    try:
        namespace, name = service_by_prefix(client, args[0], meta.namespace, filter_expr)
        found, query = client.service(name, per_page=per_page, next_token=page_token,
                                      filter_expr=filter_expr, namespace=namespace or None)
    except Ambiguous as err:
        raise CommandFailed(f"Prefix matched multiple services\n\n"
                            f"{format_service_list(meta.namespace, err.candidates)}") from None
    except (ApiError, LookupError) as err:
        raise CommandFailed(f"Error listing service registrations: {err}") from None
    if not found:
        meta.ui.output(NO_REGISTRATIONS)
        return 0
    if as_json:
        meta.ui.output(to_json([to_api(reg) for reg in found]))
        return 0
    if verbose:
        for block in format_instances_verbose(found):
            meta.ui.output(block)
            meta.ui.output()
    else:
        meta.ui.output(format_instances(found))
    if query.next_token:
        meta.ui.output("\nResults have been paginated. To get the next page run: \n\n"
                       f"{_next_page_command(meta, args[0], verbose, per_page, query.next_token)}"
                       " ")
    return 0


def _next_page_command(meta: Meta, name: str, verbose: bool, per_page: int,
                       token: str) -> str:
    """The command line that shows the next page (Nomad repeats its own os.Args with the
    new token; this one is rebuilt from the flags that matter)."""
    parts = [PROG, "service", "info"]
    if meta.namespace:
        parts.append(f"-namespace={meta.namespace}")
    if verbose:
        parts.append("-verbose")
    parts += [f"-per-page={per_page}", f"-page-token={token}", name]
    return " ".join(parts)
