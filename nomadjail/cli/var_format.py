"""What the ``var`` commands share: Nomad's output formats for one variable, the
``-out``/``-template`` checks, variable specifications (``-in json|hcl``) and the
check-and-set conflict message.

Formats, as ``nomad var get|put`` print them (``command/var.go``):

* ``json`` -- Go's ``MarshalIndent`` of ``api.Variable`` (two-space indent, Nomad's
  field order, items sorted, ``<``/``>``/``&`` escaped as Go does);
* ``hcl`` -- the variable specification ``var put @file.hcl`` reads back;
* ``table`` -- ``Namespace = ...`` lines, then the items;
* ``go-template`` -- ``-template`` rendered over the variable (Go's text/template,
  through :mod:`nomadjail.gotemplate`);
* ``none`` -- nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ..api.variables import ApiCASConflict
from ..structs import format_duration
from ..structs.variables import Variable
from .format import format_kv, format_time_ns, go_quote
from .meta import CommandFailed, Meta

OUT_FORMATS = ("go-template", "hcl", "json", "none", "table")
ERR_MISSING_TEMPLATE = ("A template must be supplied using '-template' when using go-template "
                        "formatting")
ERR_UNEXPECTED_TEMPLATE = "The '-template' flag is only valid when using 'go-template' formatting"
ERR_INVALID_OUT = 'Invalid value for "-out"; valid values are [go-template, hcl, json, none, table]'
ERR_INVALID_IN = 'Invalid value for "-in"; valid values are [hcl, json]'
ERR_WILDCARD_NAMESPACE = 'The wildcard namespace ("*") is not valid for this command.'
ERR_VARIABLE_NOT_FOUND = "Variable not found"
SPEC_KEYS = ("namespace", "path", "create_index", "modify_index", "create_time", "modify_time",
             "items")


def check_output_flags(meta: Meta, out: str, template: str) -> None:
    if out != "go-template" and template:
        raise meta.usage_error(ERR_UNEXPECTED_TEMPLATE)
    if out not in OUT_FORMATS:
        raise meta.usage_error(ERR_INVALID_OUT)
    if out == "go-template" and not template:
        raise meta.usage_error(ERR_MISSING_TEMPLATE)


def refuse_wildcard_namespace(meta: Meta) -> None:
    if meta.namespace == "*":
        raise CommandFailed(ERR_WILDCARD_NAMESPACE)


# -- rendering -------------------------------------------------------------------------
def as_api(var: Variable) -> dict[str, Any]:
    """``api.Variable``'s JSON, in its field order (Lock only when set)."""
    data: dict[str, Any] = {
        "Namespace": var.namespace, "Path": var.path, "CreateIndex": var.create_index,
        "ModifyIndex": var.modify_index, "CreateTime": var.create_time,
        "ModifyTime": var.modify_time, "Items": dict(sorted(var.items.items()))}
    if var.lock is not None:
        data["Lock"] = {"TTL": format_duration(var.lock.ttl),
                        "LockDelay": format_duration(var.lock.lock_delay), "ID": var.lock.id}
    return data


def go_json(data: Any) -> str:
    """Go's ``json.MarshalIndent(v, "", "  ")``: HTML characters escaped as \\u003c etc."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def as_hcl(var: Variable) -> str:
    """The variable specification Nomad's ``renderAsHCL`` writes (keys right-aligned)."""
    pad = max((len(k) for k in var.items), default=0)
    items = "".join(f"  {k:>{pad}} = {go_quote(v)}\n" for k, v in sorted(var.items.items()))
    return (f"\nnamespace    = {go_quote(var.namespace)}\n"
            f"path         = {go_quote(var.path)}\n"
            f"create_index = {var.create_index}  # Set by server\n"
            f"modify_index = {var.modify_index}  # Set by server; consulted for check-and-set\n"
            f"create_time  = {var.create_time}   # Set by server\n"
            f"modify_time  = {var.modify_time}   # Set by server\n"
            f"\nitems = {{\n{items}}}\n")


def _go_time_string(ns: int) -> str:
    """Go's ``time.Time.String()`` in local time (``2006-01-02 15:04:05.999999999 -0700 MST``)."""
    moment = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).astimezone()
    fraction = f"{ns % 1_000_000_000:09d}".rstrip("0")
    return (moment.strftime("%Y-%m-%d %H:%M:%S") + (f".{fraction}" if fraction else "")
            + moment.strftime(" %z %Z"))


