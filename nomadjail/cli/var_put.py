"""``var put``: create or update a variable, from ``key=value`` arguments and/or a
variable specification (``@file.json``, ``@file.hcl``, ``-`` for stdin).

As in Nomad, a put is a check-and-set unless ``-force`` is given: without
``-check-index`` (or a ``modify_index`` in the specification) the variable must not
exist yet, so an existing one is never overwritten by accident.
"""

from __future__ import annotations

import os
import re
import sys

import click

from ..api import ApiError
from ..api.variables import ApiCASConflict
from ..structs.variables import Variable
from .flags import nomad_option
from .format import go_quote
from .meta import CommandFailed, Meta, NomadCommand, common_options
from .var_format import (
    ERR_INVALID_IN,
    cas_conflict_message,
    check_output_flags,
    parse_spec,
    refuse_wildcard_namespace,
    render,
)

_INVALID_IDENTIFIER = re.compile(r"[^_\w]")


def _is_file_ref(arg: str) -> bool:
    return arg.startswith("@")


def _read_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as err:
        raise CommandFailed(f"Error reading {path!r}: {err.strerror}") from None


def _format_for(path: str) -> str:
    ext = os.path.splitext(path)[1]
    if ext in (".json", ".hcl"):
        return ext[1:]
    raise CommandFailed(f"Unable to determine format of {path}; Use the -in flag to specify "
                        "it.")


class _Stdin:
    """stdin may be read once: for the specification or for one value."""

    def __init__(self) -> None:
        self.used = False

    def read(self) -> str:
        if self.used:
            raise CommandFailed("Failed to parse K=V data: stdin already consumed")
        self.used = True
        return sys.stdin.read()


def _key_values(args: list[str], stdin: _Stdin) -> dict[str, str]:
    """Nomad's KVBuilder: ``k=v``, ``k=@file``, ``k=-`` (stdin), ``k=\\@literal``."""
    data: dict[str, str] = {}
    for raw in args:
        if not raw:
            continue
        key, sep, value = raw.partition("=")
        if not sep:
            raise CommandFailed(f"Failed to parse K=V data: invalid key/value pair {raw!r}: "
                                "format must be key=value")
        if value.startswith("@"):
            value = _read_file(value[1:])
        elif value.startswith("\\@"):
            value = value[1:]
        elif value == "-":
            value = stdin.read()
        data[key] = value
    return data


@click.command("put", cls=NomadCommand)
@common_options
@nomad_option("-check-index", "check_index", default="", metavar="INDEX",
              help="Only write if the variable's modify index is this (0: must not exist).")
@nomad_option("-force", "force", is_flag=True,
              help="Write regardless of the server-side variable's index.")
@nomad_option("-in", "in_format", default="json", help="Format of the specification (hcl, json).")
@nomad_option("-out", "out", default=None,
              help="Output format: go-template, hcl, json, none, table.")
@nomad_option("-template", "template", default="", help="Template for -out go-template.")
@nomad_option("-verbose", "verbose", is_flag=True, help="More information on stderr.")
@click.argument("args", nargs=-1, metavar="<path> [@spec|-] [<key>=<value>]...")
def var_put(meta: Meta, args: tuple[str, ...], check_index: str, force: bool, in_format: str,
            out: str | None, template: str, verbose: bool) -> int:
    """Create or update a variable."""
    if out is None:
        out = "none" if meta.env.stdout_isatty() else "json"
    enforce = check_index != ""
    if enforce and not check_index.isdigit():
        raise CommandFailed(f"Error parsing check-index value {check_index!r}: not an "
                            "unsigned integer")
    refuse_wildcard_namespace(meta)
    rest = list(args)
    if not rest:
        raise meta.usage_error("Not enough arguments (expected >1, got 0)")
    if len(rest) == 1 and rest[0] != "-" and not _is_file_ref(rest[0]):
        raise meta.usage_error("Must supply data")
    if in_format not in ("hcl", "json"):
        raise meta.usage_error(ERR_INVALID_IN)
    check_output_flags(meta, out, template)

    def say(message: str) -> None:
        if verbose:
            meta.ui.warn(message)

    stdin = _Stdin()
    spec_text, source, path = "", "", ""
    first = rest.pop(0)
    if first == "-":
        spec_text, source = stdin.read(), "stdin"
    elif _is_file_ref(first):
        in_format = _format_for(first[1:])
        spec_text, source = _read_file(first[1:]), first[1:]
    else:
        path = first.strip().strip("/")
        say(f"Writing to path {path!r}")
    if rest and path and rest[0] == "-":
        rest.pop(0)
        spec_text, source = stdin.read(), "stdin"
    elif rest and path and _is_file_ref(rest[0]) and "=" not in rest[0]:
        spec_file = rest.pop(0)[1:]
        in_format = _format_for(spec_file)
        spec_text, source = _read_file(spec_file), spec_file

    var = _make_variable(meta, spec_text, in_format, source, path)
    warnings = []
    for key, value in _key_values(rest, stdin).items():
        if value == "":
            var.items.pop(key, None)
            continue
        bad = sorted(set(_INVALID_IDENTIFIER.findall(key)))
        if bad:
            chars = ",".join(f'"{c}"' for c in bad)
            warnings.append(f'"{key}" contains characters [{chars}] that require the '
                            "'index' function for direct access in templates")
        var.items[key] = value
    if enforce:
        var.modify_index = int(check_index)
    try:
        stored, _ = meta.client().variables().put(
            var, cas=None if force else var.modify_index)
    except ApiCASConflict as err:
        meta.ui.error(cas_conflict_message(err))
        return 1
    except ApiError as err:
        raise CommandFailed(f"Error creating variable: {err}") from None
    success = f"Created variable {go_quote(stored.path)} with modify index {stored.modify_index}"
    if warnings:
        meta.ui.warn("Variable Warnings:\n" + "\n".join(f"* {w}" for w in warnings))
    text = render(meta, stored, out, template)
    if text is None:
        meta.ui.output(success)
        return 0
    say(success)
    meta.ui.output(text)
    return 0


def _make_variable(meta: Meta, spec_text: str, in_format: str, source: str,
                   path: str) -> Variable:
    if not spec_text:
        return Variable(namespace=meta.namespace, path=path, items={})
    var = parse_spec(spec_text, in_format, source)
    reset = False
    if meta.namespace and meta.namespace != var.namespace:
        var.namespace, reset = meta.namespace, True
    if path and path != var.path:
        var.path, reset = path, True
    if reset:
        var.create_index = var.create_time = var.modify_index = var.modify_time = 0
    return var
