"""The server config, rendered from ``templates/*.j2`` with Jinja2.

Templates ship inside the wheel (``nomadjail/templates``, hatch's
force-include) and live at the top of the source tree (``templates/``);
:func:`templates_dir` finds whichever exists.  Values reach HCL only through
the ``hcl`` filter, which writes a literal -- a string is quoted and escaped,
``${`` and ``%{`` included -- so no setting can change the config's structure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from .environment import ApplianceSettings

SERVER_TEMPLATE = "nomadjail-server.hcl.j2"
SERVER_CONFIG_NAME = "server.hcl"
LOG_LEVEL = "INFO"


@dataclass(frozen=True, slots=True)
class Ports:
    http: int = 4646
    rpc: int = 4647
    serf: int = 4648


def templates_dir(package: Path | None = None) -> Path:
    """``nomadjail/templates`` in an installed wheel, else ``templates/`` of the source
    tree (``package`` is the ``nomadjail`` package directory; default: this one)."""
    package = package or Path(__file__).resolve().parent.parent
    for candidate in (package / "templates", package.parent / "templates"):
        if (candidate / SERVER_TEMPLATE).is_file():
            return candidate
    raise FileNotFoundError(f"{SERVER_TEMPLATE} is in neither {package / 'templates'} nor "
                            f"{package.parent / 'templates'}: is nomadjail installed "
                            "completely?")


def hcl_literal(value: Any) -> str:
    """``value`` as an HCL literal: strings quoted, with template sequences escaped."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value).replace("${", "$${").replace("%{", "%%{")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(hcl_literal(v) for v in value) + "]"
    raise TypeError(f"no HCL literal for {type(value).__name__} {value!r}")


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=False)
    env.filters["hcl"] = hcl_literal
    return env


def render_server_config(settings: ApplianceSettings, *, data_dir: str,
                         ports: Ports = Ports()) -> str:
    """The agent config (HCL) of an appliance server with ``settings``."""
    return environment().get_template(SERVER_TEMPLATE).render(
        node_name=settings.node_name, datacenter=settings.datacenter, region=settings.region,
        data_dir=data_dir, ip=settings.ip, log_level=LOG_LEVEL, ports=ports,
        bootstrap=settings.bootstrap, gossip_key=settings.gossip_key,
        raft_multiplier=settings.raft_multiplier,
        consul_address=settings.consul_servers[0],
        consul_fallback_addresses=settings.consul_servers[1:],
        retry_join=settings.retry_join, ui_enabled=settings.ui_enabled,
        remote_log=settings.remote_log)
