"""Go's ``fmt`` for template values: Sprint, Sprintln, Sprintf and the %v of every kind.

Templates print what Go's fmt prints, so a rendered config file is byte-identical to
Nomad's: ``map[a:1 b:2]`` for maps (keys sorted), ``[a b]`` for slices, ``<nil>``,
``true``, floats in Go's shortest form (``3.5``, ``1e+06``, ``1.234567e+06``), and a
``printf`` with Go's verbs, flags (``-+ 0#``), width, precision, ``*`` and explicit
argument indexes ``%[2]d``.  Mistakes print as Go prints them, never raise:
``%!d(string=x)``, ``%!s(MISSING)``, ``%!(EXTRA int=3)``.

Python values map to Go kinds: None is nil, bool, int, float (float64), str,
list/tuple ([]interface {}), Mapping (map[string]interface {}), and any other object
a struct -- printed ``{field ...}`` from its dataclass fields, or through its
``String()`` method when it has one (Go's Stringer).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from .lexer import go_quote, is_printable


def is_stringer(value: Any) -> bool:
    return callable(getattr(value, "String", None)) and not isinstance(value, type)


def go_type_name(value: Any) -> str:
    """The Go type a value stands for, as %T and the %! error forms show it."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (bytes, bytearray)):
        return "[]uint8"
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    if isinstance(value, (list, tuple)):
        return "[]interface {}"
    if callable(value):
        return "func"
    return type(value).__name__


def sort_keys(keys: Sequence[Any]) -> list[Any]:
    """Map keys in Go's order (fmt and range sort them): numbers, then strings, by value."""
    def key(k: Any) -> tuple[int, Any]:
        if isinstance(k, bool):
            return (0, int(k))
        if isinstance(k, (int, float)):
            return (1, k)
        return (2, str(k))
    return sorted(keys, key=key)


# -- floats ---------------------------------------------------------------

def _shortest_digits(value: float) -> tuple[str, int]:
    """(digits, dp): the shortest decimal digits of |value| and the decimal point position."""
    dec = Decimal(repr(abs(value)))
    sign, digits, exponent = dec.as_tuple()
    text = "".join(str(d) for d in digits).rstrip("0")
    assert isinstance(exponent, int)
    if not text:
        return "0", 1
    dp = len(digits) + exponent
    return text, dp


def format_float_g(value: float, upper: bool = False) -> str:
    """strconv.FormatFloat(f, 'g', -1, 64): what %v prints for a float64."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    digits, dp = _shortest_digits(value)
    neg = "-" if math.copysign(1.0, value) < 0 else ""
    exp = dp - 1
    if value == 0:
        return neg + "0"
    # Shortest formatting switches to an exponent below 1e-04 and from 1e+06 on
    # (strconv's eprec is 6 when the precision is the shortest).
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        e = "E" if upper else "e"
        return f"{neg}{mantissa}{e}{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if dp <= 0:
        return neg + "0." + "0" * (-dp) + digits
    if dp >= len(digits):
        return neg + digits + "0" * (dp - len(digits))
    return neg + digits[:dp] + "." + digits[dp:]


def _float_verb(value: float, verb: str, prec: int | None, sharp: bool) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if verb in "vgG" and prec is None:
        text = format_float_g(value, upper=verb == "G")
        if sharp and "." not in text and "e" not in text.lower():
            text += "."
        return text
    if verb in "gG" and prec == 0:
        prec = 1
    spec = ("#" if sharp else "") + ("." + str(6 if prec is None else prec)) + verb.replace(
        "F", "f")
    return format(value, spec)


# -- integers -------------------------------------------------------------

def _int_verb(value: int, verb: str, sharp: bool) -> str | None:
    """Digits of |value| in the verb's base, with the '#' prefix; None for a bad verb."""
    mag = abs(value)
    if verb in "dv":
        return str(mag)
    if verb == "b":
        return ("0b" if sharp else "") + format(mag, "b")
    if verb == "o":
        body = format(mag, "o")
        return ("0" + body if sharp and not body.startswith("0") else body)
    if verb == "O":
        return "0o" + format(mag, "o")
    if verb == "x":
        return ("0x" if sharp else "") + format(mag, "x")
    if verb == "X":
        return ("0X" if sharp else "") + format(mag, "X")
    return None


class _Spec:
    __slots__ = ("minus", "plus", "plus_v", "space", "zero", "sharp", "width", "prec")

    def __init__(self) -> None:
        self.minus = self.plus = self.plus_v = self.space = self.zero = self.sharp = False
        self.width: int | None = None
        self.prec: int | None = None


