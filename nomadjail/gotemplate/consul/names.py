"""Every function name a job template may use: Go's builtins, consul-template's, sprig's."""

from __future__ import annotations

FUNCTION_NAMES: frozenset[str] = frozenset()
