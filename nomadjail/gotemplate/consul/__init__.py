"""consul-template's function set, over a :class:`DataSource` (see :mod:`.dependency`)."""

from __future__ import annotations

from .dependency import MISSING, DataSource, Dependency, DependencyKind

__all__ = ["MISSING", "DataSource", "Dependency", "DependencyKind"]
