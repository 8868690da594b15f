"""``var get``: show one variable, or one item of it (``-item``)."""

from __future__ import annotations

import click

from ..api import ApiError, ApiNotFound
from .flags import nomad_option
from .format import go_quote
from .meta import CommandFailed, Meta, NomadCommand, common_options
from .var_format import (
    ERR_VARIABLE_NOT_FOUND,
    check_output_flags,
    refuse_wildcard_namespace,
    render,
)


@click.command("get", cls=NomadCommand)
@common_options
@nomad_option("-item", "item", default="", metavar="KEY",
              help="Print only this item's value (no trailing newline).")
@nomad_option("-out", "out", default=None,
              help="Output format: go-template, hcl, json, none, table.")
@nomad_option("-template", "template", default="", help="Template for -out go-template.")
@click.argument("args", nargs=-1, metavar="<path>")
def var_get(meta: Meta, args: tuple[str, ...], item: str, out: str | None,
            template: str) -> int:
    """Read a variable."""
    if out is None:
        out = "table" if meta.env.stdout_isatty() else "json"
    if len(args) != 1:
        raise meta.usage_error("This command takes one argument: <path>")
    check_output_flags(meta, out, template)
    refuse_wildcard_namespace(meta)
    try:
        var, _ = meta.client().variables().read(args[0])
    except ApiNotFound as err:
        if err.message == "variable not found":
            meta.ui.warn(ERR_VARIABLE_NOT_FOUND)
            return 1
        raise CommandFailed(f"Error retrieving variable: {err}") from None
    except ApiError as err:
        raise CommandFailed(f"Error retrieving variable: {err}") from None
    if item:
        if item not in var.items:
            raise CommandFailed(f"Variable does not contain {go_quote(item)} item")
        click.echo(var.items[item], nl=False)
        return 0
    text = render(meta, var, out, template)
    if text is not None:
        meta.ui.output(text)
    return 0
