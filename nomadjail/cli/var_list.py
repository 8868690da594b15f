"""``var list [prefix]``: the variables under a prefix (metadata only, never items)."""

from __future__ import annotations

from typing import Any

import click

from ..api import ApiError
from ..structs import format_duration
from ..structs.variables import VariableMetadata
from .flags import nomad_option
from .format import format_list, format_time_ns, to_json
from .meta import CommandFailed, Meta, NomadCommand, common_options

NO_MATCHING_VARIABLES = "No matching variables found"
ERR_INVALID_LIST_OUT = 'Invalid value for "-out"; valid values are [json, table, terse]'


def format_var_stubs(found: list[VariableMetadata]) -> str:
    if not found:
        return NO_MATCHING_VARIABLES
    rows = ["Namespace|Path|Last Updated"]
    for var in sorted(found, key=lambda v: (v.namespace, v.path)):
        rows.append(f"{var.namespace}|{var.path}|{format_time_ns(var.modify_time)}")
    return format_list(rows)


def _metadata_json(var: VariableMetadata) -> dict[str, Any]:
    """``api.VariableMetadata``'s JSON, in its field order (Lock only when set)."""
    data: dict[str, Any] = {
        "Namespace": var.namespace, "Path": var.path, "CreateIndex": var.create_index,
        "ModifyIndex": var.modify_index, "CreateTime": var.create_time,
        "ModifyTime": var.modify_time}
    if var.lock is not None:
        data["Lock"] = {"TTL": format_duration(var.lock.ttl),
                        "LockDelay": format_duration(var.lock.lock_delay), "ID": var.lock.id}
    return data


def _quiet(found: list[VariableMetadata], namespace: str) -> list[Any]:
    if namespace == "*":
        return [{"Namespace": v.namespace, "Path": v.path} for v in found]
    return [v.path for v in found]


@click.command("list", cls=NomadCommand)
@common_options
@nomad_option("-json", "as_json", is_flag=True, help="Output the variables in JSON format.")
@nomad_option("-q", "quiet", is_flag=True, help="Output the paths only.")
@nomad_option("-out", "out", default="", help="Output format: json, table, terse.")
@nomad_option("-per-page", "per_page", default=0, type=int, help="Variables per page.")
@nomad_option("-page-token", "page_token", default="", help="Where a page starts.")
@click.argument("args", nargs=-1, metavar="[<prefix>]")
def var_list(meta: Meta, args: tuple[str, ...], as_json: bool, quiet: bool, out: str,
             per_page: int, page_token: str) -> int:
    """List variables."""
    if len(args) > 1:
        raise meta.usage_error("This command takes flags and either no arguments or one: "
                               "<prefix>")
    if out not in ("", "json", "table", "terse"):
        raise meta.usage_error(ERR_INVALID_LIST_OUT)
    as_json = as_json or out == "json"
    quiet = quiet or out == "terse"
    if per_page < 0:
        raise meta.usage_error("-per-page must be a positive number")
    prefix = args[0] if args else ""
    try:
        found, query = meta.client().variables().list(prefix, per_page=per_page,
                                                       next_token=page_token)
    except ApiError as err:
        raise CommandFailed(f"Error retrieving vars: {err}") from None
    if as_json:
        items: Any = _quiet(found, meta.namespace) if quiet else [_metadata_json(v) for v in found]
        if per_page > 0:
            items = {"Data": items, "QueryMeta": {"LastIndex": query.last_index,
                                                  "NextToken": query.next_token}}
        meta.ui.output(to_json(items))
        return 0
    if quiet:
        meta.ui.output(format_list(_quiet(found, meta.namespace)) if meta.namespace != "*"
                       else format_list(f"{v.namespace}|{v.path}" for v in found))
    else:
        meta.ui.output(format_var_stubs(found))
    if query.next_token:
        meta.ui.warn(f"Next page token: {query.next_token}")
    return 0
