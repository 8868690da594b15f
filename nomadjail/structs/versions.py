"""Version strings and constraints as hashicorp/go-version reads them.

Used by the ``version`` and ``semver`` constraint operators:
``attribute = "${attr.kernel.version}"``, ``value = ">= 13.0, < 15"``.
Operators: ``=`` ``!=`` ``>`` ``<`` ``>=`` ``<=`` and ``~>`` (pessimistic).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

_VERSION = re.compile(r"^v?(\d+(?:\.\d+)*)(?:-([0-9A-Za-z\-~]+(?:\.[0-9A-Za-z\-~]+)*))?"
                      r"(?:\+([0-9A-Za-z\-~]+(?:\.[0-9A-Za-z\-~]+)*))?$")
_CONSTRAINT = re.compile(r"^\s*(~>|>=|<=|!=|=|>|<)?\s*(\S+)\s*$")


class Version(NamedTuple):
    segments: tuple[int, ...]
    prerelease: str
    given: int  # how many segments were written ("1.2" -> 2), for "~>"

    def key(self) -> tuple:
        # A pre-release sorts before its release; go-version compares pre-release
        # strings part by part, numbers numerically.
        pre: tuple = ((1,),) if not self.prerelease else tuple(
            (0, int(p), "") if p.isdigit() else (0, -1, p) for p in self.prerelease.split("."))
        return (self.segments, pre)


def parse_version(text: str) -> Version:
    match = _VERSION.match(text.strip())
    if not match:
        raise ValueError(f"malformed version: {text!r}")
    parts = [int(p) for p in match.group(1).split(".")]
    given = len(parts)
    parts += [0] * (3 - len(parts))
    return Version(tuple(parts), match.group(2) or "", given)


def _pessimistic(have: Version, want: Version) -> bool:
    if have.key() < want.key():
        return False
    prefix = max(want.given - 1, 1)
    return have.segments[:prefix] == want.segments[:prefix]


_OPS: dict[str, Callable[[Version, Version], bool]] = {
    "": lambda a, b: a.key() == b.key(),
    "=": lambda a, b: a.key() == b.key(),
    "!=": lambda a, b: a.key() != b.key(),
    ">": lambda a, b: a.key() > b.key(),
    "<": lambda a, b: a.key() < b.key(),
    ">=": lambda a, b: a.key() >= b.key(),
    "<=": lambda a, b: a.key() <= b.key(),
    "~>": _pessimistic,
}

VersionConstraint = list[tuple[str, Version]]


def parse_version_constraint(text: str) -> VersionConstraint:
    """``">= 1.2, < 2"`` -> [(">=", 1.2.0), ("<", 2.0.0)]; ValueError if malformed."""
    result = []
    for part in text.split(","):
        match = _CONSTRAINT.match(part)
        if not match:
            raise ValueError(f"malformed constraint: {text!r}")
        result.append((match.group(1) or "", parse_version(match.group(2))))
    return result


def version_matches(version: str, constraint: str) -> bool:
    """Whether ``version`` satisfies every part of ``constraint``; False if either is bad."""
    try:
        have = parse_version(version)
        return all(_OPS[op](have, want) for op, want in parse_version_constraint(constraint))
    except ValueError:
        return False
