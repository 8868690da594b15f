"""``plugin "pot" { config { ... } }``: building the driver from the agent config.

::

    plugin "pot" {
      config {
        pot_bin        = "/usr/local/bin/pot"   # default: "pot" on FreeBSD's standard PATH
        stats_interval = "1s"                   # at most one `pot get-rss` per pot per interval
        command_timeout = "1m"                  # one pot command (prepare: prepare_timeout)
        prepare_timeout = "15m"                 # `pot prepare` may download the image
        destroy_timeout = "1m"                  # retrying `pot destroy -F`
        start_timeout   = "1m"                  # for a started pot's jail to come up
      }
    }

``test_only_allow_any_os = true`` skips the FreeBSD check of the
fingerprint so the test double can stand in for pot on Linux; it is for the
test suite only, logs a warning, and shows in the driver's health
description.

:func:`register` makes the driver known to the driver registry: clients
build it from this block, servers validate every pot task's config (and its
``port_map`` labels against the group's ports) when a job is submitted.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from ..drivers.base import Driver
from ..drivers.registry import register_driver
from ..structs import parse_duration
from .driver import NAME, PotDriver, PotDriverSettings
from .task_config import validate_pot_config, validate_pot_task

_DURATIONS = ("stats_interval", "command_timeout", "prepare_timeout", "destroy_timeout",
              "start_timeout")
PLUGIN_KEYS = ("enabled", "pot_bin", "test_only_allow_any_os", *_DURATIONS)


def _where(key: str) -> str:
    return f'plugin "pot" config.{key}'


def settings_from_plugin_config(config: Mapping[str, Any]) -> PotDriverSettings:
    """The driver settings; raises ValueError naming the bad key and quoting its value."""
    settings = PotDriverSettings()
    for key, value in config.items():
        if key not in PLUGIN_KEYS:
            close = difflib.get_close_matches(str(key), PLUGIN_KEYS, n=1)
            hint = f'; did you mean "{close[0]}"?' if close else ""
            raise ValueError(f'unknown key {key!r} in plugin "pot" config{hint}')
        if key == "pot_bin":
            if not isinstance(value, str) or not value:
                raise ValueError(f"{_where(key)}: expected the pot executable's path, "
                                 f"got {value!r}")
            settings.pot_bin = value
        elif key in ("test_only_allow_any_os", "enabled"):
            if not isinstance(value, bool):
                raise ValueError(f"{_where(key)}: expected true or false, got {value!r}")
            if key == "test_only_allow_any_os":
                settings.test_only_allow_any_os = value
        else:
            seconds = _seconds(key, value)
            setattr(settings, key, seconds)
    return settings


def _seconds(key: str, value: Any) -> float:
    if isinstance(value, str):
        try:
            seconds = parse_duration(value) / 1e9
        except ValueError as err:
            raise ValueError(f"{_where(key)}: {err}") from None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise ValueError(f'{_where(key)}: expected a duration such as "10s", got {value!r}')
    if seconds <= 0:
        raise ValueError(f"{_where(key)}: must be positive, got {value!r}")
    return seconds


def build_pot_driver(config: Mapping[str, Any]) -> Driver:
    return PotDriver(settings_from_plugin_config(config))


def register() -> None:
    """Make ``driver = "pot"`` buildable and validated (idempotent)."""
    register_driver(NAME, build_pot_driver, validator=validate_pot_config,
                    task_validator=validate_pot_task)
