"""``nomadjail agent``: turn flags and config files into a running agent."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from typing import Any

import click

from .. import __version__
from ..structs import NomadError
from .config import LOG_LEVELS, AgentConfig, dev_config, merge
from .config_file import load_config_paths

BANNER_WIDTH = 22


def config_from_flags(flags: dict[str, Any]) -> AgentConfig:
    """Defaults, then -dev, then every -config path, then the other flags (Nomad's order)."""
    config = dev_config() if flags.get("dev") else AgentConfig()
    for overlay in load_config_paths(flags.get("config_paths") or ()):
        config = merge(config, overlay)
    overlay: dict[str, Any] = {}
    for flag, key in (("data_dir", "data_dir"), ("bind", "bind_addr"), ("node", "name"),
                      ("dc", "datacenter"), ("region", "region"), ("log_level", "log_level"),
                      ("import_jobs", "import_jobs")):
        if flags.get(flag):
            overlay[key] = flags[flag]
    if flags.get("server"):
        overlay.setdefault("server", {})["enabled"] = True
    if flags.get("bootstrap_expect"):
        overlay.setdefault("server", {})["bootstrap_expect"] = flags["bootstrap_expect"]
    if flags.get("client"):
        overlay.setdefault("client", {})["enabled"] = True
    if flags.get("servers"):
        overlay.setdefault("client", {})["servers"] = [
            s.strip() for s in str(flags["servers"]).split(",") if s.strip()]
    return merge(config, overlay)


def validate(config: AgentConfig) -> list[str]:
    problems = []
    if not config.server.enabled and not config.client.enabled:
        problems.append("Must specify either server, client or dev mode for the agent.")
    if not config.data_dir and not config.dev_mode:
        problems.append("Must specify data directory (-data-dir or data_dir in a config file)")
    if config.log_level.upper() not in LOG_LEVELS:
        problems.append(f"Invalid log level {config.log_level!r}: expected one of "
                        f"{', '.join(LOG_LEVELS)}")
    if config.server.bootstrap_expect < 1:
        problems.append(f"bootstrap_expect must be at least 1, got "
                        f"{config.server.bootstrap_expect}")
    ports = (config.ports.http, config.ports.rpc, config.ports.serf)
    for name, port in zip(("http", "rpc", "serf"), ports):
        if not 0 < port < 65536:
            problems.append(f"ports.{name} must be between 1 and 65535, got {port}")
    if len(set(ports)) != 3:
        problems.append(f"ports http, rpc and serf must differ, got {ports}")
    if config.client.enabled and not config.server.enabled and not config.client.servers:
        problems.append("a client-only agent needs client { servers = [...] } or -servers")
    return problems


def banner(config: AgentConfig) -> str:
    def line(label: str, value: str) -> str:
        return f"{label:>{BANNER_WIDTH}}: {value}"

    c = config
    advertise = (f"HTTP: {c.advertise_for('http')}; RPC: {c.advertise_for('rpc')}; "
                 f"Serf: {c.advertise_for('serf')}")
    binds = (f"HTTP: [{c.bind_for('http')}:{c.ports.http}]; RPC: {c.bind_for('rpc')}:"
             f"{c.ports.rpc}; Serf: {c.bind_for('serf')}:{c.ports.serf}")
    lines = [
        "==> Starting nomadjail agent...",
        "==> nomadjail agent configuration:",
        "",
        line("Advertise Addrs", advertise),
        line("Bind Addrs", binds),
        line("Client", str(c.client.enabled).lower()),
        line("Log Level", c.log_level.upper()),
        line("Region", f"{c.region} (DC: {c.datacenter})"),
        line("Server", str(c.server.enabled).lower()),
        line("Version", __version__),
        "",
        "==> nomadjail agent started! Log data will stream in below:",
        "",
    ]
    return "\n".join(lines)


def _remove_in_process(pid: int, path: str) -> None:
    """Remove the dev data dir when the agent (gunicorn master) exits -- not when a
    forked worker does, since the master may start a new worker on it."""
    if os.getpid() == pid:
        shutil.rmtree(path, ignore_errors=True)


def run_agent(flags: dict[str, Any]) -> int:
    try:
        config = config_from_flags(flags)
    except (NomadError, OSError) as err:
        click.echo(f"Error loading configuration: {err}", err=True)
        return 1
    problems = validate(config)
    if problems:
        for problem in problems:
            click.echo(f"Error: {problem}", err=True)
        return 1
    if config.dev_mode and not config.data_dir:
        config.data_dir = tempfile.mkdtemp(prefix="nomadjail-dev-")
        atexit.register(_remove_in_process, os.getpid(), config.data_dir)
    from .gunicorn_app import AgentApplication
    from .log_setup import setup_logging

    setup_logging(config.log_level)
    click.echo(banner(config))
    sys.stdout.flush()
    AgentApplication(config).run()
    return 0
