"""The pot task driver: Nomad tasks in FreeBSD jails managed by ``pot``.

The only package that builds ``pot`` command lines (:mod:`.argv`).  Modules:

``task_config``  the task's ``config`` block (the Go nomad-pot-driver's keys), validated
``naming``       the pot name, computed as ``pot prepare`` computes it
``argv``         every pot command as an argv list
``pot_cli``      running one pot command (clean environment, timeouts, messages)
``pot_output``   pot's messages, ``get-rss -J`` and ``last-run-stats``, read defensively
``stats``        rate-limited, retrying resource usage samples
``driver``       :class:`PotDriver`, the driver protocol
``plugin``       ``plugin "pot" { config { ... } }`` and registration
"""

from __future__ import annotations

from .driver import PotDriver, PotDriverSettings
from .plugin import build_pot_driver, register, settings_from_plugin_config
from .task_config import PotTaskConfig, parse_pot_config, validate_pot_config, validate_pot_task

__all__ = ["PotDriver", "PotDriverSettings", "PotTaskConfig", "build_pot_driver",
           "parse_pot_config", "register", "settings_from_plugin_config", "validate_pot_config",
           "validate_pot_task"]
