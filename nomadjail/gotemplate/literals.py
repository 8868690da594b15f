"""Go literals in template actions: strconv.Unquote, character constants and numbers."""

from __future__ import annotations

import re

_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
                   "v": "\v", "\\": "\\", "'": "'", '"': '"'}
_OCTAL_INT = re.compile(r"[+-]?0[0-7_]+")


class LiteralError(ValueError):
    """A literal Go would refuse; the message is Go's."""


def unquote(quoted: str) -> str:
    """strconv.Unquote of a "..." or `...` literal (``invalid syntax`` when malformed)."""
    if len(quoted) < 2:
        raise LiteralError("invalid syntax")
    quote = quoted[0]
    if quote == "`":
        if quoted[-1] != "`":
            raise LiteralError("invalid syntax")
        return quoted[1:-1].replace("\r", "")
    if quote not in "\"'" or quoted[-1] != quote:
        raise LiteralError("invalid syntax")
    body = quoted[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == quote or ch == "\n":
            raise LiteralError("invalid syntax")
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= len(body):
            raise LiteralError("invalid syntax")
        esc = body[i + 1]
        if esc in _SIMPLE_ESCAPES:
            if (esc == "'" and quote == '"') or (esc == '"' and quote == "'"):
                raise LiteralError("invalid syntax")
            out.append(_SIMPLE_ESCAPES[esc])
            i += 2
        elif esc in "xuU":
            size = {"x": 2, "u": 4, "U": 8}[esc]
            digits = body[i + 2:i + 2 + size]
            if len(digits) != size or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise LiteralError("invalid syntax")
            code = int(digits, 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise LiteralError("invalid syntax")
            out.append(chr(code))
            i += 2 + size
        elif esc in "01234567":
            digits = body[i + 1:i + 4]
            if len(digits) != 3 or not all(c in "01234567" for c in digits):
                raise LiteralError("invalid syntax")
            code = int(digits, 8)
            if code > 255:
                raise LiteralError("invalid syntax")
            out.append(chr(code))
            i += 4
        else:
            raise LiteralError("invalid syntax")
    return "".join(out)


def char_value(quoted: str) -> int:
    """The rune of a character constant like 'a' or '\\n'."""
    try:
        text = unquote(quoted)
    except LiteralError:
        raise LiteralError(f"malformed character constant: {quoted}") from None
    if len(text) != 1:
        raise LiteralError(f"malformed character constant: {quoted}")
    return ord(text)


def number_value(text: str) -> int | float:
    """An untyped Go number constant: an int, or a float when written with . e p."""
    if text.endswith("i") and not text.lower().startswith(("0x", "-0x", "+0x")):
        raise LiteralError(f"complex numbers are not supported: {text}")
    body = text.lstrip("+-")
    sign = -1 if text.startswith("-") else 1
    lower = body.lower()
    if "__" in body or body.startswith("_") or body.endswith("_"):
        raise LiteralError(f"illegal number syntax: \"{text}\"")
    try:
        if lower.startswith("0x"):
            if "p" in lower or "." in lower:
                return sign * float.fromhex(body.replace("_", ""))
            return sign * int(body, 16)
        if lower.startswith("0o"):
            return sign * int(body, 8)
        if lower.startswith("0b"):
            return sign * int(body, 2)
        if _OCTAL_INT.fullmatch(body) and not any(c in lower for c in ".e"):
            return sign * int(body.replace("_", ""), 8)
        if any(c in lower for c in ".e"):
            return sign * float(body.replace("_", ""))
        return sign * int(body.replace("_", ""), 10)
    except ValueError:
        pass
    try:
        value = float(body.replace("_", ""))
    except ValueError:
        raise LiteralError(f"illegal number syntax: \"{text}\"") from None
    if value.is_integer():
        return sign * int(value)
    return sign * value