def _pad(text: str, spec: _Spec, numeric_zero: bool = False) -> str:
    if spec.width is None or len(text) >= spec.width:
        return text
    fill = spec.width - len(text)
    if spec.minus:
        return text + " " * fill
    if spec.zero and numeric_zero:
        sign = text[0] if text and text[0] in "+- " else ""
        body = text[len(sign):]
        prefix = ""
        for p in ("0x", "0X", "0b", "0o"):
            if body.startswith(p):
                prefix, body = p, body[len(p):]
                break
        return sign + prefix + "0" * fill + body
    return " " * fill + text


def _bad(verb: str, value: Any) -> str:
    if value is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type_name(value)}={format_value(value, 'v', _Spec())})"


def _fmt_int(value: int, verb: str, spec: _Spec) -> str:
    if verb == "c":
        return _pad(chr(value) if 0 <= value <= 0x10FFFF else "\ufffd", spec)
    if verb == "q":
        ch = chr(value) if 0 <= value <= 0x10FFFF else "\ufffd"
        return _pad("'" + go_quote(ch)[1:-1].replace('\\"', '"').replace("'", "\\'") + "'", spec)
    if verb == "U":
        text = f"U+{value:04X}"
        if spec.sharp and 0 <= value <= 0x10FFFF and is_printable(chr(value)):
            text += f" '{chr(value)}'"
        return _pad(text, spec)
    if verb in "eEfFgG":
        return _bad(verb, value)
    body = _int_verb(value, verb, spec.sharp)
    if body is None:
        return _bad(verb, value)
    prefix = ""
    for p in ("0x", "0X", "0b", "0o"):
        if body.startswith(p) and (spec.sharp or verb == "O"):
            prefix, body = p, body[len(p):]
            break
    if spec.prec is not None:
        if spec.prec == 0 and value == 0:
            body = ""
        body = body.rjust(spec.prec, "0")
    sign = "-" if value < 0 else "+" if spec.plus else " " if spec.space else ""
    return _pad(sign + prefix + body, spec, numeric_zero=spec.prec is None)


def _fmt_float(value: float, verb: str, spec: _Spec) -> str:
    if verb not in "vbeEfFgGxX" or verb in "bxX":
        return _bad(verb, value)
    text = _float_verb(value, verb, spec.prec, spec.sharp)
    if spec.plus and not text.startswith("-") and text != "NaN":
        text = "+" + text if not text.startswith("+") else text
    elif spec.space and not text.startswith(("-", "+")):
        text = " " + text
    return _pad(text, spec, numeric_zero=not math.isinf(value) and not math.isnan(value))


def _fmt_str(value: str, verb: str, spec: _Spec) -> str:
    if spec.prec is not None and verb in "svqxX":
        value = value[:spec.prec]
    if verb in "sv":
        return _pad(value, spec)
    if verb == "q":
        if spec.sharp and "`" not in value and all(is_printable(c) or c == "\t" for c in value):
            return _pad("`" + value + "`", spec)
        return _pad(go_quote(value), spec)
    if verb in "xX":
        data = value.encode()
        sep = " " if spec.space else ""
        parts: list[str] = []
        for b in data:
            h = format(b, "02x" if verb == "x" else "02X")
            parts.append(("0x" if verb == "x" else "0X") + h if spec.sharp and (sep or not parts)
                         else h)
        return _pad(sep.join(parts), spec)
    return _bad(verb, value)


def format_value(value: Any, verb: str, spec: _Spec | None = None, top: bool = True) -> str:
    """One operand formatted with one verb, as fmt does (recursing into slices and maps)."""
    spec = spec or _Spec()
    if verb == "T":
        return _pad(go_type_name(value), spec)
    if value is None:
        return _pad("<nil>", spec) if verb == "v" else _bad(verb, value)
    if is_stringer(value) and verb in "vsqxX":
        try:
            text = str(value.String())
        except Exception as err:  # noqa: BLE001 -- fmt prints a failing String() as %!v(PANIC=...)
            return f"%!{verb}(PANIC=String method: {err})"
        return _fmt_str(text, verb, spec)
    if isinstance(value, bool):
        if verb in "tv":
            return _pad("true" if value else "false", spec)
        return _bad(verb, value)
    if isinstance(value, int):
        return _fmt_int(value, "d" if verb == "v" else verb, spec)
    if isinstance(value, float):
        return _fmt_float(value, verb, spec)
    if isinstance(value, str):
        return _fmt_str(value, verb, spec)
    if isinstance(value, (bytes, bytearray)):
        if verb in "sqxXv":
            return _fmt_str(value.decode(errors="replace"), "s" if verb == "v" else verb, spec)
    if isinstance(value, Mapping):
        inner = _Spec()
        inner.plus, inner.plus_v, inner.sharp = spec.plus, spec.plus_v, spec.sharp
        items = [format_value(k, verb, inner, False) + ":" + format_value(value[k], verb, inner,
                                                                          False)
                 for k in sort_keys(list(value.keys()))]
        return _pad("map[" + " ".join(items) + "]", spec)
    if isinstance(value, (list, tuple)):
        inner = _Spec()
        inner.plus, inner.plus_v, inner.sharp = spec.plus, spec.plus_v, spec.sharp
        return _pad("[" + " ".join(format_value(v, verb, inner, False) for v in value) + "]",
                    spec)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        inner = _Spec()
        inner.plus, inner.plus_v = spec.plus, spec.plus_v
        parts = []
        for f in dataclasses.fields(value):
            if f.name.startswith("_"):
                continue
            text = format_value(getattr(value, f.name), verb, inner, False)
            parts.append(f"{f.name}:{text}" if spec.plus_v else text)
        return _pad(("&" if top else "") + "{" + " ".join(parts) + "}", spec)
    if verb in "vs":
        return _pad(str(value), spec)
    return _bad(verb, value)


