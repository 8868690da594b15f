"""Where something is in a file, and the one error every HCL problem becomes.

Every mistake in a job file or an agent config -- a syntax error, an unknown
block, a value of the wrong type, a function called wrongly -- is reported as a
:class:`JobspecError` carrying ``filename:line:column``, so the user can jump
straight to it.  ``str(err)`` is the line the CLI prints::

    job.nomad:12:5: unknown block "taks" in group "web"; did you mean "task"?
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ...structs import BadRequest


@dataclass(frozen=True, slots=True)
class Position:
    """A 1-based line and column (in characters) inside ``filename``."""

    filename: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}:{self.column}"


class JobspecError(BadRequest):
    """A problem in HCL text, located at ``filename:line:column``.

    It is a :class:`~nomadjail.structs.BadRequest`, so the HTTP layer answers
    400 and the CLI prints ``str(err)`` without a traceback.
    """

    def __init__(self, message: str, pos: Position):
        super().__init__(f"{pos}: {message}")
        self.message = message
        self.pos = pos
        self.filename = pos.filename
        self.line = pos.line
        self.column = pos.column

    # Keep the error picklable: it crosses thread and process pools.
    def __reduce__(self) -> tuple[type, tuple[str, Position]]:
        return (type(self), (self.message, self.pos))


def quote(text: str, limit: int = 60) -> str:
    """``text`` in double quotes with escapes, shortened past ``limit`` characters."""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return json.dumps(text, ensure_ascii=False)
