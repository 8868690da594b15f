"""The raft peers a server found, remembered in its data dir.

``bootstrap_expect`` governs only a cluster's first bootstrap, as in Nomad:
once a server has found its peers (through Consul) and raft has state on
disk, a restart rejoins those peers at once, whether or not Consul lists
them -- servers deregister from Consul on a clean shutdown, so after a
restart with one server down Consul would never list ``bootstrap_expect``
servers again.  (Nomad keeps the peers in raft's own configuration;
PySyncObj takes its peers when it starts, so they are kept here.)

File: ``<data_dir>/server/peers.json``, ``{"Peers": ["10.0.0.6:4648", ...]}``
in ``server_join`` spelling, replaced atomically (write, fsync, rename).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os

from ..helper.atomic_file import write_json_atomically
from .config import AgentConfig

log = logging.getLogger("nomadjail.agent")

PEERS_FILE = "peers.json"


def server_dir(data_dir: str) -> str:
    return os.path.join(data_dir, "server")


def peers_path(data_dir: str) -> str:
    return os.path.join(server_dir(data_dir), PEERS_FILE)


def has_raft_state(data_dir: str) -> bool:
    """Whether a server ran in ``data_dir`` before (its raft journal or snapshot exists)."""
    raft_dir = os.path.join(server_dir(data_dir), "raft")
    return any(os.path.exists(os.path.join(raft_dir, name))
               for name in ("journal", "snapshot.json"))


def save_peers(data_dir: str, peers: list[str]) -> None:
    """Remember ``peers``; a failure is logged (the server runs on, but a restart
    would bootstrap through Consul again)."""
    path = peers_path(data_dir)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_json_atomically(path, {"Peers": sorted(peers)}, indent=2)
    except OSError as err:
        log.warning("cannot save the raft peers to %s: %s", path, err)


def load_peers(data_dir: str) -> list[str]:
    """The saved peers, when raft has state in ``data_dir`` too (a wiped data dir
    bootstraps again); [] otherwise.  An unreadable file is logged and ignored."""
    if not data_dir or not has_raft_state(data_dir):
        return []
    path = peers_path(data_dir)
    try:
        with open(path, encoding="utf-8") as source:
            peers = json.load(source)["Peers"]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as err:
        log.warning("%s: unreadable, ignoring the saved raft peers: %s", path, err)
        return []
    if not isinstance(peers, list) or not all(isinstance(p, str) and p for p in peers):
        log.warning("%s: \"Peers\" is not a list of addresses, ignoring it", path)
        return []
    return list(peers)


def with_saved_peers(config: AgentConfig) -> AgentConfig:
    """``config`` with ``server.server_join`` set to the saved peers when this
    server bootstrapped before and the config names no peers itself (see the
    module docstring); ``config`` unchanged otherwise."""
    c = config
    if not c.server.enabled or c.dev_mode or c.server.server_join or not c.data_dir:
        return config
    peers = load_peers(c.data_dir)
    if not peers:
        return config
    log.info("rejoining the raft peers saved in %s: %s (bootstrap_expect applies only to "
             "the first bootstrap)", peers_path(c.data_dir), ", ".join(peers))
    return dataclasses.replace(c, server=dataclasses.replace(c.server, server_join=peers))
