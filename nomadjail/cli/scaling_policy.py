"""``scaling policy list`` and ``scaling policy info <id>``: the ``scaling``
blocks of registered jobs, as Nomad's commands show them."""

from __future__ import annotations

from collections.abc import Mapping

import click

from ..api import ApiError
from .flags import nomad_option
from .format import format_kv, format_list, to_json
from .meta import CommandFailed, Meta, NomadCommand, common_options

_TARGET_ORDER = ("namespace", "job", "group")


def format_target(target: Mapping[str, str]) -> str:
    """``Namespace:default,Job:web,Group:g``: the three well-known keys first,
    any others after them in sorted order (as Nomad prints a target)."""
    known = {k.lower(): f"{k}:{v}" for k, v in target.items() if k.lower() in _TARGET_ORDER}
    others = sorted(f"{k}:{v}" for k, v in target.items() if k.lower() not in _TARGET_ORDER)
    return ",".join([known.get(key, "") for key in _TARGET_ORDER] + others)


@click.command("list", cls=NomadCommand)
@common_options
@nomad_option("-job", "job", default="", help="Only the policies of this job.")
@nomad_option("-type", "policy_type", default="", help="Only policies of this type.")
@nomad_option("-json", "as_json", is_flag=True, help="Output the policies in JSON format.")
@click.argument("args", nargs=-1, metavar="")
def scaling_policy_list(meta: Meta, args: tuple[str, ...], job: str, policy_type: str,
                        as_json: bool) -> int:
    """List the scaling policies of registered jobs."""
    if args:
        raise meta.usage_error("This command takes no arguments")
    try:
        policies, _ = meta.client().scaling_policies(job=job, policy_type=policy_type)
    except ApiError as err:
        raise CommandFailed(f"Error listing scaling policies: {err}") from None
    if as_json:
        meta.ui.output(to_json(policies))
        return 0
    if not policies:
        meta.ui.output("No policies found")
        return 0
    rows = ["ID|Enabled|Type|Target"]
    rows += [f"{p['ID']}|{str(p['Enabled']).lower()}|{p['Type']}|"
             f"{format_target(p.get('Target') or {})}" for p in policies]
    meta.ui.output(format_list(rows))
    return 0


@click.command("info", cls=NomadCommand)
@common_options
@nomad_option("-json", "as_json", is_flag=True, help="Output the policy in JSON format.")
@click.argument("args", nargs=-1, metavar="<policy_id>")
def scaling_policy_info(meta: Meta, args: tuple[str, ...], as_json: bool) -> int:
    """Display an individual scaling policy (by ID or unique ID prefix)."""
    if len(args) != 1:
        raise meta.usage_error("This command takes one argument: <policy_id>")
    wanted = args[0]
    client = meta.client()
    try:
        stubs, _ = client.scaling_policies()
        matches = [p["ID"] for p in stubs if p["ID"].startswith(wanted)]
        if len(matches) > 1 and wanted not in matches:
            raise CommandFailed("Prefix matched multiple scaling policies\n\n"
                                + format_list(["ID", *sorted(matches)]))
        if not matches:
            raise CommandFailed(f'No scaling policies with prefix or id "{wanted}" found')
        policy, _ = client.scaling_policy(wanted if wanted in matches else matches[0])
    except ApiError as err:
        raise CommandFailed(f"Error querying scaling policy: {err}") from None
    if as_json:
        meta.ui.output(to_json(policy))
        return 0
    meta.ui.output(format_kv([
        f"ID|{policy['ID']}",
        f"Enabled|{str(policy['Enabled']).lower()}",
        f"Target|{format_target(policy.get('Target') or {})}",
        f"Min|{policy['Min']}",
        f"Max|{policy['Max']}",
    ]))
    meta.ui.output("\nPolicy")
    meta.ui.output(to_json(policy.get("Policy") or {}))
    return 0
