"""The pot task driver: Nomad tasks in FreeBSD jails managed by ``pot``.

The only package that builds ``pot`` command lines (:mod:`.argv`).  Modules:

``task_config``  the task's ``config`` block (the Go nomad-pot-driver's keys), validated
``naming``       the pot name, computed as ``pot prepare`` computes it
``argv``         every pot command as an argv list
``pot_cli``      finding pot, running one pot command (clean environment, timeouts)
``pot_output``   pot's messages, ``get-rss -J`` and ``last-run-stats``, read defensively;
                 which lines of ``pot start`` are pot's own
``pots``         what the driver asks of one pot, pot's quirks handled (destroy until
                 gone, signal until pot knows the program, where its files are)
``resolv_conf``  the group's ``dns`` block as the pot's resolv.conf
``prepare``      creating and configuring a pot, up to ``pot start``
``pot_network``  where the task is reached (an alias pot's own address), for services
``task_files``   the driver's files in the task directory (the task's environment)
``pot_task``     one task as the driver tracks it; its handle and start record
``exit_status``  the task's exit from ``pot start``'s (pure)
``recovery``     what an interrupted start left behind (pot commands still running)
``stats``        rate-limited, retrying resource usage samples
``images``       the images the node holds, as node attributes for the scheduler
``driver``       :class:`PotDriver`, the driver protocol
``plugin``       ``plugin "pot" { config { ... } }`` and registration

``pot start`` runs under the drivers' shared executor,
:class:`nomadjail.drivers.supervision.Supervisor`.
"""

from __future__ import annotations

from .driver import PotDriver, PotDriverSettings
from .plugin import build_pot_driver, register, settings_from_plugin_config
from .task_config import PotTaskConfig, parse_pot_config, validate_pot_config, validate_pot_task

__all__ = ["PotDriver", "PotDriverSettings", "PotTaskConfig", "build_pot_driver",
           "parse_pot_config", "register", "settings_from_plugin_config", "validate_pot_config",
           "validate_pot_task"]
