"""``format()``'s printf language, as go-cty implements it.

Verbs: ``%v`` (any value; strings and numbers as-is, everything else as
JSON), ``%#v`` (always JSON), ``%t`` (bool), ``%d %b %o %x %X`` (whole numbers),
``%e %E %f %g %G`` (numbers), ``%s`` (string), ``%q`` (quoted string), ``%%``.
Flags ``- + # 0`` and space, a width, a ``.precision`` and an explicit
argument index ``%[2]s`` are accepted.  Every argument must be used.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .conversion import ConversionError, describe, format_number, to_bool, to_number, to_string

_VERB = re.compile(r"%(?P<flags>[-+# 0]*)(?P<width>[1-9]\d*)?(?P<prec>\.\d*)?"
                   r"(?:\[(?P<index>[1-9]\d*)\])?(?P<verb>[A-Za-z])?")


class FormatError(ValueError):
    pass


def go_json(value: Any) -> str:
    """JSON the way go-cty writes it: compact, keys sorted, <>& escaped."""
    from collections.abc import Mapping

    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return format_number(value)
    if isinstance(value, str):
        return go_json_string(value)
    if isinstance(value, list):
        return "[" + ",".join(go_json(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{go_json_string(str(k))}:{go_json(value[k])}"
                              for k in sorted(value, key=str)) + "}"
    raise FormatError(f"cannot encode {describe(value)} as JSON")


_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def go_json_string(text: str) -> str:
    """A JSON string as Go's encoder writes it (``<``, ``>``, ``&`` as \\u escapes)."""
    out = ['"']
    for char in text:
        escape = _SHORT_ESCAPES.get(char)
        if escape is not None:
            out.append(escape)
        elif char < " " or char in "<>&\u2028\u2029":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def go_shortest_g(value: int | float, upper: bool = False) -> str:
    """Go's ``%g`` with no precision: shortest digits, exponent form past 1e6."""
    if value == 0:
        return "0"
    decimal = Decimal(repr(float(value))) if isinstance(value, float) else Decimal(value)
    sign, digits, exponent = decimal.normalize().as_tuple()
    assert isinstance(exponent, int)
    mantissa = "".join(map(str, digits))
    exp10 = len(mantissa) + exponent - 1  # the power of ten of the first digit
    prefix = "-" if sign else ""
    if exp10 < -4 or exp10 >= 6:
        body = mantissa[0] + ("." + mantissa[1:] if len(mantissa) > 1 else "")
        e = "E" if upper else "e"
        return f"{prefix}{body}{e}{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    return prefix + format(abs(decimal), "f")


def format_values(template: str, args: list[Any]) -> str:
    out: list[str] = []
    next_arg = 1
    highest = 0
    i = 0
    while i < len(template):
        char = template[i]
        if char != "%":
            out.append(char)
            i += 1
            continue
        if template.startswith("%%", i):
            out.append("%")
            i += 2
            continue
        match = _VERB.match(template, i)
        assert match is not None  # the pattern always matches "%"
        if match.group("verb") is None:
            if match.end() >= len(template):
                raise FormatError(f"invalid format string starting at offset {i}")
            raise FormatError(f"unrecognized format character {template[match.end()]!r} at "
                              f"offset {match.end()}")
        number = int(match.group("index")) if match.group("index") else next_arg
        raw = match.group(0)
        if number > len(args):
            raise FormatError(f"not enough arguments for {raw!r} at {i}: need index {number} "
                              f"but have {len(args)} total")
        out.append(_format_one(match, raw, i, args[number - 1]))
        highest = max(highest, number)
        next_arg = number + 1
        i = match.end()
    if highest < len(args):
        if highest == 0:
            raise FormatError("too many arguments; no verbs in format string")
        raise FormatError(f"too many arguments; only {highest} used by format string")
    return "".join(out)


def _format_one(match: re.Match[str], raw: str, offset: int, arg: Any) -> str:
    verb = match.group("verb")
    flags = match.group("flags") or ""
    width = int(match.group("width")) if match.group("width") else -1
    prec_text = match.group("prec")
    precision = int(prec_text[1:] or "0") if prec_text else -1
    where = f"{raw!r} at {offset}"
    if verb != "v" and arg is None:
        raise FormatError(f"unsupported value for {where}: null value cannot be formatted")

    def pad(text: str) -> str:
        if width < 0 or len(text) >= width:
            return text
        filler = ("0" if "0" in flags else " ") * (width - len(text))
        return text + filler if "-" in flags else filler + text

    def converted(function: Callable[[Any], Any]) -> Any:
        try:
            return function(arg)
        except ConversionError as err:
            raise FormatError(f"unsupported value for {where}: {err}") from None

    if verb == "v":
        if "#" not in flags and isinstance(arg, str):
            return pad(arg)
        if "#" not in flags and isinstance(arg, (int, float)) and not isinstance(arg, bool):
            return pad(go_shortest_g(arg))
        return pad(go_json(arg))
    if verb == "t":
        return "true" if converted(to_bool) else "false"
    if verb in "sq":
        text = converted(to_string)
        if precision > 0:
            text = text[:precision]
        return pad(go_json_string(text) if verb == "q" else text)
    if verb in "bdoxX":
        number = converted(to_number)
        if isinstance(number, float):
            raise FormatError(f"unsupported value for {where}: an integer is required")
        return _go_integer(number, verb, flags, width)
    if verb in "eEfgG":
        number = converted(to_number)
        if verb in "gG" and precision < 0:
            return pad(go_shortest_g(number, upper=verb == "G"))
        spec = "%" + flags + (str(width) if width >= 0 else "") + (
            f".{precision}" if precision >= 0 else "") + verb
        text = spec % float(number)
        return text
    raise FormatError(f"unsupported format verb {verb!r} in {raw!r} at offset {offset}")


def _go_integer(number: int, verb: str, flags: str, width: int) -> str:
    digits = format(abs(number), {"d": "d", "b": "b", "o": "o", "x": "x", "X": "X"}[verb])
    if "#" in flags:
        digits = {"b": "0b", "o": "0", "x": "0x", "X": "0X"}.get(verb, "") + digits
    sign = "-" if number < 0 else ("+" if "+" in flags else (" " if " " in flags else ""))
    text = sign + digits
    if width > len(text):
        if "-" in flags:
            text = text + " " * (width - len(text))
        elif "0" in flags:
            text = sign + "0" * (width - len(text)) + digits
        else:
            text = " " * (width - len(text)) + text
    return text
