"""Reading what pot prints: its own messages, ``get-rss -J`` and ``last-run-stats``,
and which lines of ``pot start`` are pot's rather than the program's
(:func:`start_diversion`).

pot prints its messages on stdout (sometimes stderr), one per line, as
``===>  info``, ``###>  error`` and, when verbose, ``=====>  debug``.  Its
JSON comes from ``echo`` with values pasted in, so it is not always JSON:
``get-rss -J`` prints ``"TotalTicks": .500`` when the value is below one
(``bc`` drops the leading zero) and an empty value when ``rctl`` did not
report a field.  The parsers here repair those two shapes and otherwise
refuse what they cannot read, with a message quoting the text.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from typing import Any

from ..drivers.supervision import OutputDiversion

INFO_PREFIX = "===> "
ERROR_PREFIX = "###> "
DEBUG_PREFIX = "=====> "
MESSAGE_PREFIXES = (INFO_PREFIX, ERROR_PREFIX, DEBUG_PREFIX)

_BARE_FRACTION = re.compile(r'(?<=[:\[,])(\s*)(-?)\.(\d)')
_EMPTY_VALUE = re.compile(r'(?<=:)(\s*)(?=[,}\]])')


class PotOutputError(ValueError):
    """pot printed something that cannot be read; the message quotes it."""


class MessageLevel(enum.StrEnum):
    """pot's message severities (``_error``, ``_info``, ``_debug`` in its common.sh)."""

    ERROR = "error"
    INFO = "info"
    DEBUG = "debug"


@dataclass(frozen=True, slots=True)
class PotMessage:
    level: MessageLevel
    text: str


def parse_message(line: str) -> PotMessage | None:
    """The pot message on ``line``, or None for any other output."""
    for prefix, level in ((DEBUG_PREFIX, MessageLevel.DEBUG), (INFO_PREFIX, MessageLevel.INFO),
                          (ERROR_PREFIX, MessageLevel.ERROR)):
        if line.startswith(prefix):
            return PotMessage(level=level, text=line[len(prefix):].strip())
    return None


def message_line(level: MessageLevel, text: str) -> str:
    """The line pot prints for a message: ``echo "===> " "$@"`` (two spaces)."""
    prefix = {MessageLevel.ERROR: ERROR_PREFIX, MessageLevel.INFO: INFO_PREFIX,
              MessageLevel.DEBUG: DEBUG_PREFIX}[level]
    return f"{prefix} {text}"


def start_line(name: str) -> str:
    """What ``pot start`` prints just before it creates the jail and runs its program
    (``share/pot/start.sh``, ``_js_start``): the end of pot's own start-up messages."""
    return message_line(MessageLevel.INFO, f"Starting the pot {name}")


def jail_created_line(name: str) -> str:
    """What ``jail -c`` (run by ``pot start`` without ``-q``, right after
    :func:`start_line`) prints when the jail is up: not a pot message, no prefix."""
    return f"{name}: created"


# The host side of a bridged pot's epair, as pot names it.  Since pot commit "Use unique
# epaira interface names" (2022, in every 0.16 release) `_js_create_epair` renames it
# `printf "p%s%x%x" <4|6> "$(date +%s)" "$$"`: "p4" or "p6", the Unix time in hex (8 digits
# until 2106), the start's pid in hex -- at most 15 characters (IFNAMSIZ).  Older pots keep
# the kernel's "epair<N>a".  Either form may appear on either side of the colon.
EPAIR_NAME_PATTERN = r"(?:p[46][0-9a-f]{9,13}|epair[0-9]+a)"

# After the program ended, `pot start` sets the pot's status to "stopping" and that
# command echoes the pot's interfaces (share/pot/set-status.sh): "" for an inherit or alias
# pot, else "<ipv4 epair>:<ipv6 epair>" with a leading ':' stripped ("p4…:", "p4…:p6…",
# "p6…" for IPv6 only; "epair0a:" on old pots).
ENDED_LINE_PATTERN = rf"({EPAIR_NAME_PATTERN})?(:({EPAIR_NAME_PATTERN})?)?"


