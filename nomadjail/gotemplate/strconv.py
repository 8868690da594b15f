"""Go's ``strconv.Quote`` and ``unicode.IsPrint``: how Go writes a string literal.

The template engine quotes tokens in its error messages and ``%q`` with it, and the
CLI quotes values the way Nomad's Go CLI prints them -- one implementation, so both
escape exactly what Go escapes.
"""

from __future__ import annotations

import unicodedata


def go_quote(text: str) -> str:
    """strconv.Quote: a double-quoted Go string literal (printable Unicode kept)."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch in "\a\b\f\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\v": "\\v"}[ch])
        elif is_printable(ch):
            out.append(ch)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def is_printable(ch: str) -> bool:
    """unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space."""
    if ch == " ":
        return True
    return unicodedata.category(ch)[0] in "LMNPS"
