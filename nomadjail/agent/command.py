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
    for file_overlay in load_config_paths(flags.get("config_paths") or ()):
        config = merge(config, file_overlay)
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
    for name, port in zip(("http", "rpc", "serf"), ports, strict=True):
        if not 0 < port < 65536:
            problems.append(f"ports.{name} must be between 1 and 65535, got {port}")
    if len(set(ports)) != 3:
        problems.append(f"ports http, rpc and serf must differ, got {ports}")
    if (config.client.enabled and not config.server.enabled and not config.client.servers
            and not (config.consul.enabled and config.consul.client_auto_join)):
        problems.append("a client-only agent needs client { servers = [...] }, -servers, "
                        "or a consul block with client_auto_join")
    problems += _logging_problems(config) + _consul_problems(config) + _join_problems(config)
    problems += _bootstrap_problems(config)
    problems += [f"client.artifact: {p}" for p in config.client.artifact.problems()]
    for listener in ("http", "rpc", "serf"):
        try:
            config.advertise_host_port(listener)
        except ValueError as err:
            problems.append(f"advertise.{listener}: {err}")
    return problems


def _logging_problems(config: AgentConfig) -> list[str]:
    from .addresses import split_host_port
    from .log_setup import SYSLOG_PORT, facility_code

    problems = []
    try:
        facility_code(config.syslog_facility)
    except ValueError as err:
        problems.append(str(err))
    if config.remote_syslog.address:
        try:
            split_host_port(config.remote_syslog.address, SYSLOG_PORT)
        except ValueError as err:
            problems.append(f"remote_syslog.address: {err}")
    if config.remote_syslog.buffer_lines < 1:
        problems.append(f"remote_syslog.buffer_lines must be at least 1, got "
                        f"{config.remote_syslog.buffer_lines}")
    return problems


def _consul_problems(config: AgentConfig) -> list[str]:
    from .consul import parse_consul_address

    if not config.consul.enabled:
        return []
    problems = []
    keys = ["consul.address"] + [f"consul.fallback_addresses[{i}]"
                                 for i in range(len(config.consul.fallback_addresses))]
    for key, address in zip(keys, [config.consul.address, *config.consul.fallback_addresses],
                            strict=True):
        try:
            parse_consul_address(address)
        except ValueError as err:
            problems.append(f"{key}: {err}")
    return problems


def _join_problems(config: AgentConfig) -> list[str]:
    from .addresses import split_host_port
    from .config import DEFAULT_SERF_PORT

    problems = []
    for i, peer in enumerate(config.server.server_join):
        try:
            split_host_port(peer, DEFAULT_SERF_PORT)
        except ValueError as err:
            problems.append(f"server_join.retry_join[{i}]: {err}")
    return problems


def _bootstrap_problems(config: AgentConfig) -> list[str]:
    """A server expecting other servers must have a way to find them, else it would
    elect itself and lead a cluster of its own (split brain)."""
    from .consul import server_join_target
    from .saved_peers import load_peers

    s = config.server
    if not s.enabled or config.dev_mode or s.bootstrap_expect <= 1 or s.server_join:
        return []
    if server_join_target(config) is not None or load_peers(config.data_dir):
        return []
    return [f"server.bootstrap_expect = {s.bootstrap_expect} but this server has no way to "
            f"find the other {s.bootstrap_expect - 1}: list them in server_join "
            "{ retry_join = [...] }, or add a consul block (server_auto_join is on by "
            "default); a single server needs bootstrap_expect = 1"]


def banner(config: AgentConfig) -> str:
    def line(label: str, value: str) -> str:
        return f"{label:>{BANNER_WIDTH}}: {value}"

    c = config
    advertise = (f"HTTP: {c.advertise_for('http')}; RPC: {c.advertise_for('rpc')}; "
                 f"Serf: {c.advertise_for('serf')}")
    binds = (f"HTTP: [{c.bind_address('http')}]; RPC: {c.bind_address('rpc')}; "
             f"Serf: {c.bind_address('serf')}")
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
    from .log_setup import setup_agent_logging

    setup_agent_logging(config)
    click.echo(banner(config))
    sys.stdout.flush()
    AgentApplication(config, reload_config=lambda running: _reloaded_config(flags, running)
                     ).run()
    return 0


def _reloaded_config(flags: dict[str, Any], current: AgentConfig) -> AgentConfig:
    """The config files read again (SIGHUP); the running config if they are broken now.

    A client that finds its servers through Consul looks for them again.
    """
    import logging

    log = logging.getLogger("nomadjail.agent")
    try:
        config = config_from_flags(flags)
    except (NomadError, OSError) as err:
        log.error("reload: keeping the running configuration: %s", err)
        return current
    problems = validate(config)
    if problems:
        log.error("reload: keeping the running configuration: %s", "; ".join(problems))
        return current
    config.data_dir = current.data_dir
    log.info("reload: configuration read again from %s",
             ", ".join(flags.get("config_paths") or ()) or "flags")
    return config
