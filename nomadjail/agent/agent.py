"""The Agent: one process's server and/or client, wired together.

It is what the HTTP layer sees (:class:`nomadjail.http.agent_api.AgentAPI`):
the local server for API reads and writes, the local client for logs and
signals.  Server and client never import each other; even in ``-dev`` mode
the client reaches the server over the rpc port, like any other client.

Starting never waits for other servers.  A server that finds its peers in
Consul (``bootstrap_expect > 1``, no ``server_join``; see
:func:`~.consul.server_join_target`) registers itself, and the HTTP API
answers at once -- with Nomad's "No cluster leader" -- while a background
thread waits until ``bootstrap_expect`` servers are listed; only then is
the raft server started with them as peers (PySyncObj takes its peers when
it starts), replacing the stand-in that answered until then.  Blocking
queries parked on the stand-in move on to the real server then
(:mod:`nomadjail.http.resource`).  The peers found are saved in the data
dir: a restarted server rejoins them at once (:mod:`.saved_peers`).  A
server with configured peers starts at once and elects a leader when they
answer.  A server never starts raft with fewer than ``bootstrap_expect - 1``
peers: alone it would elect itself, a second leader beside the real cluster.

Likewise a client-only agent that finds its servers in Consul serves its API
at once and starts its client in the background once a server is listed.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from .. import __version__
from ..api.rpc_client import HTTPServerRPC
from ..client.client import Client
from ..client.config import ClientConfig
from ..client.templates.config import TemplateConfig
from ..drivers.registry import build_drivers, config_validators
from ..pot_driver import register as register_pot_driver
from ..server.config import ServerConfig
from ..server.raft import RaftError
from ..server.server import Server
from ..structs import ClientHostVolumeConfig, Unavailable
from .config import AgentConfig
from .consul import (
    ConsulRegistrar,
    agent_services,
    client_join_target,
    client_service_providers,
    consul_client,
    describe_addresses,
    discover_peers,
    discover_server_peers,
    server_join_target,
    template_backends,
)
from .import_jobs import ServerJobTarget, import_jobs_when_leader
from .saved_peers import save_peers, with_saved_peers

log = logging.getLogger("nomadjail.agent")

# Seconds a lone server (no peers) waits for its own election before serving anyway;
# it takes a fraction of a second.  A server with peers does not wait.
LEADER_WAIT = 30.0


def _log_fatal(message: str) -> None:
    log.error("%s", message)


class Agent:
    """``on_fatal(message)`` is called when the server cannot start after its peers
    were found in the background (the data dir unusable, the raft port taken
    meanwhile), or the client after its servers were; gunicorn's worker stops
    the agent then (:mod:`.gunicorn_app`).  The default only logs."""

    def __init__(self, config: AgentConfig, *,
                 on_fatal: Callable[[str], None] | None = None):
        register_pot_driver()  # clients build it by default; servers validate its jobs
        config = with_saved_peers(config)
        self.config = config
        self.region = config.region
        self.datacenter = config.datacenter
        self.node_name = config.node_name()
        self.ui_enabled = config.ui_enabled
        self._on_fatal = on_fatal or _log_fatal
        self._lock = threading.Lock()  # guards swapping in the started server
        self._stopped = threading.Event()
        self.shutting_down = False
        self._join_target = server_join_target(config)
        self._client_join_target = client_join_target(config)
        self._background: list[threading.Thread] = []  # Consul discovery threads
        # Until its peers are found, a Consul-joining server is a stand-in that is
        # never started: reads answer "No cluster leader", as Nomad's do meanwhile.
        self._server = Server(self._server_config()) if config.server.enabled else None
        # A client that finds its servers in Consul is built once they are found.
        self._client = (self._build_client()
                        if config.client.enabled and self._client_join_target is None else None)
        self.client_waiting_for_servers = self._client_join_target is not None
        services = agent_services(config)
        self._consul_api = (consul_client(config.consul)
                            if services or self._join_target or self._client_join_target
                            else None)
        self._consul = (ConsulRegistrar(services, self._consul_api,
                                        address=describe_addresses(config.consul))
                        if services and self._consul_api is not None else None)

    # -- wiring ------------------------------------------------------------------
    def _server_config(self) -> ServerConfig:
        c = self.config
        return ServerConfig(
            # The GC and heartbeat settings of the server block, embedded in both.
            **c.server.tunables(),
            node_name=self.node_name,
            region=c.region,
            datacenter=c.datacenter,
            data_dir=None if c.dev_mode else os.path.join(c.data_dir, "server"),
            rpc_advertise=c.advertise_for("rpc"),
            raft_bind=c.raft_bind(),
            raft_advertise=c.raft_advertise(),
            raft_peers=c.raft_peers(),
            bootstrap_expect=c.server.bootstrap_expect,
            raft_multiplier=c.server.raft_multiplier,
            num_schedulers=c.server.num_schedulers or (os.cpu_count() or 1),
            pot_image_scoring=c.server.pot_image_scoring,
            encrypt=c.server.encrypt or None,
            job_validators=config_validators(),
        )

    def _build_client(self) -> Client:
        c = self.config
        servers = list(c.client.servers)
        if not servers and c.server.enabled:
            servers = [c.advertise_for("rpc")]
        client_config = ClientConfig(
            node_name=self.node_name,
            data_dir=c.data_dir,
            dev_mode=c.dev_mode,
            servers=servers,
            http_addr=c.advertise_for("http"),
            datacenter=c.datacenter,
            region=c.region,
            node_class=c.client.node_class,
            node_pool=c.client.node_pool,
            meta=dict(c.client.meta),
            network_interface=c.client.network_interface,
            reserved_cpu=c.client.reserved_cpu,
            reserved_memory_mb=c.client.reserved_memory,
            reserved_ports=c.client.reserved_ports,
            min_dynamic_port=c.client.min_dynamic_port,
            max_dynamic_port=c.client.max_dynamic_port,
            options=dict(c.client.options),
            host_volumes={name: ClientHostVolumeConfig(
                name=name, path=str(volume.get("path", "")),
                read_only=bool(volume.get("read_only", False)))
                for name, volume in c.client.host_volumes.items()},
            artifact=c.client.artifact,
        )
        client_config.template = TemplateConfig(
            disable_file_sandbox=c.client.template_disable_file_sandbox,
            function_denylist=tuple(c.client.template_function_denylist),
            max_stale=c.client.template_max_stale,
            block_query_wait=c.client.template_block_query_wait,
            watch_interval=c.client.template_watch_interval)
        drivers = build_drivers(c.enabled_drivers(), c.plugins)
        return Client(client_config, rpc=HTTPServerRPC(servers), drivers=drivers,
                      services=client_service_providers(c),
                      template_backends=template_backends(c))

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        """Start the Consul registration (in the background), the server (a lone
        one is given a moment to elect itself; one that finds its peers in Consul
        starts in the background once they are there), then the client and the
        job import (once there is a leader).  Never waits for other servers.

        Raises :class:`~nomadjail.server.raft.RaftError` when the server cannot
        start: the raft port is taken (checked at once, also for a server that
        starts raft later), or it would start with too few peers."""
        if self._server is not None:
            if self._join_target is not None:
                self._server.check_raft_address()
            else:
                self._check_peer_count(self._server)
        if self._consul is not None:
            self._consul.start()
        if self._server is not None:
            if self._join_target is not None:
                self._in_background(self._join_then_start_server, "consul-join")
            else:
                self._start_server(self._server)
                if not self.config.server.server_join \
                        and not self._server.wait_for_leader(LEADER_WAIT):
                    log.warning("no cluster leader after %.0fs; serving anyway", LEADER_WAIT)
        if self._client is not None:
            self._client.start()
        elif self._client_join_target is not None:
            self._in_background(self._find_servers_then_start_client, "consul-client-join")
        log.info("started (server=%s client=%s)", self._server is not None,
                 self.config.client.enabled)

    def _in_background(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._background.append(thread)
        thread.start()

    def _check_peer_count(self, server: Server) -> None:
        """Refuse to start raft with fewer than ``bootstrap_expect - 1`` peers: the
        server would elect itself and lead a cluster of its own (split brain)."""
        expect = self.config.server.bootstrap_expect
        peers = server.raft.peer_addrs
        if len(peers) < expect - 1:
            listed = f" ({', '.join(peers)})" if peers else ""
            raise RaftError(
                f"server.bootstrap_expect = {expect}, but this server knows "
                f"{len(peers)} other server(s){listed}: list all {expect - 1} others in "
                "server_join { retry_join = [...] }, or let Consul find them (a consul "
                "block with server_auto_join), or set bootstrap_expect = 1 for a single "
                "server")

    def _start_server(self, server: Server) -> None:
        self._check_peer_count(server)
        server.start()
        c = self.config
        if server.raft.peer_addrs and not c.dev_mode and c.data_dir:
            save_peers(c.data_dir, list(c.server.server_join))
        if c.import_jobs:
            threading.Thread(target=import_jobs_when_leader,
                             args=(ServerJobTarget(server), server, c.import_jobs,
                                   self._stopped),
                             kwargs={"record": self._import_record()},
                             name="import-jobs", daemon=True).start()

    def _import_record(self) -> str | None:
        """Where the agent remembers the job files it imported (none in -dev: the
        state is gone after a restart, so everything is imported again)."""
        if self.config.dev_mode or not self.config.data_dir:
            return None
        return os.path.join(self.config.data_dir, "server", "imported-jobs.json")

    def _join_then_start_server(self) -> None:
        """Wait for the peers in Consul, then start the real server with them."""
        assert self._consul_api is not None
        try:
            peers = discover_server_peers(self.config, self._consul_api, stop=self._stopped)
        except Exception:  # noqa: BLE001 - a thread's last word: log it, say it
            log.exception("finding the other servers in Consul failed")
            self._on_fatal("finding the other servers in Consul failed (see the error above)")
            return
        if not peers:
            return  # stopped while waiting
        failure = ""
        with self._lock:
            if self._stopped.is_set():
                return
            self.config = dataclasses.replace(self.config, server=dataclasses.replace(
                self.config.server, server_join=peers))
            stand_in = self._server
            server: Server | None = None
            try:
                server = Server(self._server_config())
                self._start_server(server)
                self._server = server
            except Exception as err:  # noqa: BLE001 - RaftError, OSError ...: say it, stop
                if server is not None:
                    server.shutdown()
                log.exception("cannot start the server with peers %s", ", ".join(peers))
                failure = f"cannot start the server with peers {', '.join(peers)}: {err}"
        if failure:
            self._on_fatal(failure)  # outside the lock: it may shut the agent down
            return
        log.info("server started with peers %s", ", ".join(peers))
        if stand_in is not None:
            # Blocking queries parked on the stand-in wake up and, seeing its store
            # closed and another server in its place, go on waiting on the real one.
            stand_in.state.release_waiters()

    def _find_servers_then_start_client(self) -> None:
        """Wait until Consul lists a server (rpc), then build and start the client."""
        assert self._consul_api is not None and self._client_join_target is not None
        service, tag, expect = self._client_join_target
        try:
            servers = discover_peers(self._consul_api, service=service, tag=tag, myself=None,
                                     expect=expect, stop=self._stopped)
        except Exception:  # noqa: BLE001 - a thread's last word: log it, say it
            log.exception("finding the servers in Consul failed")
            self._on_fatal("finding the servers in Consul failed (see the error above)")
            return
        if not servers:
            return  # stopped while waiting
        failure = ""
        with self._lock:
            if self._stopped.is_set():
                return
            self.config = dataclasses.replace(self.config, client=dataclasses.replace(
                self.config.client, servers=servers))
            client: Client | None = None
            try:
                client = self._build_client()
                client.start()
                self._client = client
                self.client_waiting_for_servers = False
            except Exception as err:  # noqa: BLE001 - say it, stop
                if client is not None:
                    client.shutdown()
                log.exception("cannot start the client with servers %s", ", ".join(servers))
                failure = f"cannot start the client with servers {', '.join(servers)}: {err}"
        if failure:
            self._on_fatal(failure)
            return
        log.info("client started with servers %s (found in Consul)", ", ".join(servers))

    def begin_shutdown(self) -> None:
        """First step of stopping: answer parked blocking queries and end log follows,
        so the HTTP server can drain its connections quickly."""
        self.shutting_down = True
        if self._server is not None:
            self._server.state.release_waiters()

    def shutdown(self) -> None:
        """Stop everything.  Consul deregistration runs beside the client's and the
        server's shutdown and is bounded as a whole (see
        :meth:`~.consul.ConsulRegistrar.stop`), so an unreachable Consul never
        delays raft's final snapshot past gunicorn's graceful timeout."""
        self.begin_shutdown()
        with self._lock:  # a server being started in the background is started first
            if self._stopped.is_set():
                return
            self._stopped.set()
        log.info("shutting down")
        deregistering = None
        if self._consul is not None:
            deregistering = threading.Thread(target=self._consul.stop,
                                             name="consul-deregister", daemon=True)
            deregistering.start()
        if self._client is not None:
            self._client.shutdown()
        if self._server is not None:
            self._server.shutdown()
        for thread in self._background:  # they notice _stopped at their next poll
            thread.join(self.config.consul.timeout * len(self.config.consul.addresses()) + 5)
        if deregistering is not None:
            deregistering.join()  # bounded: ConsulRegistrar.stop has its own deadline

    # -- what the HTTP layer asks for ---------------------------------------------
    @property
    def server(self) -> Server | None:
        return self._server

    @property
    def client(self) -> Client | None:
        return self._client

    def require_server(self) -> Server:
        if self._server is None:
            raise Unavailable("this agent runs no server: send API requests to a server "
                              "agent (NOMAD_ADDR)")
        return self._server

    def require_client(self) -> Client:
        if self._client is None:
            if self.client_waiting_for_servers:
                raise Unavailable("the client has not found a server in Consul yet")
            raise Unavailable("this agent runs no client")
        return self._client

    def is_rpc_listener(self, port: int) -> bool:
        return port == self.config.ports.rpc

    def self_info(self) -> dict[str, Any]:
        c = self.config
        member = None
        if self._server is not None:
            mine = [m for m in self._server.members() if m.name == f"{self.node_name}.{c.region}"]
            member = mine[0].to_api() if mine else None
        return {
            "config": {
                "Region": c.region,
                "Datacenter": c.datacenter,
                "NodeName": self.node_name,
                "DataDir": c.data_dir,
                "BindAddr": c.bind_addr,
                "LogLevel": c.log_level,
                "DevMode": c.dev_mode,
                "Ports": {"HTTP": c.ports.http, "RPC": c.ports.rpc, "Serf": c.ports.serf},
                "Server": {"Enabled": c.server.enabled,
                           "BootstrapExpect": c.server.bootstrap_expect},
                "Client": {"Enabled": c.client.enabled, "Servers": list(c.client.servers)},
                "UI": {"Enabled": c.ui_enabled},
                "Version": {"Version": __version__, "VersionPrerelease": "",
                            "Revision": ""},
            },
            "member": member or {"Name": self.node_name, "Addr": "", "Port": 0, "Tags": {},
                                 "Status": "none"},
            "stats": {
                "nomad": {"server": str(self._server is not None).lower(),
                          "leader": str(bool(self._server and self._server.is_leader())).lower()},
                "client": {"node_id": self._client.node_id if self._client else ""},
            },
        }
