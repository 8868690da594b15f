"""Go's time layouts (``2006-01-02T15:04:05Z07:00``) for ``timestamp "layout"``."""

from __future__ import annotations

from datetime import datetime

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

RFC3339 = "2006-01-02T15:04:05Z07:00"


def _offset(when: datetime, sep: str, z: bool, seconds: bool = False) -> str:
    delta = when.utcoffset()
    total = int(delta.total_seconds()) if delta is not None else 0
    if z and total == 0:
        return "Z"
    sign = "-" if total < 0 else "+"
    total = abs(total)
    text = f"{sign}{total // 3600:02d}{sep}{total // 60 % 60:02d}"
    if seconds:
        text += f"{sep}{total % 60:02d}"
    return text


def _tokens(when: datetime) -> tuple[list[tuple[str, str]], str]:
    """(layout token, rendering), longest tokens first so prefixes do not steal them."""
    hour12 = when.hour % 12 or 12
    micro = when.microsecond
    nanos = f"{micro:06d}000"
    tz = when.tzname() or "UTC"
    return [
        ("January", _MONTHS[when.month - 1]), ("Monday", _DAYS[when.weekday()]),
        ("Z07:00:00", _offset(when, ":", True, True)),
        ("-07:00:00", _offset(when, ":", False, True)),
        ("Z070000", _offset(when, "", True, True)), ("-070000", _offset(when, "", False, True)),
        ("Z07:00", _offset(when, ":", True)), ("-07:00", _offset(when, ":", False)),
        ("Z0700", _offset(when, "", True)), ("-0700", _offset(when, "", False)),
        ("Z07", _offset(when, "", True)[:3]), ("-07", _offset(when, "", False)[:3]),
        ("2006", f"{when.year:04d}"), ("Jan", _MONTHS[when.month - 1][:3]),
        ("Mon", _DAYS[when.weekday()][:3]), ("MST", tz),
        ("002", f"{when.timetuple().tm_yday:03d}"),
        ("_2", f"{when.day:2d}"), ("01", f"{when.month:02d}"), ("02", f"{when.day:02d}"),
        ("03", f"{hour12:02d}"), ("04", f"{when.minute:02d}"), ("05", f"{when.second:02d}"),
        ("06", f"{when.year % 100:02d}"), ("15", f"{when.hour:02d}"),
        ("PM", "PM" if when.hour >= 12 else "AM"),
        ("pm", "pm" if when.hour >= 12 else "am"), ("1", str(when.month)), ("2", str(when.day)),
        ("3", str(hour12)), ("4", str(when.minute)), ("5", str(when.second)),
    ], nanos


def format_time(when: datetime, layout: str) -> str:
    """``when`` formatted by a Go layout string."""
    tokens, nanos = _tokens(when)
    out: list[str] = []
    i = 0
    while i < len(layout):
        # Fractional seconds: .000 / ,000 (fixed) and .999 (trailing zeros dropped).
        if layout[i] in ".," and i + 1 < len(layout) and layout[i + 1] in "09":
            digit = layout[i + 1]
            j = i + 1
            while j < len(layout) and layout[j] == digit:
                j += 1
            if j >= len(layout) or not layout[j].isdigit():
                width = min(j - i - 1, 9)
                frac = nanos[:width]
                if digit == "9":
                    frac = frac.rstrip("0")
                    out.append(layout[i] + frac if frac else "")
                else:
                    out.append(layout[i] + frac)
                i = j
                continue
        for token, text in tokens:
            if layout.startswith(token, i):
                out.append(text)
                i += len(token)
                break
        else:
            out.append(layout[i])
            i += 1
    return "".join(out)
