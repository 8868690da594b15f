"""Go (RE2) regular expressions on Python's ``re``, for regexMatch and regexReplaceAll.

Translated: ``(?<name>...)`` -> ``(?P<name>...)``; ``\\z`` -> ``\\Z``; the POSIX
classes ``[[:alpha:]]`` and friends inside brackets; and in replacements Go's ``$1``,
``${1}``, ``$name``, ``${name}`` and ``$$`` (a ``$`` followed by a name that is not a
group expands to nothing, as in Go).  Not translated: ``\\pL``/``\\p{Greek}`` Unicode
classes and the ``(?U)`` flag (Python has neither; such patterns fail to compile
with a clear error), and Python accepts some patterns RE2 refuses (backreferences,
look-arounds) -- those work here where Go would refuse them.
"""

from __future__ import annotations

import functools
import re

_POSIX = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7F", "blank": "\\t ",
    "cntrl": "\\x00-\\x1F\\x7F", "digit": "0-9", "graph": "!-~", "lower": "a-z",
    "print": " -~", "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z", "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
}
_POSIX_RE = re.compile(r"\[:(\^?)([a-z]+):\]")
_NAME = re.compile(r"[A-Za-z0-9_]+")


class RegexError(ValueError):
    """A pattern that does not compile; the message names the pattern."""


def translate(pattern: str) -> str:
    out = pattern.replace("(?<", "(?P<").replace("(?P<=", "(?<=").replace("(?P<!", "(?<!")
    out = out.replace("\\z", "\\Z")

    def posix(match: re.Match[str]) -> str:
        cls = _POSIX.get(match.group(2))
        if cls is None:
            raise RegexError(f"invalid character class range: {match.group(0)}")
        if match.group(1):
            raise RegexError("negated POSIX classes are not supported")
        return cls
    return _POSIX_RE.sub(posix, out)


@functools.lru_cache(maxsize=256)
def compile_go(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(translate(pattern))
    except re.error as err:
        raise RegexError(f"error parsing regexp: {err}: `{pattern}`") from None


def expand(template: str, match: re.Match[str]) -> str:
    """Go's Regexp.Expand of a replacement template for one match."""
    out: list[str] = []
    i = 0
    while i < len(template):
        ch = template[i]
        if ch != "$" or i + 1 >= len(template):
            out.append(ch)
            i += 1
            continue
        nxt = template[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
            continue
        if nxt == "{":
            end = template.find("}", i + 2)
            name = template[i + 2:end] if end > 0 else ""
            if end < 0 or not _NAME.fullmatch(name):
                out.append("$")
                i += 1
                continue
            i = end + 1
        else:
            named = _NAME.match(template, i + 1)
            if not named:
                out.append("$")
                i += 1
                continue
            name = named.group(0)
            i = named.end()
        out.append(_group(match, name))
    return "".join(out)


def _group(match: re.Match[str], name: str) -> str:
    try:
        value = match.group(int(name)) if name.isdigit() else match.group(name)
    except IndexError:   # no such group: Go expands it to nothing
        return ""
    return value or ""


def replace_all(pattern: str, replacement: str, text: str) -> str:
    regex = compile_go(pattern)
    return regex.sub(lambda m: expand(replacement, m), text)


def match(pattern: str, text: str) -> bool:
    return compile_go(pattern).search(text) is not None
