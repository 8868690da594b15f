"""The output of an ``env = true`` template, read as environment variables.

The format is what Nomad reads with go-envparse: one ``KEY=VALUE`` per line, an
optional ``export`` before the key, blank lines and lines starting with ``#``
ignored (a ``#`` later in a line is part of the value, so values need no
escaping).  A value in double quotes may use ``\\n``, ``\\t``, ``\\"`` and ``\\\\``; one
in single quotes is taken literally; an unquoted value loses its surrounding
whitespace.  Keys are shell identifiers.  A line that does not fit raises
:class:`EnvFileError` naming the line.
"""

from __future__ import annotations

import re

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


class EnvFileError(ValueError):
    """The rendered text is not KEY=VALUE lines."""


def _unquote_double(text: str, line_no: int) -> str:
    out = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt not in _ESCAPES:
                raise EnvFileError(f"line {line_no}: invalid escape sequence \\{nxt}")
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


def parse_env(text: str) -> dict[str, str]:
    """``KEY=VALUE`` lines -> a dict (a later line wins)."""
    result: dict[str, str] = {}
    for line_no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep:
            raise EnvFileError(f"line {line_no}: missing delimiter '='")
        if not _KEY.fullmatch(key):
            raise EnvFileError(f"line {line_no}: invalid variable name {key!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = _unquote_double(value[1:-1], line_no)
        elif len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        elif value[:1] in ("'", '"'):
            raise EnvFileError(f"line {line_no}: unterminated quoted value")
        result[key] = value
    return result
