"""Go's encoding/json for ``toJSON``/``toJSONPretty``: byte-identical to what Nomad writes.

Differences from Python's json that show in rendered files: map keys sorted; ``<``,
``>`` and ``&`` escaped as ``\\u003c`` ``\\u003e`` ``\\u0026`` (Go's HTML-safe default;
``toUnescapedJSON`` skips that), U+2028/U+2029 escaped; floats as Go writes them
(``1``, ``0.5``, ``1e+21``, ``1e-7``); nil is ``null``; structs (the shapes) by field.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any


class JSONError(ValueError):
    """A value Go's json cannot encode (NaN, infinities, functions)."""


def _string(text: str, escape_html: bool) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20:
            out.append(f"\\u{code:04x}")
        elif escape_html and ch in "<>&":
            out.append(f"\\u{code:04x}")
        elif code in (0x2028, 0x2029):
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _float(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        raise JSONError(f"json: unsupported value: {value}")
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    absolute = abs(value)
    if 1e-6 <= absolute < 1e21:
        text = repr(value)
        if "e" in text or "E" in text:
            text = format(value, "f")
            text = text.rstrip("0").rstrip(".") if "." in text else text
        if text.endswith(".0"):
            text = text[:-2]
        return text
    text = repr(value)
    mantissa, _, exp = text.partition("e")
    if mantissa.endswith(".0"):
        mantissa = mantissa[:-2]
    sign = exp[0] if exp[:1] in "+-" else "+"
    digits = exp.lstrip("+-").lstrip("0") or "0"
    return f"{mantissa}e{sign}{digits}"


def _plain(value: Any) -> Any:
    """Shapes -> dicts of their exported fields; values with MarshalJSON -> their string."""
    if hasattr(value, "String") and type(value).__name__ == "NomadVarItem":
        return value.String()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)
                if not f.name.startswith("_")}
    return value


def encode(value: Any, *, indent: str = "", escape_html: bool = True, level: int = 0) -> str:
    """json.Marshal (indent "") or json.MarshalIndent(v, "", indent)."""
    value = _plain(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return _string(value, escape_html)
    if isinstance(value, (bytes, bytearray)):
        import base64
        return '"' + base64.b64encode(value).decode() + '"'
    newline = "\n" + indent * (level + 1) if indent else ""
    close = "\n" + indent * level if indent else ""
    sep = ": " if indent else ":"
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        keys = sorted((str(k), k) for k in value.keys())
        parts = [newline + _string(text, escape_html) + sep
                 + encode(value[k], indent=indent, escape_html=escape_html, level=level + 1)
                 for text, k in keys]
        return "{" + ",".join(parts) + close + "}"
    if isinstance(value, (list, tuple, set, frozenset)):
        if not value:
            return "[]"
        parts = [newline + encode(v, indent=indent, escape_html=escape_html, level=level + 1)
                 for v in value]
        return "[" + ",".join(parts) + close + "]"
    raise JSONError(f"json: unsupported type: {type(value).__name__}")
