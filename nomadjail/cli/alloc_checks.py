"""``alloc checks [-verbose] [-json] <alloc>``: the latest results of an allocation's
Nomad service checks (services with ``provider = "nomad"``, whose checks the client
runs itself), one key/value block per check, as ``nomad alloc checks`` prints them.

The "Nomad Service Checks" table of ``alloc status`` is :func:`format_checks_table`.
"""

from __future__ import annotations

from collections.abc import Mapping

import click

from ..api import ApiError
from ..structs.check_result import CheckQueryResult, check_result_json
from .flags import nomad_option
from .format import format_kv, format_list, format_time_s, to_json
from .lookup import alloc_stub_by_prefix
from .meta import CommandFailed, Meta, NomadCommand, common_options

GROUP = "(group)"  # what a group service's checks show as their task


def _ordered(results: Mapping[str, CheckQueryResult]) -> list[CheckQueryResult]:
    """A stable order (Nomad prints its map in Go's random order)."""
    return sorted(results.values(), key=lambda r: (r.group, r.task, r.service, r.check, r.id))


def format_check(result: CheckQueryResult) -> str:
    rows = [f"ID|{result.id}", f"Name|{result.check}", f"Group|{result.group}",
            f"Task|{result.task or GROUP}", f"Service|{result.service}",
            f"Status|{result.status}"]
    if result.status_code > 0:
        rows.append(f"StatusCode|{result.status_code}")
    rows += [f"Mode|{result.mode}",
             f"Timestamp|{format_time_s(result.timestamp) or 'N/A'}",
             f"Output|{result.output}"]
    return format_kv(rows)


def format_checks_table(results: Mapping[str, CheckQueryResult]) -> str:
    """``alloc status``'s section: "" when the allocation has no Nomad checks."""
    if not results:
        return ""
    rows = sorted(f"{r.service}|{r.task or GROUP}|{r.check}|{r.mode}|{r.status}"
                  for r in results.values())
    return "Nomad Service Checks:\n" + format_list(["Service|Task|Name|Mode|Status", *rows])


@click.command("checks", cls=NomadCommand)
@common_options
@nomad_option("-verbose", "verbose", is_flag=True, help="Full IDs.")
@nomad_option("-json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.argument("args", nargs=-1, metavar="<allocation>")
def alloc_checks(meta: Meta, args: tuple[str, ...], verbose: bool, as_json: bool) -> int:
    """Outputs service health check status information."""
    if not args:
        raise meta.usage_error("An allocation ID is required")
    if len(args) > 1:
        raise meta.usage_error("This command takes one argument (allocation ID)")
    client = meta.client()
    stub = alloc_stub_by_prefix(meta, client, args[0], verbose=verbose,
                                short_error="Alloc ID must contain at least two characters.")
    try:
        results = client.allocation_checks(stub["ID"],
                                           namespace=stub.get("Namespace") or None)
    except ApiError as err:
        raise CommandFailed(f"Error querying allocation checks: {err}") from None
    if as_json:
        meta.ui.output(to_json({check_id: check_result_json(result)
                                for check_id, result in results.items()}))
        return 0
    meta.ui.output(f"Status of {len(results)} Nomad Service Checks")
    meta.ui.output("")
    for result in _ordered(results):
        meta.ui.output(format_check(result))
        meta.ui.output("")
    return 0