def sprint(*args: Any) -> str:
    """fmt.Sprint: a space between operands when neither is a string."""
    out = []
    prev_string = False
    for i, arg in enumerate(args):
        is_string = isinstance(arg, str)
        if i > 0 and not is_string and not prev_string:
            out.append(" ")
        out.append(format_value(arg, "v"))
        prev_string = is_string
    return "".join(out)


def sprintln(*args: Any) -> str:
    """fmt.Sprintln: operands separated by spaces, then a newline."""
    return " ".join(format_value(a, "v") for a in args) + "\n"


def sprintf(fmt: str, *args: Any) -> str:
    """fmt.Sprintf with Go's verbs, flags, width, precision and %[n] indexes."""
    out: list[str] = []
    argnum = 0
    reordered = False
    i = 0
    n = len(fmt)
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        spec = _Spec()
        while i < n and fmt[i] in "-+ 0#":
            c = fmt[i]
            if c == "-":
                spec.minus, spec.zero = True, False
            elif c == "+":
                spec.plus = True
            elif c == " ":
                spec.space = True
            elif c == "0":
                spec.zero = not spec.minus
            else:
                spec.sharp = True
            i += 1
        argnum, i, found = _arg_index(fmt, i, argnum, len(args))
        reordered = reordered or found
        # width
        if i < n and fmt[i] == "*":
            i += 1
            if argnum < len(args) and isinstance(args[argnum], int) and not isinstance(
                    args[argnum], bool):
                spec.width = args[argnum]
                if spec.width < 0:
                    spec.minus, spec.zero, spec.width = True, False, -spec.width
            else:
                out.append("%!(BADWIDTH)")
            argnum += 1
        else:
            start = i
            while i < n and fmt[i].isdigit():
                i += 1
            if i > start:
                spec.width = int(fmt[start:i])
        # precision
        if i < n and fmt[i] == ".":
            i += 1
            argnum, i, found = _arg_index(fmt, i, argnum, len(args))
            reordered = reordered or found
            if i < n and fmt[i] == "*":
                i += 1
                if argnum < len(args) and isinstance(args[argnum], int) and not isinstance(
                        args[argnum], bool) and args[argnum] >= 0:
                    spec.prec = args[argnum]
                else:
                    out.append("%!(BADPREC)")
                argnum += 1
            else:
                start = i
                while i < n and fmt[i].isdigit():
                    i += 1
                spec.prec = int(fmt[start:i]) if i > start else 0
        argnum, i, found = _arg_index(fmt, i, argnum, len(args))
        reordered = reordered or found
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if verb == "v" and spec.plus:
            # %+v names struct fields; it is not a sign flag.
            spec.plus, spec.plus_v = False, True
        if argnum < 0:
            out.append(f"%!{verb}(BADINDEX)")
            argnum = len(args)
            continue
        if argnum >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        out.append(format_value(args[argnum], verb, spec))
        argnum += 1
    if not reordered and argnum < len(args):
        extra = ", ".join(
            "<nil>" if a is None else f"{go_type_name(a)}={format_value(a, 'v')}"
            for a in args[argnum:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _arg_index(fmt: str, i: int, argnum: int, nargs: int) -> tuple[int, int, bool]:
    """Parse an optional [n]: (new argnum (-1 if bad), new position, found)."""
    if i >= len(fmt) or fmt[i] != "[":
        return argnum, i, False
    end = fmt.find("]", i)
    if end < 0:
        return -1, len(fmt), True
    text = fmt[i + 1:end]
    if not text.isdigit() or not 1 <= int(text) <= nargs:
        return -1, end + 1, True
    return int(text) - 1, end + 1, True
