"""Constraint evaluation against one node, with Nomad's operators and targets.

A constraint compares a left and a right target.  A target is either a
literal or an interpolation of the node: ``${attr.kernel.name}``,
``${meta.rack}``, ``${node.unique.id}``, ``${node.unique.name}``,
``${node.datacenter}``, ``${node.class}``, ``${node.pool}``.  A target that
does not resolve (a missing attribute) is "not found", which makes every
operator except ``!=``, ``is_not_set`` and the distinct ones false, exactly
as in Nomad.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..structs import Constraint, Node, version_matches

DISTINCT_HOSTS = "distinct_hosts"
DISTINCT_PROPERTY = "distinct_property"
ATTRIBUTE_IS_SET = "is_set"
ATTRIBUTE_IS_NOT_SET = "is_not_set"

# Targets that name one node: a class-wide verdict cannot be cached for them.
_UNIQUE_MARKERS = ("${node.unique.", "${attr.unique.", "${meta.unique.")
_INTEGER = re.compile(r"[+-]?[0-9]+")


def resolve_target(target: str, node: Node) -> tuple[str, bool]:
    """The value ``target`` names on ``node`` and whether it exists."""
    if not target.startswith("${"):
        return target, True
    if target == "${node.unique.id}":
        return node.id, True
    if target == "${node.datacenter}":
        return node.datacenter, True
    if target == "${node.unique.name}":
        return node.name, True
    if target == "${node.class}":
        return node.node_class, True
    if target == "${node.pool}":
        return node.node_pool, True
    if target.startswith("${attr."):
        value = node.attributes.get(_strip(target, "${attr."))
        return ("", False) if value is None else (value, True)
    if target.startswith("${meta."):
        value = node.meta.get(_strip(target, "${meta."))
        return ("", False) if value is None else (value, True)
    return "", False


def _strip(target: str, prefix: str) -> str:
    inner = target[len(prefix):]
    return inner[:-1] if inner.endswith("}") else inner


def escapes_node_class(constraints: list[Constraint]) -> bool:
    """Whether any constraint names a single node, so feasibility must be
    checked node by node instead of once per computed node class."""
    return any(marker in target for c in constraints for target in (c.l_target, c.r_target)
               for marker in _UNIQUE_MARKERS)


class ConstraintChecker:
    """Checks constraints; compiled regular expressions are kept for the eval."""

    __slots__ = ("_regexps",)

    def __init__(self) -> None:
        self._regexps: dict[str, re.Pattern[str] | None] = {}

    def first_unmet(self, constraints: list[Constraint], node: Node) -> Constraint | None:
        """The first constraint ``node`` does not meet, or None."""
        for constraint in constraints:
            if not self.meets(constraint, node):
                return constraint
        return None

    def meets(self, constraint: Constraint, node: Node) -> bool:
        operand = constraint.operand
        if operand in (DISTINCT_HOSTS, DISTINCT_PROPERTY):
            return True  # enforced against proposed allocations, not here
        left, left_found = resolve_target(constraint.l_target, node)
        right, right_found = resolve_target(constraint.r_target, node)
        return self.check(operand, left, right, left_found, right_found)

    def check(self, operand: str, left: str, right: str, left_found: bool,
              right_found: bool) -> bool:
        if operand in ("=", "==", "is"):
            return left_found and right_found and left == right
        if operand in ("!=", "not"):
            return left != right
        if operand in ("<", "<=", ">", ">="):
            return left_found and right_found and _check_order(operand, left, right)
        if operand == ATTRIBUTE_IS_SET:
            return left_found
        if operand == ATTRIBUTE_IS_NOT_SET:
            return not left_found
        if operand in ("version", "semver"):
            return left_found and right_found and version_matches(left, right)
        if operand == "regexp":
            return left_found and right_found and self._regexp_match(left, right)
        if operand in ("set_contains", "set_contains_all"):
            return left_found and right_found and _set_contains_all(left, right)
        if operand == "set_contains_any":
            return left_found and right_found and _set_contains_any(left, right)
        return False

    def _regexp_match(self, value: str, pattern: str) -> bool:
        if pattern not in self._regexps:
            try:
                self._regexps[pattern] = re.compile(pattern)
            except re.error:
                self._regexps[pattern] = None
        compiled = self._regexps[pattern]
        return compiled is not None and compiled.search(value) is not None


_ORDER: dict[str, Callable[[object, object], bool]] = {
    "<": lambda a, b: a < b,  # type: ignore[operator]
    "<=": lambda a, b: a <= b,  # type: ignore[operator]
    ">": lambda a, b: a > b,  # type: ignore[operator]
    ">=": lambda a, b: a >= b,  # type: ignore[operator]
}


def _check_order(operand: str, left: str, right: str) -> bool:
    """Numeric when both sides are numbers (integers first, then floats),
    lexical otherwise -- Nomad's checkOrder."""
    compare = _ORDER[operand]
    if _INTEGER.fullmatch(left) and _INTEGER.fullmatch(right):
        return compare(int(left), int(right))
    left_number, right_number = _as_float(left), _as_float(right)
    if left_number is not None and right_number is not None:
        return compare(left_number, right_number)
    return compare(left, right)


def _as_float(text: str) -> float | None:
    if not text or text != text.strip() or "_" in text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _split_set(text: str) -> set[str]:
    return {part.strip() for part in text.split(",")}


def _set_contains_all(left: str, right: str) -> bool:
    have = _split_set(left)
    return all(part.strip() in have for part in right.split(","))


def _set_contains_any(left: str, right: str) -> bool:
    have = _split_set(left)
    return any(part.strip() in have for part in right.split(","))


def datacenter_matcher(patterns: list[str]) -> Callable[[str], bool]:
    """A predicate for "is this datacenter one of ``patterns``", where a
    pattern may use ``*`` as a wildcard (``dc*``, ``*-east``, ``*``)."""
    exact = {p for p in patterns if "*" not in p}
    globs = [p.split("*") for p in patterns if "*" in p]
    if any(parts == ["", ""] for parts in globs):
        return lambda datacenter: True

    def matches(datacenter: str) -> bool:
        return datacenter in exact or any(_glob_match(parts, datacenter) for parts in globs)

    return matches


def _glob_match(parts: list[str], subject: str) -> bool:
    """Match ``subject`` against a pattern already split on ``*``."""
    first, last = parts[0], parts[-1]
    if not subject.startswith(first) or not subject.endswith(last):
        return False
    if len(first) + len(last) > len(subject):
        return False
    position = len(first)
    end = len(subject) - len(last)
    for middle in parts[1:-1]:
        found = subject.find(middle, position, end)
        if found < 0:
            return False
        position = found + len(middle)
    return True
