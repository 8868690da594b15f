"""The Consul service provider: the client's workloads in its Consul agent.

:class:`ConsulServiceProvider` keeps what *should* be registered (per workload:
its :class:`~.workload.ServiceInstance` list) and one background thread makes
Consul hold exactly that (Nomad's ``ServiceClient``).  A sync:

1. reads ``/v1/agent/services``;
2. deregisters the task services this node registered that should not be there
   any more -- a workload removed, an allocation that is gone (after a client
   restart: anything of an allocation the client did not restore), or, after the
   first minute (Nomad's probation, which gives restored tasks time to register
   again), anything unknown;
3. registers what is missing, and registers again what differs (address, port,
   tags, meta ...), with its checks;
4. reads ``/v1/agent/checks`` and removes stale ``_nomad-check-`` checks of our
   services, registering any check Consul lost.

It runs when a workload changes, every ``sync_interval`` (30s) to repair what
someone else changed in Consul, and -- while Consul cannot be reached or refuses
-- again after a doubling delay (1s ... 30s).  A workload whose services cannot
be registered gets a "Task hook failed" event once, and a "Task hook message"
when they are registered after all; nothing else of the client waits on Consul.

Ownership: every registration carries ``Meta["nomadjail-node-id"]``, and a
sync only ever removes ``_nomad-task-`` services with this node's ID, so
clients that share one Consul agent (the appliance talks to Consul servers
directly) never remove each other's services.  Registration IDs are stable
(:mod:`.workload`), so registering again never duplicates.

A *lazy* provider (the client's without a ``consul`` block: Consul at the default
127.0.0.1:8500, as Nomad's client assumes) does not talk to Consul until a workload
is registered, and logs its failures only at debug level while it has none: a
client that never runs a Consul service never depends on what listens there.

Check statuses for health and ``check_restart`` come from one cached read of
``/v1/agent/checks`` per ``check_poll_interval`` (0.5s, Nomad's), however many
allocations ask.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ...structs import TaskEvent
from .. import events
from .check_watcher import CheckWatcher
from .consul_agent import ConsulAgent, ConsulError, ConsulUnreachable
from .consul_definitions import NODE_META, check_body, differs, service_body
from .provider import (
    AllocChecks,
    CheckState,
    ServiceRegistrationError,
    ServiceState,
    tell_workload,
)
from .workload import (
    CHECK_PREFIX,
    TASK_SERVICE_PREFIX,
    ServiceInstance,
    WorkloadServices,
    alloc_of_service_id,
    registrations,
)

log = logging.getLogger(__name__)

SYNC_INTERVAL = 30.0  # seconds between reconciliations (Nomad's periodicInterval)
RETRY_MIN = 1.0  # first retry while Consul fails, doubling ...
RETRY_MAX = 30.0  # ... up to this (Nomad's maxRetryInterval)
PROBATION = 60.0  # seconds after start before unknown registrations of live allocs go
CHECK_POLL_INTERVAL = 0.5  # seconds between reads of the check statuses, while asked for
POLL_IDLE_AFTER = 5.0  # seconds without a question before the poller rests
HOOK = "consul_services"


@dataclass
class _Workload:
    workload: WorkloadServices
    instances: list[ServiceInstance]
    synced: bool = False  # Consul held it at the end of the last good sync
    failure_told: bool = False  # its task was told registration is failing


@dataclass
class _CheckCache:
    """The last read of ``/v1/agent/checks``, refreshed by a poller thread while anyone
    asks (so readers -- timer callbacks among them -- never wait on Consul)."""

    statuses: dict[str, dict[str, Any]] | None = None  # None: never read, or the read failed
    error: str = ""
    wanted_at: float = -1e18  # when someone last asked
    refresh: bool = True  # registrations changed: read again now
    cond: threading.Condition = field(default_factory=threading.Condition)


class ConsulServiceProvider:
    def __init__(self, agent: ConsulAgent, *, node_id: str = "",
                 sync_interval: float = SYNC_INTERVAL, retry_min: float = RETRY_MIN,
                 retry_max: float = RETRY_MAX, probation: float = PROBATION,
                 check_poll_interval: float = CHECK_POLL_INTERVAL,
                 check_watcher: CheckWatcher | None = None, lazy: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.agent = agent
        self._engaged = not lazy  # talks to Consul (a lazy one once a workload came)
        self.node_id = node_id
        self.sync_interval = sync_interval
        self.retry_min, self.retry_max = retry_min, retry_max
        self._clock = clock
        self._probation_until = clock() + probation
        self._check_poll = check_poll_interval
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._workloads: dict[tuple[str, str], _Workload] = {}
        self._deregistered: set[str] = set()  # explicitly removed since the last good sync
        self._restored: set[str] | None = None  # allocs the client restored, once it has
        self._dirty = True
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._poller: threading.Thread | None = None
        self._cache = _CheckCache()
        self.checks = check_watcher or CheckWatcher(self.check_statuses)
        self.failures = 0  # consecutive failed syncs
        self.last_error = ""

    @property
    def engaged(self) -> bool:
        """Whether it talks to Consul (a lazy provider: once a workload was registered)."""
        with self._lock:
            return self._engaged

    # -- the protocol ------------------------------------------------------------------
    def register_workload(self, workload: WorkloadServices) -> None:
        result = registrations(workload)
        services = {i.service_id for i in result.instances}
        checks = {c.check_id for i in result.instances for c in i.checks}
        with self._wake:
            self._engaged = True
            old = self._workloads.get(workload.key)
            self._workloads[workload.key] = _Workload(workload, result.instances)
            if old is not None:
                self._forget_locked(old, keep_services=services, keep_checks=checks)
            self._dirty = True
            self._wake.notify()
        self._watch(workload, result.instances)
        if result.errors:
            raise ServiceRegistrationError("; ".join(result.errors))

    def update_workload(self, old: WorkloadServices, new: WorkloadServices) -> None:
        if old.key != new.key:
            self.remove_workload(old)
        self.register_workload(new)

    def remove_workload(self, workload: WorkloadServices) -> None:
        with self._wake:
            entry = self._workloads.pop(workload.key, None)
            if entry is None:
                return
            self._forget_locked(entry)
            self._dirty = True
            self._wake.notify()

    def _forget_locked(self, entry: _Workload, *, keep_services: Iterable[str] = (),
                       keep_checks: Iterable[str] = ()) -> None:
        """What ``entry`` registered and the new version does not: deregistered at the next
        sync, its checks no longer watched (kept ones keep their check_restart count)."""
        services, checks = set(keep_services), set(keep_checks)
        for instance in entry.instances:
            for check in instance.checks:
                if check.check_id not in checks:
                    self.checks.unwatch(check.check_id)
            if instance.service_id not in services:
                self._deregistered.add(instance.service_id)

    def _watch(self, workload: WorkloadServices, instances: list[ServiceInstance]) -> None:
        """check_restart for the workload's checks (those already watched keep counting)."""
        if workload.restarter is None:
            return
        for instance in instances:
            for check in instance.checks:
                if check.check_restart is not None and check.check_restart.limit > 0:
                    self.checks.watch(check, f"{workload.alloc_id}/{workload.name}",
                                      workload.restarter)

    def alloc_checks(self, alloc_id: str) -> AllocChecks | None:
        statuses = self._read_checks()
        if statuses is None:
            return None
        with self._lock:
            entries = [e for (alloc, _), e in self._workloads.items() if alloc == alloc_id]
        result = AllocChecks()
        for entry in entries:
            services = result.workloads.setdefault(entry.workload.name, [])
            for instance in entry.instances:
                services.append(ServiceState(instance.service_id, instance.name, [
                    CheckState(check.check_id, check.name,
                               str((statuses.get(check.check_id) or {}).get("Status", "")),
                               str((statuses.get(check.check_id) or {}).get("Output", "")),
                               check.on_update)
                    for check in instance.checks]))
        return result

    def check_statuses(self) -> dict[str, str] | None:
        """Every check's status by ID, as last read (None: Consul cannot tell now)."""
        statuses = self._read_checks()
        if statuses is None:
            return None
        return {cid: str(c.get("Status", "")) for cid, c in statuses.items()}

    def update_ttl(self, check_id: str, status: str, output: str) -> None:
        try:
            self.agent.update_ttl(check_id, status, output)
        except ConsulError as err:
            log.debug("cannot update check %s in Consul: %s", check_id, err)

    def restored(self, alloc_ids: Iterable[str]) -> None:
        with self._wake:
            self._restored = set(alloc_ids)
            self._dirty = True
            self._wake.notify()

    def start(self, node_id: str = "") -> None:
        with self._lock:
            if self._thread is not None:
                return
            self.node_id = node_id or self.node_id
            self._thread = threading.Thread(target=self._run, name="consul-services",
                                            daemon=True)
            self._poller = threading.Thread(target=self._poll_checks, name="consul-checks",
                                            daemon=True)
        self._thread.start()
        self._poller.start()

    def shutdown(self) -> None:
        """Stop syncing; what is registered stays (the tasks keep running).  Removals
        not yet sent are sent once more, best effort (a dev agent's tasks go with it)."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        with self._cache.cond:
            self._cache.cond.notify_all()
        for thread in (self._thread, self._poller):
            if thread is not None:
                thread.join(10)
        self.checks.stop()

    # -- reads ---------------------------------------------------------------------------
    def _read_checks(self) -> dict[str, dict[str, Any]] | None:
        """The check statuses as last read; never waits for Consul."""
        cache = self._cache
        with cache.cond:
            idle = self._clock() - cache.wanted_at > POLL_IDLE_AFTER
            cache.wanted_at = self._clock()
            if idle:
                cache.cond.notify_all()
            return cache.statuses

    def _poll_checks(self) -> None:
        """The poller: read the statuses every ``check_poll_interval`` while asked for."""
        cache = self._cache
        while True:
            with cache.cond:
                while not self._stopping and (not self._engaged or (
                        self._clock() - cache.wanted_at > POLL_IDLE_AFTER and not cache.refresh)):
                    cache.cond.wait()
                if self._stopping:
                    return
                cache.refresh = False
            try:
                statuses: dict[str, dict[str, Any]] | None = self.agent.checks()
                error = ""
            except ConsulError as err:
                statuses, error = None, str(err)
            with cache.cond:
                cache.statuses, cache.error = statuses, error
                if not cache.refresh:
                    cache.cond.wait(self._check_poll)

    def registered_ids(self) -> set[str]:
        """The service IDs this provider wants registered."""
        with self._lock:
            return {i.service_id for e in self._workloads.values() for i in e.instances}

    # -- the sync loop -------------------------------------------------------------------
    def _run(self) -> None:
        next_sync = self._clock()
        with self._wake:
            self._wake.wait_for(lambda: self._stopping or self._engaged)
        while True:
            with self._wake:
                while not self._stopping and not self._dirty:
                    wait = next_sync - self._clock()
                    if wait <= 0:
                        break
                    self._wake.wait(wait)
                if self._stopping and not self._deregistered:
                    return
                self._dirty = False
            if self._stopping:  # removals not sent yet: one last try
                try:
                    self.sync()
                except ConsulError as err:
                    log.warning("could not deregister services from Consul at %s on "
                                "shutdown: %s", self.agent.address, err)
                return
            try:
                failed: dict[str, str] | None = self.sync()
                error = ""
            except ConsulError as err:
                failed, error = None, str(err)
            except Exception:  # noqa: BLE001 - never let the loop die; retry later
                log.exception("syncing services with Consul failed")
                next_sync = self._clock() + self.retry_max
                continue
            if failed is None or failed:
                self._sync_failed(failed, error)
                delay = min(self.retry_min * 2 ** (self.failures - 1), self.retry_max)
                next_sync = self._clock() + delay
                with self._wake:  # new work waits for the retry too: Consul is failing
                    self._wake.wait_for(lambda: self._stopping,
                                        timeout=max(0.0, next_sync - self._clock()))
                    self._dirty = True
                continue
            self._sync_succeeded()
            next_sync = self._clock() + self.sync_interval

    def _sync_failed(self, failed: dict[str, str] | None, error: str) -> None:
        """A sync failed: all of it (``failed`` None: Consul unreachable or unreadable) or
        the services in ``failed`` (Consul refused them; the rest is registered)."""
        self.failures += 1
        if failed:
            error = "; ".join(f"{sid}: {why}" for sid, why in sorted(failed.items())[:3])
        self.last_error = error
        with self._lock:
            idle = not self._workloads
        if idle:  # nothing waits on Consul: no reason to fill the log
            log.debug("cannot reach Consul at %s (retrying): %s", self.agent.address, error)
        elif self.failures == 1:
            log.warning("failed to update services in Consul at %s (retrying): %s",
                        self.agent.address, error)
        elif self.failures % 10 == 0:
            log.error("still unable to update services in Consul at %s after %d attempts: "
                      "%s", self.agent.address, self.failures, error)
        tell: list[tuple[_Workload, str]] = []
        fixed: list[_Workload] = []
        with self._lock:
            for entry in self._workloads.values():
                mine = [failed[i.service_id] for i in entry.instances
                        if failed is not None and i.service_id in failed]
                if failed is not None and not mine:
                    fixed += [entry] if entry.failure_told else []
                    entry.synced, entry.failure_told = True, False
                elif not entry.failure_told and (mine or not entry.synced):
                    entry.synced, entry.failure_told = False, True
                    tell.append((entry, mine[0] if mine else error))
        for entry, why in tell:
            self._emit(entry, events.hook_failed(
                HOOK, f"cannot register services with Consul at {self.agent.address} "
                      f"(retrying in the background): {why}"))
        for entry in fixed:
            self._emit(entry, self._registered_event(entry))

    def _sync_succeeded(self) -> None:
        if self.failures:
            log.info("updated services in Consul at %s after %d failed attempt(s)",
                     self.agent.address, self.failures)
        self.failures = 0
        self.last_error = ""
        with self._lock:
            self._deregistered.clear()
            told = [e for e in self._workloads.values() if e.failure_told]
            for entry in self._workloads.values():
                entry.synced = True
                entry.failure_told = False
        for entry in told:
            self._emit(entry, self._registered_event(entry))

    def _registered_event(self, entry: _Workload) -> TaskEvent:
        names = ", ".join(sorted({i.name for i in entry.instances})) or "none"
        return events.hook_message(
            HOOK, f"services registered with Consul at {self.agent.address}: {names}")

    @staticmethod
    def _emit(entry: _Workload, event: TaskEvent) -> None:
        tell_workload(entry.workload, event)

    def sync(self) -> dict[str, str]:
        """Make Consul hold exactly what should be registered.

        Returns ``{service ID: why}`` for what Consul refused (everything else is done);
        raises ConsulError when Consul cannot be read or stops answering midway."""
        present = self.agent.services()
        with self._lock:
            wanted = {i.service_id: i for e in self._workloads.values() for i in e.instances}
            live = {alloc for alloc, _ in self._workloads}
            deregistered = set(self._deregistered)
            restored = self._restored
            probation = self._clock() < self._probation_until
        failed: dict[str, str] = {}

        def attempt(sid: str, call: Callable[[], None]) -> None:
            try:
                call()
            except ConsulUnreachable:
                raise
            except ConsulError as err:  # an answer: this one is refused, go on
                failed.setdefault(sid, str(err))

        for sid, service in present.items():
            if sid in wanted or not sid.startswith(TASK_SERVICE_PREFIX):
                continue
            if (service.get("Meta") or {}).get(NODE_META) != self.node_id:
                continue  # another client's, or registered by someone else
            alloc = alloc_of_service_id(sid)
            gone = restored is not None and alloc not in restored and alloc not in live
            if sid in deregistered or gone or not probation:
                attempt(sid, functools.partial(self.agent.deregister_service, sid))
        for sid, instance in wanted.items():
            body = service_body(instance, self.node_id)
            existing = present.get(sid)
            if existing is None or differs(body, existing):
                attempt(sid, functools.partial(self.agent.register_service, body,
                                               replace_existing_checks=existing is not None))
        checks = self.agent.checks()
        wanted_checks = {c.check_id: c for i in wanted.values() for c in i.checks}
        for cid, check in checks.items():
            if cid in wanted_checks or not cid.startswith(CHECK_PREFIX):
                continue
            if check.get("ServiceID") in wanted:  # a check of ours we no longer want
                attempt(str(check["ServiceID"]),
                        functools.partial(self.agent.deregister_check, cid))
        for cid, check_def in wanted_checks.items():
            if cid not in checks and check_def.service_id not in failed:
                attempt(check_def.service_id, functools.partial(
                    self.agent.register_check, check_body(check_def, with_service=True)))
        with self._cache.cond:
            self._cache.refresh = True  # registrations changed: read statuses afresh
            self._cache.cond.notify_all()
        return failed