def running_lines(name: str) -> tuple[str, ...]:
    """The exact lines ``pot start`` may print after :func:`start_line` while the program
    may already run (or is about to): ``jail -c``'s own line, then ``_js_rss``'s notice,
    the post-start hook, the ``started`` status change (share/pot/start.sh)."""
    return (jail_created_line(name),
            message_line(MessageLevel.INFO, "memory constraint cannot be applies because rctl "
                                            "is not enabled - ignoring"),
            message_line(MessageLevel.INFO, f"Executing the post-start script for the pot "
                                            f"{name}"),
            message_line(MessageLevel.INFO, f"pot {name} is already started (???)"),
            message_line(MessageLevel.ERROR, f"pot {name} is not in a state where it can be "
                                             "started"))


def start_diversion(name: str, end_witness: str) -> OutputDiversion:
    """Which lines of ``pot start <name>`` are pot's own, to keep out of the task's logs:
    every message before :func:`start_line`, only :func:`running_lines` while the
    program runs, and from the moment pot writes ``end_witness`` (the pot's
    ``.last_run_stats``; "" if unknown: never) its messages and the bare interface
    list (:data:`ENDED_LINE_PATTERN`)."""
    return OutputDiversion(prefixes=MESSAGE_PREFIXES, start_line=start_line(name),
                           running_lines=running_lines(name), end_witness=end_witness,
                           ended_pattern=ENDED_LINE_PATTERN)


def split_output(text: str) -> tuple[list[PotMessage], list[str]]:
    """``(pot's messages, every other line)`` of a command's output."""
    messages, other = [], []
    for line in text.splitlines():
        message = parse_message(line)
        if message is None:
            other.append(line)
        else:
            messages.append(message)
    return messages, other


def _repair_json(text: str) -> Any:
    repaired = _BARE_FRACTION.sub(r"\1\g<2>0.\3", text)
    repaired = _EMPTY_VALUE.sub(r"\1null", repaired)
    try:
        return json.loads(repaired)
    except ValueError as err:
        raise PotOutputError(f"not JSON ({err}): {text.strip()[:300]!r}") from None


def _number(data: Any, *path: str) -> float:
    node = data
    for key in path:
        if not isinstance(node, dict):
            raise PotOutputError(f"{'.'.join(path)}: {key!r} is missing")
        node = node.get(key)
    if node is None:
        return 0.0  # rctl did not report it
    if isinstance(node, bool) or not isinstance(node, (int, float)):
        raise PotOutputError(f"{'.'.join(path)} is not a number: {node!r}")
    return float(node)


@dataclass(frozen=True, slots=True)
class ResourceUsage:
    """``get-rss -J``: memory in bytes, CPU as pot computes it (MHz used, percent)."""

    rss_bytes: int
    swap_bytes: int
    cpu_total_ticks: float
    cpu_percent: float


def parse_resource_usage(text: str) -> ResourceUsage:
    """Read ``get-rss -J`` output, repairing pot's known non-JSON shapes."""
    json_lines = [line for line in text.splitlines() if parse_message(line) is None]
    data = _repair_json("\n".join(json_lines))
    if not isinstance(data, dict) or "ResourceUsage" not in data:
        raise PotOutputError(f"no ResourceUsage in get-rss output: {text.strip()[:300]!r}")
    return ResourceUsage(
        rss_bytes=int(_number(data, "ResourceUsage", "MemoryStats", "RSS")),
        swap_bytes=int(_number(data, "ResourceUsage", "MemoryStats", "Swap")),
        cpu_total_ticks=_number(data, "ResourceUsage", "CpuStats", "TotalTicks"),
        cpu_percent=_number(data, "ResourceUsage", "CpuStats", "Percent"))


def parse_last_run_exit_code(text: str) -> int | None:
    """``last-run-stats``: the last run's exit code, None when pot does not know it."""
    json_lines = [line for line in text.splitlines() if parse_message(line) is None]
    data = _repair_json("\n".join(json_lines) or "{}")
    if not isinstance(data, dict):
        raise PotOutputError(f"last-run-stats is not a JSON object: {text.strip()[:300]!r}")
    code = data.get("ExitCode")
    if code is None:
        return None
    if isinstance(code, bool) or not isinstance(code, (int, float)) or code != int(code):
        raise PotOutputError(f"last-run-stats ExitCode is not a whole number: {code!r}")
    return int(code)
