"""Go duration strings (``"1h30m"``, ``"500ms"``) <-> integer nanoseconds.

Job files, agent configs and CLI flags spell durations the Go way; the API and
the structs carry integer nanoseconds.  ``format_duration`` prints what Go's
``time.Duration.String()`` prints, so CLI output matches ``nomad``'s.
"""

from __future__ import annotations

import re

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> int:
    """Nanoseconds in a Go duration string; raises ValueError naming the text."""
    original = text
    text = text.strip()
    sign = 1
    if text and text[0] in "+-":
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if text == "0":
        return 0
    if not text:
        raise ValueError(f"invalid duration {original!r}")
    total = 0.0
    pos = 0
    while pos < len(text):
        match = _PART.match(text, pos)
        if not match:
            raise ValueError(f"invalid duration {original!r}: expected a number and a unit "
                             "(ns, us, ms, s, m, h), as in \"30s\" or \"1h30m\"")
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return sign * round(total)


def _format_fraction(value: int, scale: int) -> str:
    whole, frac = divmod(value, scale)
    if not frac:
        return str(whole)
    digits = str(frac).rjust(len(str(scale)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def format_duration(ns: int) -> str:
    """Go's ``time.Duration.String()``: ``1h0m0s``, ``30s``, ``1.5s``, ``250ms``."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{_format_fraction(ns, 1_000)}µs"
    if ns < 1_000_000_000:
        return f"{sign}{_format_fraction(ns, 1_000_000)}ms"
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = _format_fraction(rest, 1_000_000_000)
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"
