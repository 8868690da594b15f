"""``server members``: the servers of the cluster, which one leads, and their versions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from ..api import ApiClient, ApiError
from .flags import nomad_option
from .format import columnize, to_json
from .meta import CommandFailed, Meta, NomadCommand, common_options
from .views import go_bool


def _member_sort_key(member: Mapping[str, Any]) -> tuple[str, str, str]:
    tags = member.get("Tags") or {}
    return (tags.get("region", ""), tags.get("dc", ""), member.get("Name", ""))


def region_leaders(client: ApiClient, members: list[Mapping[str, Any]]
                   ) -> tuple[dict[str, str], list[str]]:
    """The leader address of every region the members belong to, and any lookup errors."""
    regions = sorted({(m.get("Tags") or {}).get("region", "") for m in members
                      if m.get("Status") != "left"})
    leaders: dict[str, str] = {}
    errors: list[str] = []
    for region in regions:
        try:
            leaders[region] = client.status_leader(region or None)
        except ApiError as err:
            errors.append(f'Region "{region}": {err}')
    return leaders, errors


def is_leader(member: Mapping[str, Any], leaders: Mapping[str, str]) -> bool:
    tags = member.get("Tags") or {}
    address = f"{member.get('Addr', '')}:{tags.get('port', '')}"
    if ":" in str(member.get("Addr", "")):  # IPv6: net.JoinHostPort brackets it
        address = f"[{member.get('Addr', '')}]:{tags.get('port', '')}"
    region = tags.get("region", "")
    return region in leaders and leaders[region] == address


@click.command("members", cls=NomadCommand)
@common_options
@nomad_option("-detailed", "detailed", is_flag=True, help="Same as -verbose.")
@nomad_option("-verbose", "verbose", is_flag=True, help="Also protocol versions and all tags.")
@nomad_option("-json", "as_json", is_flag=True, help="Print the members as JSON.")
@click.argument("args", nargs=-1, metavar="")
def server_members(meta: Meta, args: tuple[str, ...], detailed: bool, verbose: bool,
                   as_json: bool) -> int:
    """Display a list of the known servers and their status."""
    if args:
        raise meta.usage_error("This command takes no arguments")
    verbose = verbose or detailed
    client = meta.client()
    try:
        response = client.agent_members()
    except ApiError as err:
        raise CommandFailed(f"Error querying servers: {err}") from None
    members = sorted(response.get("Members") or [], key=_member_sort_key)
    leaders, errors = region_leaders(client, members)
    if as_json:
        for member in members:
            member.setdefault("Tags", {})["Leader"] = go_bool(is_leader(member, leaders))
        meta.ui.output(to_json(members))
        return 0
    if verbose:
        rows = ["Name|Address|Port|Status|Leader|Protocol|Raft Version|Build|Datacenter|Region|"
                "Tags"]
    else:
        rows = ["Name|Address|Port|Status|Leader|Raft Version|Build|Datacenter|Region"]
    for member in members:
        tags = member.get("Tags") or {}
        cells = [member.get("Name", ""), member.get("Addr", ""), str(member.get("Port", 0)),
                 member.get("Status", ""), go_bool(is_leader(member, leaders))]
        if verbose:
            cells.append(str(member.get("ProtocolCur", 0)))
        cells += [tags.get("raft_vsn", ""), tags.get("build", ""), tags.get("dc", ""),
                  tags.get("region", "")]
        if verbose:
            cells.append(",".join(f"{k}={v}" for k, v in tags.items()))
        rows.append("|".join(cells))
    meta.ui.output(columnize(rows))
    if errors:
        meta.ui.output("")
        meta.ui.warn("Error determining leaders: " + "; ".join(errors))
        return 1
    return 0
