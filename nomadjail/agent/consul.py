"""Consul: the agent registers itself as a service, and servers find each other.

With a ``consul { ... }`` block (see :class:`~nomadjail.agent.config.ConsulSettings`)
and ``auto_advertise`` on, the agent registers with the Consul agent at
``consul.address`` through python-consul2, the way Nomad does:

- a server as service ``server_service_name`` (``nomad``) three times, one
  registration per listener, tagged ``http``, ``rpc`` and ``serf``; the http one
  also carries potluck's tags ``_app=nomadserver``, ``_service=nomad`` and
  ``_hostname=<node>.<datacenter>.consul``, which potluck's Prometheus and
  dashboards select on;
- a client as service ``client_service_name`` (``nomad-client``) on its http port,
  tagged ``http`` and ``_app=nomadclient``, ``_service=nomad-client``,
  ``_hostname=...``.

The agent talks to ``consul.address`` and, when that does not answer, to each
of ``consul.fallback_addresses`` in turn (:class:`FailoverHTTP`); the address
that answered is tried first from then on.

Service IDs are derived from the node name, so a restarted agent replaces its
own registrations instead of adding more.  :class:`ConsulRegistrar` works in
the background and never delays the agent: while Consul is unreachable it
retries with a doubling delay (capped), and once registered it checks now and
then that the registrations are still there (a restarted Consul agent forgets
services registered over its API) and registers them again if not.  On
shutdown it deregisters them, best effort and bounded in time.

The ``service`` blocks of the jobs a client runs are registered by the client
itself (:mod:`nomadjail.client.services`); :func:`client_service_providers`
gives it a Consul provider over the same addresses and token.

Auto-join (:func:`discover_peers`): a server with ``bootstrap_expect > 1``,
no ``server_join`` addresses and ``server_auto_join`` looks up the ``serf``
registrations of service ``nomad`` in Consul's catalog and waits until it sees
``bootstrap_expect`` servers (itself included); their addresses become its raft
peers.  The agent does this in the background while its HTTP API already
answers (:mod:`.agent`).  A client without ``servers`` and with
``client_auto_join`` takes the ``rpc`` registrations, also in the background
(its client starts once a server is listed).
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import consul
import requests

from ..client.services import ConsulServiceProvider, PythonConsulAgent, ServiceProviders
from ..client.templates.sources import PythonConsulReads, TemplateBackends
from ..structs.services import ServiceProvider as ServiceProviderName
from .addresses import join_host_port, split_host_port, url_host
from .config import DEFAULT_CONSUL_PORT, AgentConfig, ConsulSettings

log = logging.getLogger("nomadjail.agent.consul")

CONSUL_PORT = DEFAULT_CONSUL_PORT
RETRY_MIN = 1.0  # seconds between attempts while Consul is down, doubling ...
RETRY_MAX = 30.0  # ... up to this
RECHECK_INTERVAL = 30.0  # seconds between checks that the registrations still exist
# Seconds shutdown spends deregistering, in all (well inside gunicorn's graceful timeout).
DEREGISTER_TIMEOUT = 8.0
CHECK_INTERVAL = "10s"  # Consul health checks of the listeners (Nomad's)
CHECK_TIMEOUT = "3s"

# Everything python-consul2 raises when Consul is down, slow or refuses a request.
CONSUL_ERRORS = (consul.ConsulException, requests.RequestException, OSError, ValueError)


@dataclass(frozen=True, slots=True)
class ServiceRegistration:
    """One service instance as the Consul agent API takes it."""

    service_id: str
    name: str
    address: str
    port: int
    tags: list[str] = field(default_factory=list)
    check: dict[str, Any] | None = None


class ConsulAPI(Protocol):
    """The part of ``consul.Consul`` this module uses (tests may pass a double)."""

    agent: Any
    catalog: Any


def _is_unreachable(err: Exception) -> bool:
    """Errors that say "this Consul cannot answer now" (try another one), as opposed
    to answers (404, 403, 400 ...) that another Consul would give just the same."""
    if isinstance(err, (requests.ConnectionError, requests.Timeout)):
        return True
    return type(err) is consul.ConsulException  # python-consul2 raises exactly it for 5xx


class FailoverHTTP:
    """python-consul2's HTTP client over several Consul addresses.

    A request that cannot reach the address in use (connection refused, timeout,
    a 5xx answer) is sent to the next, in order, until one answers; that one is
    used first from then on.  When none answers, the last error is raised.  A
    retried ``PUT`` may reach a second Consul after the first applied it: the
    requests this module sends (register, deregister) are idempotent.
    """

    def __init__(self, clients: list[Any]):
        if not clients:
            raise ValueError("FailoverHTTP needs at least one Consul address")
        self.clients = clients
        self._current = 0
        self._lock = threading.Lock()

    @property
    def base_uri(self) -> str:
        """The address in use (python-consul2 code and log lines read it)."""
        return str(self.clients[self._current].base_uri)

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            start = self._current
        error: Exception | None = None
        for step in range(len(self.clients)):
            index = (start + step) % len(self.clients)
            client = self.clients[index]
            try:
                result = getattr(client, method)(*args, **kwargs)
            except CONSUL_ERRORS as err:
                if not _is_unreachable(err) or len(self.clients) == 1:
                    raise
                error = err
                log.debug("Consul at %s did not answer (%s); trying the next address",
                          client.base_uri, err)
                continue
            with self._lock:
                if index != self._current:
                    log.info("Consul at %s did not answer; now using %s",
                             self.clients[self._current].base_uri, client.base_uri)
                    self._current = index
            return result
        assert error is not None
        raise error

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("get", *args, **kwargs)

    def put(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("put", *args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("delete", *args, **kwargs)

    def post(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("post", *args, **kwargs)


def parse_consul_address(address: str, ssl: bool = False) -> tuple[str, str, int]:
    """(scheme, host, port) of ``host[:port]`` or ``http(s)://host[:port]`` (IPv6 in
    brackets when a port follows); ValueError quotes the address."""
    scheme = "https" if ssl else "http"
    for prefix in ("http://", "https://"):
        if address.startswith(prefix):
            scheme, address = prefix[:-3], address[len(prefix):]
    host, port = split_host_port(address.rstrip("/"), CONSUL_PORT)
    return scheme, host, port


def consul_client(settings: ConsulSettings) -> consul.Consul:
    """A python-consul2 client for ``settings.addresses()``, tried in turn (see
    :class:`FailoverHTTP`)."""
    endpoints = [parse_consul_address(a, settings.ssl) for a in settings.addresses()]
    scheme, host, port = endpoints[0]
    verify: bool | str = settings.ca_file or settings.verify_ssl
    cert = (settings.cert_file, settings.key_file) if settings.cert_file else None
    with warnings.catch_warnings():
        # python-consul2 builds every API wrapper up front and some warn that their
        # Consul API is old or new (legacy ACL, discovery chain) whether they are used
        # or not; nomadjail uses neither.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="consul")
        client = consul.Consul(host=url_host(host), port=port, scheme=scheme,
                               timeout=settings.timeout)
    # python-consul2 lets CONSUL_HTTP_ADDR/CONSUL_HTTP_TOKEN override its arguments;
    # in nomadjail the config file wins, as it does in Nomad.  The host goes into
    # python-consul2's URL as is, so an IPv6 address needs its brackets there.
    connections = [client.http_connect(url_host(h), p, s, verify, cert, timeout=settings.timeout)
                   for s, h, p in endpoints]
    if settings.auth:
        user, _, password = settings.auth.partition(":")
        for connection in connections:
            connection.session.auth = (user, password)
    client.http = FailoverHTTP(connections)
    if settings.token:
        client.token = settings.token
    return client


def client_service_providers(config: AgentConfig) -> ServiceProviders:
    """The client's Consul provider: at the ``consul`` block's addresses, with its token
    -- or, as Nomad's client, at 127.0.0.1:8500 when there is no block; that one is
    lazy (quiet, and silent on the wire until a job asks for a Consul service).  The
    client adds Nomad's own provider itself (it needs the client's server RPC)."""
    settings = config.consul
    agent = PythonConsulAgent(consul_client(settings), describe_addresses(settings))
    return ServiceProviders({ServiceProviderName.CONSUL: ConsulServiceProvider(
        agent, lazy=not settings.enabled)})


def template_backends(config: AgentConfig) -> TemplateBackends:
    """What the client's job templates read from Consul: KV and the catalog, at the
    ``consul`` block's addresses (127.0.0.1:8500 without one, as Nomad); nothing
    goes on the wire until a template reads a key or a service."""
    # Template reads are blocking queries (up to block_query_wait, plus Consul's jitter of
    # wait/16): the per-request timeout must outlast them.
    wait = config.client.template_block_query_wait
    settings = replace(config.consul, timeout=config.consul.timeout + wait + wait / 16 + 1)
    return TemplateBackends(consul=PythonConsulReads(consul_client(settings)))


def describe_addresses(settings: ConsulSettings) -> str:
    """The Consul addresses for log lines: ``10.0.0.2:8500`` or ``10.0.0.2:8500 (then
    10.0.0.3:8500)``."""
    first, *rest = settings.addresses()
    return f"{first} (then {', '.join(rest)})" if rest else first


def potluck_tags(app: str, service: str, node: str, datacenter: str) -> list[str]:
    return [f"_app={app}", f"_service={service}", f"_hostname={node}.{datacenter}.consul"]


def agent_services(config: AgentConfig) -> list[ServiceRegistration]:
    """The registrations this agent should have in Consul (none without auto_advertise)."""
    c, settings = config, config.consul
    if not settings.enabled or not settings.auto_advertise:
        return []
    node = c.node_name()
    extra = list(settings.tags)
    services = []
    # Consul takes the service address bare (fd00::5); checks take host:port, with
    # brackets for IPv6, as URLs and Go's net.Dial do.
    if c.server.enabled:
        name = settings.server_service_name
        services.append(_http_registration(config, "server", name))
        for listener in ("rpc", "serf"):
            host, port = c.advertise_host_port(listener)
            services.append(ServiceRegistration(
                f"_nomad-server-{node}-{listener}", name, host, port,
                [listener, *extra],
                {"Name": (settings.server_rpc_check_name if listener == "rpc"
                          else settings.server_serf_check_name), "Interval": CHECK_INTERVAL,
                 "Timeout": CHECK_TIMEOUT, "TCP": join_host_port(host, port)}))
    if c.client.enabled:
        services.append(_http_registration(config, "client", settings.client_service_name))
    return services


def _http_registration(config: AgentConfig, role: str, name: str) -> ServiceRegistration:
    """A server's or client's (``role``) http listener as Consul service ``name``, with
    potluck's tags and Nomad's health check."""
    node = config.node_name()
    host, port = config.advertise_host_port("http")
    return ServiceRegistration(
        f"_nomad-{role}-{node}-http", name, host, port,
        ["http", *potluck_tags(f"nomad{role}", name, node, config.datacenter),
         *config.consul.tags],
        {"Name": (config.consul.server_http_check_name if role == "server"
                  else config.consul.client_http_check_name), "Interval": CHECK_INTERVAL,
         "Timeout": CHECK_TIMEOUT,
         "HTTP": f"http://{join_host_port(host, port)}/v1/agent/health?type={role}"})


def register(api: ConsulAPI, service: ServiceRegistration) -> None:
    api.agent.service.register(service.name, service_id=service.service_id,
                               address=service.address, port=service.port,
                               tags=service.tags, check=service.check)


class ConsulRegistrar:
    """Keeps this agent's services registered in Consul from a background thread.

    ``start`` returns at once.  ``stop`` ends the thread and deregisters every
    service it registered, bounded in time as a whole.
    """

    def __init__(self, services: list[ServiceRegistration], api: ConsulAPI, *,
                 address: str = "", retry_min: float = RETRY_MIN, retry_max: float = RETRY_MAX,
                 recheck_interval: float = RECHECK_INTERVAL):
        self.services = services
        self.api = api
        self.address = address or "Consul"
        self.retry_min, self.retry_max = retry_min, retry_max
        self.recheck_interval = recheck_interval
        self.registered: set[str] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.services or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="consul-registrar", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = DEREGISTER_TIMEOUT, *, deregister: bool = True) -> None:
        """End the thread; with ``deregister``, remove the registrations from Consul.

        Takes at most ``timeout`` seconds in all, however many services and
        Consul addresses there are and whether or not they answer: the
        services are deregistered in parallel, and whatever is not done by
        then is left to Consul's health checks (and logged)."""
        deadline = time.monotonic() + timeout
        self._stopping.set()
        thread = self._thread
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
        if not deregister:
            return
        with self._lock:
            in_flight = thread is not None and thread.is_alive()  # may be registering now
            services = [s for s in self.services
                        if in_flight or s.service_id in self.registered]
        done: set[str] = set()
        workers = [threading.Thread(target=self._deregister, args=(service, done),
                                    name="consul-deregister", daemon=True)
                   for service in services]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            left = [s.service_id for s in services if s.service_id not in done]
            self.registered.clear()
        if left:
            log.warning("gave up deregistering %s from %s after %.0fs; Consul's health "
                        "checks will mark them failing", ", ".join(left), self.address, timeout)

    def _deregister(self, service: ServiceRegistration, done: set[str]) -> None:
        try:
            self.api.agent.service.deregister(service.service_id)
            log.info("deregistered service %r (%s) from %s", service.name,
                     service.service_id, self.address)
        except CONSUL_ERRORS as err:
            log.warning("could not deregister %s from %s: %s", service.service_id,
                        self.address, err)
        with self._lock:
            done.add(service.service_id)

    def _run(self) -> None:
        delay = self.retry_min
        failures = 0
        while not self._stopping.is_set():
            try:
                self._sync()
            except CONSUL_ERRORS as err:
                failures += 1
                if failures == 1 or failures % 10 == 0:
                    log.warning("cannot register with Consul at %s (attempt %d), retrying "
                                "in the background: %s", self.address, failures, err)
                self._stopping.wait(delay)
                delay = min(delay * 2, self.retry_max)
                continue
            if failures:
                log.info("registered with Consul at %s after %d failed attempt(s)",
                         self.address, failures)
            failures, delay = 0, self.retry_min
            self._stopping.wait(self.recheck_interval)

    def _sync(self) -> None:
        """Register whatever Consul does not have (all of it the first time).  Stops
        between services once :meth:`stop` was called; Consul is never asked while
        the lock is held, so stopping never waits for a whole pass."""
        with self._lock:
            known = bool(self.registered)
        present = self.api.agent.services() if known else {}
        for service in self.services:
            if self._stopping.is_set():
                return
            with self._lock:
                new = service.service_id not in self.registered
            if not new and service.service_id in present:
                continue
            register(self.api, service)
            with self._lock:
                self.registered.add(service.service_id)
            if new:
                log.info("registered service %r (%s, %s:%d) with %s", service.name,
                         service.service_id, service.address, service.port, self.address)


