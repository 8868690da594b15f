"""Service blocks a group or task declares, with their health checks.

Parsed and stored in Nomad's shape.  Nothing registers them in Consul yet:
``nomadjail/agent/consul.py`` registers only the agent's own services.
"""

from __future__ import annotations

from dataclasses import dataclass

from .codec import field


@dataclass(slots=True)
class CheckRestart:
    limit: int = 0
    grace: int = 0  # ns
    ignore_warnings: bool = False


@dataclass(slots=True)
class ServiceCheck:
    name: str = ""
    type: str = ""
    command: str = ""
    args: list[str] = field(default_factory=list)
    path: str = ""
    protocol: str = ""
    port_label: str = ""
    address_mode: str = ""
    interval: int = 0  # ns
    timeout: int = 0  # ns
    initial_status: str = ""
    method: str = ""
    header: dict[str, list[str]] = field(default_factory=dict)
    task_name: str = ""
    check_restart: CheckRestart | None = None


@dataclass(slots=True)
class Service:
    name: str = ""
    tags: list[str] = field(default_factory=list)
    canary_tags: list[str] = field(default_factory=list)
    port_label: str = ""
    address_mode: str = ""
    address: str = ""
    provider: str = ""
    task_name: str = ""
    on_update: str = ""
    checks: list[ServiceCheck] = field(default_factory=list)
    check_restart: CheckRestart | None = None
    meta: dict[str, str] = field(default_factory=dict)
