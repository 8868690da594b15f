"""Go text/template's builtin functions (funcs.go), with Go's semantics and error words.

``and``, ``or`` and ``call`` need the executor (``and``/``or`` evaluate their
arguments lazily, as Go does since 1.18) and live there; everything else is here.
Each function raises :class:`FuncError` with Go's message, which the executor
reports as ``error calling <name>: <message>`` at the call's position.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from .gofmt import format_value, go_type_name, sprint, sprintf, sprintln


class FuncError(ValueError):
    """A template function refused its arguments; the message is shown to the user."""


class ArgTypeError(FuncError):
    """An argument of the wrong type, which Go refuses before the call: reported without
    the "error calling <name>:" prefix, in Go's words ("wrong type for value; expected
    string; got int")."""


def truth(value: Any) -> bool:
    """Go's template truth: false, 0, nil, and empty strings/slices/maps are false."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, (str, bytes, list, tuple, Mapping, set, frozenset)):
        return len(value) > 0
    return True


def _kind(value: Any) -> str:
    if value is None:
        return "invalid"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "other"


def go_not(arg: Any) -> bool:
    return not truth(arg)


def go_len(item: Any) -> int:
    if isinstance(item, str):
        return len(item.encode())
    if isinstance(item, (bytes, list, tuple, Mapping, set, frozenset)):
        return len(item)
    if item is None:
        raise FuncError("len of nil pointer")
    raise FuncError(f"len of type {go_type_name(item)}")


def _int_index(index: Any) -> int:
    if isinstance(index, bool) or not isinstance(index, int):
        if index is None:
            raise FuncError("cannot index slice/array with nil")
        raise FuncError(f"cannot index slice/array with type {go_type_name(index)}")
    return index


def go_index(item: Any, *indexes: Any) -> Any:
    """index x 1 2: x[1][2]; a missing map key gives the zero value (nil)."""
    for index in indexes:
        if item is None:
            raise FuncError("index of untyped nil")
        if isinstance(item, Mapping):
            if index in item:
                item = item[index]
            else:
                item = getattr(type(item), "go_zero", None)
        elif isinstance(item, (list, tuple, str, bytes)):
            i = _int_index(index)
            if not 0 <= i < len(item):
                raise FuncError(f"index out of range: {i}")
            item = item.encode()[i] if isinstance(item, str) else item[i]
        else:
            raise FuncError(f"can't index item of type {go_type_name(item)}")
    return item


def go_slice(item: Any, *indexes: Any) -> Any:
    """slice x 1 2: x[1:2]; slice x 1 2 3 also caps the capacity (lists only)."""
    if item is None:
        raise FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise FuncError(f"too many slice indexes: {len(indexes)}")
    if not isinstance(item, (list, tuple, str)):
        raise FuncError(f"can't slice item of type {go_type_name(item)}")
    if isinstance(item, str) and len(indexes) == 3:
        raise FuncError("cannot 3-index slice a string")
    cap = len(item.encode()) if isinstance(item, str) else len(item)
    idx = [0, cap]
    for n, index in enumerate(indexes[:2]):
        i = _int_index(index)
        if not 0 <= i <= cap:
            raise FuncError(f"index out of range: {i}")
        idx[n] = i
    if idx[0] > idx[1]:
        raise FuncError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if isinstance(item, str):
        return item.encode()[idx[0]:idx[1]].decode(errors="replace")
    return item[idx[0]:idx[1]]


def go_eq(arg1: Any, *args: Any) -> bool:
    if not args:
        raise FuncError("missing argument for comparison")
    k1 = _kind(arg1)
    for arg in args:
        k2 = _kind(arg)
        if k1 != k2:
            if k1 != "invalid" and k2 != "invalid":
                raise FuncError("incompatible types for comparison")
            continue
        if k1 == "other" and isinstance(arg1, (list, dict)):
            raise FuncError(f"non-comparable type {format_value(arg1, 'v')}: "
                            f"{go_type_name(arg1)}")
        if k1 == "invalid" or arg1 == arg:
            return True
    return False


def go_ne(arg1: Any, arg2: Any) -> bool:
    return not go_eq(arg1, arg2)


def go_lt(arg1: Any, arg2: Any) -> bool:
    k1, k2 = _kind(arg1), _kind(arg2)
    if k1 not in ("int", "float", "string"):
        raise FuncError("invalid type for comparison")
    if k1 != k2:
        if k2 not in ("int", "float", "string"):
            raise FuncError("invalid type for comparison")
        raise FuncError("incompatible types for comparison")
    return bool(arg1 < arg2)


def go_le(arg1: Any, arg2: Any) -> bool:
    return go_lt(arg1, arg2) or go_eq(arg1, arg2)


def go_gt(arg1: Any, arg2: Any) -> bool:
    return not go_le(arg1, arg2)


def go_ge(arg1: Any, arg2: Any) -> bool:
    return not go_lt(arg1, arg2)


def _eval_args(args: tuple[Any, ...]) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(*args)


def html_escape(text: str) -> str:
    """template.HTMLEscapeString."""
    out = []
    for ch in text:
        if ch == "\0":
            out.append("\ufffd")
        else:
            out.append({'"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;",
                        ">": "&gt;"}.get(ch, ch))
    return "".join(out)


def js_escape(text: str) -> str:
    """template.JSEscapeString."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "'":
            out.append("\\'")
        elif ch == '"':
            out.append('\\"')
        elif ch in "<>&=":
            out.append(f"\\u{code:04X}")
        elif code < 0x20:
            out.append(f"\\u{code:04X}")
        elif code < 0x80 or ch.isprintable():
            out.append(ch)
        else:
            out.append(f"\\u{code:04X}")
    return "".join(out)


def go_html(*args: Any) -> str:
    return html_escape(_eval_args(args))


def go_js(*args: Any) -> str:
    return js_escape(_eval_args(args))


def go_urlquery(*args: Any) -> str:
    return urllib.parse.quote_plus(_eval_args(args), safe="-_.~")


def go_printf(fmt: Any, *args: Any) -> str:
    if not isinstance(fmt, str):
        raise FuncError(f"wrong type for value; expected string; got {go_type_name(fmt)}")
    return sprintf(fmt, *args)


BUILTINS: dict[str, Callable[..., Any]] = {
    "not": go_not, "len": go_len, "index": go_index, "slice": go_slice,
    "print": sprint, "printf": go_printf, "println": sprintln,
    "eq": go_eq, "ne": go_ne, "lt": go_lt, "le": go_le, "gt": go_gt, "ge": go_ge,
    "html": go_html, "js": go_js, "urlquery": go_urlquery,
}
# Evaluated by the executor itself (lazy arguments, or a function value as argument).
SPECIAL = frozenset({"and", "or", "call"})
BUILTIN_NAMES = frozenset(BUILTINS) | SPECIAL
