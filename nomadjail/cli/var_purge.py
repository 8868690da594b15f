"""``var purge <path>``: remove a variable (``-check-index``: only that version)."""

from __future__ import annotations

import click

from ..api import ApiError
from ..api.variables import ApiCASConflict
from .flags import nomad_option
from .format import go_quote
from .meta import CommandFailed, Meta, NomadCommand, common_options
from .var_format import cas_conflict_message, refuse_wildcard_namespace


@click.command("purge", cls=NomadCommand)
@common_options
@nomad_option("-check-index", "check_index", default="", metavar="INDEX",
              help="Only purge if the variable's modify index is this.")
@click.argument("args", nargs=-1, metavar="<path>")
def var_purge(meta: Meta, args: tuple[str, ...], check_index: str) -> int:
    """Purge a variable."""
    if len(args) != 1:
        raise meta.usage_error("This command takes one argument: <path>")
    if check_index and not check_index.isdigit():
        raise CommandFailed(f"Error parsing check-index value {check_index!r}: not an "
                            "unsigned integer")
    refuse_wildcard_namespace(meta)
    path = args[0].strip().strip("/")
    try:
        meta.client().variables().delete(path, cas=int(check_index) if check_index else None)
    except ApiCASConflict as err:
        meta.ui.error(cas_conflict_message(err))
        return 1
    except ApiError as err:
        raise CommandFailed(f"Error purging variable: {err}") from None
    meta.ui.output(f"Successfully purged variable {go_quote(path)}!")
    return 0
