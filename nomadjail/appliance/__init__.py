"""The server appliance: a pot jail whose environment becomes a running server.

Public API (used by ``nomadjail flavour cook``, :mod:`nomadjail.cli.flavour`)::

    cook(CookOptions(root=Path("/"), force=False, wait=120.0, ports=Ports(),
                     environ=None, tools=None, stream=None)) -> CookReport
    CookReport.service_action: ServiceAction (NONE, START, RESTART)
    settings_from_environment(env) -> ApplianceSettings   # raises InvalidEnvironment
    read_environment(environ, environment_file) -> dict[str, str]
    render_server_config(settings, *, data_dir, ports=Ports()) -> str
    templates_dir() -> Path

Modules::

    environment.py  the pot variables: reading /tmp/environment.sh, checking every one
    render.py       templates/*.j2 -> the agent's HCL config (Jinja2, the `hcl` filter)
    system.py       sysrc and service, as argv
    job_target.py   job import over the HTTP API
    cook.py         the steps, in order, idempotent

The shell around it stays thin: ``flavour/bootstrap.sh`` installs, ``rc.d/cook``
calls ``nomadjail flavour cook`` once, ``rc.d/nomadjail`` runs the agent.
"""

from __future__ import annotations

from .cook import CookOptions, CookReport, Layout, ServiceAction, cook
from .environment import (
    ApplianceSettings,
    InvalidEnvironment,
    read_environment,
    settings_from_environment,
)
from .render import Ports, render_server_config, templates_dir

__all__ = ["ApplianceSettings", "CookOptions", "CookReport", "InvalidEnvironment", "Layout",
           "Ports", "ServiceAction", "cook", "read_environment", "render_server_config",
           "settings_from_environment", "templates_dir"]
