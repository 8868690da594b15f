"""Flags spelled the way Nomad spells them.

Nomad's Go flag package takes ``-address=http://...``, ``-address http://...``
and ``--address ...`` alike.  Click does the same when an option declares both
the single- and the double-dash spelling, which :func:`nomad_option` does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click


def nomad_option(flag: str, *names: str, **kwargs: Any) -> Callable:
    """``nomad_option("-data-dir", "data_dir")`` accepts -data-dir and --data-dir."""
    if not flag.startswith("-") or flag.startswith("--"):
        raise ValueError(f"give the single-dash spelling, got {flag!r}")
    return click.option(flag, "-" + flag, *names, **kwargs)
