"""Identifiers: random UUIDs, as Nomad uses for every object."""

from __future__ import annotations

import uuid


def generate_uuid() -> str:
    return str(uuid.uuid4())


def short_id(full: str) -> str:
    """The 8-character prefix the CLI prints."""
    return full[:8]
