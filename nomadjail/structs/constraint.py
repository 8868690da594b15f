"""Constraints and affinities: ``LTarget operand RTarget`` rules on node attributes.

A constraint filters nodes, an affinity ranks them; both name a node attribute
(``${attr.kernel.name}``), an operand and a value.  :func:`constraint_errors`
holds Nomad's ``Constraint.Validate`` rules, which the job, group and task
checks apply to each of theirs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .codec import field
from .versions import parse_version_constraint

CONSTRAINT_OPERANDS = frozenset({
    "=", "==", "is", "!=", "not", "<", "<=", ">", ">=", "regexp", "version", "semver",
    "set_contains", "set_contains_all", "set_contains_any", "is_set", "is_not_set",
    "distinct_hosts", "distinct_property",
})
_NO_RTARGET = frozenset({"is_set", "is_not_set", "distinct_hosts"})


@dataclass(slots=True)
class Constraint:
    l_target: str = field("", key="LTarget")
    r_target: str = field("", key="RTarget")
    operand: str = "="

    def __str__(self) -> str:
        return f"{self.l_target} {self.operand} {self.r_target}".strip()


@dataclass(slots=True)
class Affinity:
    l_target: str = field("", key="LTarget")
    r_target: str = field("", key="RTarget")
    operand: str = "="
    weight: int = 50


def constraint_errors(c: Constraint) -> Iterable[str]:
    if c.operand not in CONSTRAINT_OPERANDS:
        yield f"Unknown constraint type {c.operand!r}"
        return
    if c.operand not in _NO_RTARGET and c.operand != "distinct_property" and c.r_target == "":
        yield f"No RTarget provided for operator {c.operand!r}"
    if c.operand not in ("distinct_hosts",) and c.l_target == "":
        yield f"No LTarget provided but is required by constraint {c.operand!r}"
    if c.operand == "regexp":
        try:
            re.compile(c.r_target)
        except re.error as err:
            yield f"Regular expression failed to compile: {err}"
    if c.operand in ("version", "semver"):
        try:
            parse_version_constraint(c.r_target)
        except ValueError as err:
            yield f"Version constraint is invalid: {err}"