def as_table(var: Variable, colorize: Callable[[str], str]) -> str:
    """Nomad's ``renderSVAsUiTable`` (its "Create Time" row shows the modify time, as
    Nomad's does)."""
    rows = [f"Namespace|{var.namespace}", f"Path|{var.path}",
            f"Create Time|{format_time_ns(var.modify_time)}"]
    if var.create_time != var.modify_time:
        rows.append(f"Modify Time|{_go_time_string(var.modify_time)}")
    rows.append(f"Check Index|{var.modify_index}")
    items = format_kv(f"{k}|{v}" for k, v in sorted(var.items.items()))
    return format_kv(rows) + "\n" + colorize("\n[bold]Items[reset]") + "\n" + items


def as_go_template(var: Variable, template: str) -> str:
    """``-template`` over the variable's ``api.Variable`` fields (``.Items.key``,
    ``.Path`` ...)."""
    try:
        from ..gotemplate import TemplateError, parse
    except ImportError:  # the engine is not installed with this build
        raise CommandFailed("-out go-template is not available: the template engine is "
                            "missing") from None
    try:
        return parse(template, name="var").execute(as_api(var), {}, missing_key="zero")
    except TemplateError as err:
        raise CommandFailed(str(err)) from None
    except NotImplementedError:
        raise CommandFailed("-out go-template is not available yet: the template engine "
                            "is not built") from None


def render(meta: Meta, var: Variable, out: str, template: str) -> str | None:
    """The text for ``-out`` (None: print nothing)."""
    if out == "json":
        return go_json(as_api(var))
    if out == "hcl":
        return as_hcl(var)
    if out == "go-template":
        return as_go_template(var, template)
    if out == "table":
        return as_table(var, meta.ui.colorize)
    return None


# -- check-and-set conflicts -----------------------------------------------------------
def cas_conflict_message(err: ApiCASConflict) -> str:
    """Nomad's handleCASError text (without its colours)."""
    last = ""
    if err.conflict.modify_index > 0:
        last = (f"The server-side item was last updated on "
                f"{format_time_ns(err.conflict.modify_time)}.\n")
    return ("\nCheck-and-Set conflict\n\n"
            f"    Your provided check-index ({err.check_index}) does not match the\n"
            f"    server-side index ({err.conflict.modify_index}).\n"
            + (f"    {last}" if last else "")
            + "    If you are sure you want to perform this operation, add the -force or\n"
            f"    -check-index={err.conflict.modify_index} flag before the positional "
            "arguments.\n")


# -- variable specifications -----------------------------------------------------------
def _unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            return json.loads(value)
        except ValueError:
            return value[1:-1]
    return value


def parse_spec(text: str, in_format: str, source: str) -> Variable:
    """A variable specification (``var put @spec.json`` / ``-in hcl``); CommandFailed
    naming ``source`` and the problem."""
    if in_format == "json":
        try:
            data = json.loads(text)
        except ValueError as err:
            raise CommandFailed(f"Failed to parse variable data: error unmarshaling json "
                                f"from {source}: {err}") from None
        if not isinstance(data, dict):
            raise CommandFailed(f"Failed to parse variable data: {source}: expected a JSON "
                                "object")
        from ..structs import DecodeError, from_api

        try:
            return from_api(Variable, data, "Variable")
        except DecodeError as err:
            raise CommandFailed(f"Failed to parse variable data: {source}: {err}") from None
    import hcl2

    try:
        data = hcl2.loads(text)
    except Exception as err:  # noqa: BLE001 - python-hcl2 raises lark's many error types
        raise CommandFailed(f"Failed to parse variable data: error parsing hcl from "
                            f"{source}: {err}") from None
    data.pop("__comments__", None)
    unknown = sorted(k for k in data if k not in SPEC_KEYS)
    if unknown:
        raise CommandFailed(f"Failed to parse variable data: {source}: invalid key "
                            f"{unknown[0]!r} (valid keys: {', '.join(SPEC_KEYS)})")
    var = Variable(namespace=str(_unquote(data.get("namespace", ""))),
                   path=str(_unquote(data.get("path", ""))))
    for key in ("create_index", "modify_index", "create_time", "modify_time"):
        value = data.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool):
            raise CommandFailed(f"Failed to parse variable data: {source}: {key} must be "
                                f"integer; got {value!r}")
        setattr(var, key, value)
    items = data.get("items") or {}
    if isinstance(items, list):  # `items { ... }` written as a block, as Nomad's example
        merged: dict[str, Any] = {}
        for block in items:
            if isinstance(block, dict):
                merged.update({k: v for k, v in block.items() if k != "__is_block__"})
        items = merged
    if not isinstance(items, dict):
        raise CommandFailed(f"Failed to parse variable data: {source}: items must be a map")
    var.items = {str(_unquote(k)): str(_unquote(v)) for k, v in items.items()}
    return var
