"""Text layout exactly as the ``nomad`` CLI prints it.

Nomad lays out tables with ryanuber/columnize (``|``-separated cells,
columns padded to the widest cell, two spaces between, the last column not
padded, blank cells shown as ``<none>``), key/value blocks with `` = ``
between the columns, times as ISO 8601 in local time and ages as "2m ago".
Scripts parse this output, so the helpers here reproduce it cell for cell.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ..gotemplate.strconv import go_quote as strconv_quote
from ..structs import parse_rfc3339

SHORT_ID = 8
FULL_ID = 36
EMPTY = "<none>"


def columnize(lines: Iterable[str], *, glue: str = "  ", empty: str = "", trim: bool = True,
              prefix: str = "") -> str:
    """columnize.Format: align ``|``-separated cells into columns."""
    rows: list[list[str]] = []
    for line in lines:
        cells = line.split("|")
        if trim:
            cells = [cell.strip() for cell in cells]
        if empty:
            cells = [cell if cell != "" else empty for cell in cells]
        rows.append(cells)
    widths: list[int] = []
    for cells in rows:
        for i, cell in enumerate(cells):
            if i >= len(widths):
                widths.append(len(cell))
            elif len(cell) > widths[i]:
                widths[i] = len(cell)
    out = []
    for cells in rows:
        parts = [cell.ljust(widths[i]) + glue if i < len(cells) - 1 else cell
                 for i, cell in enumerate(cells)]
        out.append(prefix + "".join(parts))
    return "\n".join(out)


def format_list(lines: Iterable[str]) -> str:
    """A table whose blank cells read ``<none>`` (so awk sees every column)."""
    return columnize(lines, empty=EMPTY)


def format_list_with_spaces(lines: Iterable[str]) -> str:
    """A table whose blank cells stay blank."""
    return columnize(lines)


def format_kv(lines: Iterable[str]) -> str:
    """``Key = value`` lines, keys padded to the longest; blank values read ``<none>``."""
    return columnize(lines, glue=" = ", empty=EMPTY)


def go_quote(value: object) -> str:
    """Go's ``%q`` of a string (``None`` reads as the empty string)."""
    return strconv_quote("" if value is None else str(value))


def limit(text: str, length: int) -> str:
    return text if len(text) < length else text[:length]


def format_time_s(seconds: float) -> str:
    """Go's ``2006-01-02T15:04:05Z07:00`` in local time; "" for times before 1970-01-01T00:00:01."""
    if seconds < 1:
        return ""
    moment = datetime.fromtimestamp(int(seconds), tz=UTC).astimezone()
    offset = moment.utcoffset()
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if not offset:
        return text + "Z"
    total = int(offset.total_seconds())
    sign = "+" if total >= 0 else "-"
    total = abs(total)
    return f"{text}{sign}{total // 3600:02d}:{total % 3600 // 60:02d}"


def format_time_ns(ns: int) -> str:
    return format_time_s(ns // 1_000_000_000) if ns > 0 else ""


def format_rfc3339(text: str) -> str:
    """An RFC 3339 timestamp from the API, formatted like format_time_ns ("" for Go's zero)."""
    try:
        return format_time_ns(parse_rfc3339(text)) if text else ""
    except (ValueError, IndexError):
        return text


def format_task_time(text: str) -> str:
    """Task state times: ``N/A`` for Go's zero time."""
    ns = rfc3339_ns(text)
    return "N/A" if ns == 0 else format_time_ns(ns)


def rfc3339_ns(text: str) -> int:
    """Nanoseconds of an RFC 3339 time from the API; 0 for Go's zero time, "" or garbage."""
    try:
        return parse_rfc3339(text) if text else 0
    except (ValueError, IndexError):
        return 0


def pretty_time_diff(first_ns: int, now_s: float) -> str:
    """Nomad's "2m3s ago" / "1h5s from now": the two largest non-zero units, "" for zero."""
    if first_ns == 0:
        return ""
    first = _round_half_up(first_ns / 1e9)
    second = _round_half_up(now_s)
    suffix = "ago"
    if second >= first:
        seconds = second - first
    else:
        seconds = first - second
        suffix = "from now"
    parts: list[str] = []  # least significant first
    units = ((60, "s"), (60, "m"), (24, "h"), (30, "d"), (12, "mo"))
    rest = seconds
    for size, name in units:
        value = rest % size
        rest //= size
        if value:
            parts.append(f"{value}{name}")
        if rest == 0:
            break
    if rest:
        parts.append(f"{rest}y")
    if not parts:
        return "0s " + suffix
    return "".join(reversed(parts[-2:])) + " " + suffix


def _round_half_up(seconds: float) -> int:
    return int(seconds + 0.5) if seconds >= 0 else -int(-seconds + 0.5)


def ibytes(size: int) -> str:
    """go-humanize's IBytes: ``300 MiB``, ``1.5 GiB``, ``512 B``."""
    if size < 10:
        return f"{size} B"
    names = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    exponent = 0
    scaled = size
    while scaled >= 1024 and exponent < len(names) - 1:
        scaled //= 1024
        exponent += 1
    value = int(size / (1024 ** exponent) * 10 + 0.5) / 10
    if value < 10:
        return f"{value:.1f} {names[exponent]}"
    return f"{value:.0f} {names[exponent]}"


def to_json(data: Any) -> str:
    """JSON the way ``nomad ... -json`` prints it: 4-space indent, HTML characters as is."""
    return json.dumps(data, indent=4, ensure_ascii=False)


def status_string(status: str, stop: bool) -> str:
    return f"{status} (stopped)" if stop else status


# ---------------------------------------------------------------- colours

_CODES = {
    "default": "39", "_default_": "49", "black": "30", "red": "31", "green": "32",
    "yellow": "33", "blue": "34", "magenta": "35", "cyan": "36", "light_gray": "37",
    "dark_gray": "90", "light_red": "91", "light_green": "92", "light_yellow": "93",
    "light_blue": "94", "light_magenta": "95", "light_cyan": "96", "white": "97",
    "bold": "1", "dim": "2", "underline": "4", "blink_slow": "5", "blink_fast": "6",
    "invert": "7", "hidden": "8", "reset": "0", "reset_bold": "21",
}
_CODE_RE = re.compile(r"(?i)\[[a-z0-9_-]+\]")


def colorize(text: str, enabled: bool) -> str:
    """mitchellh/colorstring: ``[bold]x[reset]`` to ANSI codes, or stripped when disabled.

    Bracketed words that are not colour names (``[web]``) are left alone.
    """
    def replace(match: re.Match[str]) -> str:
        code = _CODES.get(match.group(0)[1:-1])
        if code is None:
            return match.group(0)
        return f"\033[{code}m" if enabled else ""

    out = _CODE_RE.sub(replace, text)
    if enabled and out != text:
        out += "\033[0m"
    return out