AddressSpelling = Callable[[str, int], str]


def catalog_addresses(api: ConsulAPI, service: str, tag: str,
                      spelling: AddressSpelling = join_host_port) -> list[str]:
    """The address of every catalog entry of ``service`` with ``tag``, sorted, spelt
    by ``spelling`` (default ``host:port``, ``[v6]:port``)."""
    _, entries = api.catalog.service(service, tag=tag)
    found = set()
    for entry in entries or []:
        host = entry.get("ServiceAddress") or entry.get("Address") or ""
        port = entry.get("ServicePort") or 0
        if host and port:
            found.add(spelling(str(host), int(port)))
    return sorted(found)


def discover_peers(api: ConsulAPI, *, service: str, tag: str, myself: str | None, expect: int,
                   stop: threading.Event | None = None, interval: float = 2.0,
                   timeout: float | None = None,
                   sleep: Callable[[float], Any] | None = None,
                   spelling: AddressSpelling = join_host_port) -> list[str]:
    """Wait until Consul lists at least ``expect`` addresses of ``service``/``tag``
    (``myself``, if given, counted whether listed or not) and return the others,
    spelt by ``spelling`` (``myself`` must be spelt the same way).

    Waits forever unless ``timeout`` is given (Nomad's servers wait for their
    peers as long as it takes) or ``stop`` is set; progress is logged now and
    then.  Returns [] when stopped or timed out.
    """
    stop = stop or threading.Event()
    wait = sleep or stop.wait
    deadline = None if timeout is None else time.monotonic() + timeout
    last_report = 0.0
    while not stop.is_set():
        try:
            found = set(catalog_addresses(api, service, tag, spelling))
            error = ""
        except CONSUL_ERRORS as err:
            found, error = set(), str(err)
        if myself:
            found.add(myself)
        if len(found) >= expect:
            others = sorted(found - {myself or ""})
            log.info("found %d server(s) in Consul service %r: %s", len(found), service,
                     ", ".join(sorted(found)))
            return others
        if time.monotonic() - last_report > 30:
            last_report = time.monotonic()
            detail = f" (Consul: {error})" if error else ""
            log.info("waiting for %d servers in Consul service %r tagged %r, found %d: %s%s",
                     expect, service, tag, len(found), ", ".join(sorted(found)), detail)
        if deadline is not None and time.monotonic() >= deadline:
            return []
        wait(interval)
    return []


