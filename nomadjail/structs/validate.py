"""The error a failed validation raises: every problem in one pass, each saying where.

Messages follow Nomad's wording (``Task group web validation failed: ...``,
``Constraint 2 validation failed: ...``) so operators who know Nomad
recognise them.  The rules themselves live beside the structs they check
(:func:`~nomadjail.structs.job.job_errors`,
:func:`~nomadjail.structs.task_group.group_errors`, ...), so this module
imports no struct and every struct module may import it.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import BadRequest


class ValidationError(BadRequest):
    """A job (or other input) broke one or more rules; ``errors`` lists them all."""

    def __init__(self, errors: Iterable[str], what: str = "job validation failed"):
        self.errors = list(errors)
        super().__init__(multierror(self.errors) if self.errors else what)
        self.what = what


def multierror(errors: list[str]) -> str:
    """The text of Go's go-multierror, which Nomad's validation errors use, so scripts
    that match Nomad's messages keep working."""
    head = "1 error occurred:" if len(errors) == 1 else f"{len(errors)} errors occurred:"
    return head + "\n" + "".join(f"\t* {e}\n" for e in errors) + "\n"
