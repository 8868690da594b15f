"""Go's ``strconv.ParseBool``: the spellings of true and false Nomad accepts
in query strings, flags and node attributes."""

from __future__ import annotations

GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_go_bool(text: str) -> bool:
    """True or False for Go's spellings; ValueError naming the text otherwise."""
    if text in GO_TRUE:
        return True
    if text in GO_FALSE:
        return False
    raise ValueError(f"invalid boolean {text!r}: expected one of 1, t, true, 0, f, false")