def server_join_target(config: AgentConfig) -> tuple[str, str, int] | None:
    """(service, tag, expected servers) when this server must find its raft peers in
    Consul: it expects more servers, has no ``server_join`` and ``server_auto_join``
    is on; None otherwise."""
    c, settings = config, config.consul
    if not settings.enabled or c.dev_mode or not c.server.enabled:
        return None
    if c.server.bootstrap_expect > 1 and not c.server.server_join and settings.server_auto_join:
        return settings.server_service_name, "serf", c.server.bootstrap_expect
    return None


def client_join_target(config: AgentConfig) -> tuple[str, str, int] | None:
    """(service, tag, 1) when a client-only agent must find a server in Consul (no
    ``servers``, ``client_auto_join`` on); None otherwise."""
    c, settings = config, config.consul
    if not settings.enabled or c.dev_mode or c.server.enabled:
        return None
    if c.client.enabled and not c.client.servers and settings.client_auto_join:
        return settings.server_service_name, "rpc", 1
    return None


def auto_join_target(config: AgentConfig) -> tuple[str, str, int] | None:
    """:func:`server_join_target` or :func:`client_join_target`, whichever applies."""
    return server_join_target(config) or client_join_target(config)


def discover_server_peers(config: AgentConfig, api: ConsulAPI, *,
                          stop: threading.Event | None = None,
                          timeout: float | None = None, interval: float = 2.0) -> list[str]:
    """This server's peers from Consul (see :func:`server_join_target`), spelt as
    ``server_join`` entries (``host:port``, ``[v6]:port``); waits until
    ``bootstrap_expect`` servers are registered, or until ``stop``/``timeout``
    (then [])."""
    target = server_join_target(config)
    if target is None:
        return []
    service, tag, expect = target
    return discover_peers(api, service=service, tag=tag, myself=config.advertise_for("serf"),
                          expect=expect, stop=stop, timeout=timeout, interval=interval)
