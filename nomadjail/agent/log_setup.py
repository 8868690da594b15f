"""Agent log lines in Nomad's shape: ``2024-05-01T12:00:00.000Z [INFO]  agent: msg``."""

from __future__ import annotations

import logging
import sys
import time

# Nomad's level names; Python has no TRACE, so it maps to DEBUG.
LEVELS = {"TRACE": logging.DEBUG, "DEBUG": logging.DEBUG, "INFO": logging.INFO,
          "WARN": logging.WARNING, "WARNING": logging.WARNING, "ERROR": logging.ERROR,
          "OFF": logging.CRITICAL + 10}
_NAMES = {logging.DEBUG: "DEBUG", logging.INFO: "INFO", logging.WARNING: "WARN",
          logging.ERROR: "ERROR", logging.CRITICAL: "ERROR"}


class NomadFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        level = f"[{_NAMES.get(record.levelno, record.levelname)}]"
        name = record.name.removeprefix("nomadjail.")
        text = f"{stamp}.{int(record.msecs):03d}Z {level:<7} {name}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def setup_logging(level: str) -> None:
    """Send every nomadjail logger to stderr at ``level`` (TRACE..ERROR, OFF)."""
    try:
        numeric = LEVELS[level.upper()]
    except KeyError:
        raise ValueError(f"invalid log level {level!r}: expected one of "
                         f"{', '.join(LEVELS)}") from None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(NomadFormatter())
    root = logging.getLogger("nomadjail")
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    root.propagate = False
    # The raft library logs through the root logger; keep its noise at warnings.
    logging.getLogger("pysyncobj").setLevel(max(numeric, logging.WARNING))
