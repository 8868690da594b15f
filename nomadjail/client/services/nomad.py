"""Nomad's own service discovery on the client (``provider = "nomad"``; Nomad's
``serviceregistration/nsd``).

:class:`NomadServiceProvider` registers a workload's service instances with the
servers (``ServiceRegistration.Upsert`` over the rpc port, authenticated as this
node) and removes them (``ServiceRegistration.DeleteByID``) when the workload
goes; ``/v1/services`` and ``/v1/service/<name>`` then list them.  What is
registered is built by :mod:`.workload`, exactly as for Consul: the same IDs
(``_nomad-task-<alloc>-<task>-<service>-<port label>``), the same address and
port rules, canary tags while the allocation is an unpromoted canary.  An
instance whose address works out empty (a numeric port in host mode: "the
agent's address" to Consul) is registered at the node's address.

Like the Consul provider it keeps what *should* be registered and one
background thread makes the servers hold it, so nothing of the client waits on
the servers:

* a workload is upserted whole, one RPC per workload; a removed one is deleted
  instance by instance ("not found" is what was wanted: the servers drop an
  allocation's instances themselves once it stops);
* nothing is sent before the client registered its node (the servers authenticate
  these calls with the node's secret);
* while no server answers, it retries with a doubling delay (1s ... 10s); a
  workload still not registered after three attempts gets a "Task hook failed"
  event, and a "Task hook message" once it is;
* what the servers refuse (400: an address no one can connect to, an allocation
  they do not know) is told to the task and not retried.

**Restarts.**  The IDs of everything sent to the servers are kept on disk
(:mod:`.nomad_record`), written *before* the upsert and forgotten only once
deleted.  After a restart (even ``kill -9``) the
restored workloads register again under the same IDs -- the servers replace,
nothing doubles -- and :meth:`restored` schedules the deletion of every recorded
instance of an allocation the client did not restore.  A minute later
(``probation``: time for restored tasks to register again) any recorded
instance no workload claims -- a task that died while the client was down --
goes too.  :meth:`shutdown` leaves the registrations in place: the tasks keep
running.

**Checks.**  The http and tcp checks of the instances are run by the client
(:mod:`.nomad_checks`) from registration to removal; ``alloc_checks`` answers
from their latest results, so deployment health (``health_check = "checks"``)
and ``check_restart`` (a :class:`~.check_watcher.CheckWatcher` of this
provider's own) work as they do with Consul.  Check IDs are Nomad's: a SHA-256
hex digest, stable for the same service and check definition.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from ...structs import (
    DEFAULT_NAMESPACE,
    BadRequest,
    NotFound,
    PermissionDenied,
    ServiceRegistration,
    TaskEvent,
)
from ...structs.check_result import CheckQueryResult
from ...structs.services import CheckType
from .. import events
from .check_watcher import CheckWatcher
from .nomad_checks import NomadCheck, NomadChecks, consul_status
from .nomad_record import Entries, RegistrationRecord
from .provider import (
    AllocChecks,
    CheckState,
    ServiceRegistrationError,
    ServiceState,
    tell_workload,
)
from .workload import (
    CHECK_PREFIX,
    ServiceInstance,
    WorkloadServices,
    interpolate_service,
    registrations,
    service_id,
)

log = logging.getLogger(__name__)

RETRY_MIN = 1.0  # seconds before the first retry while no server answers, doubling ...
RETRY_MAX = 10.0  # ... up to this
TELL_AFTER = 3  # failed attempts before the task hears its services are not registered
PROBATION = 60.0  # seconds after start before unclaimed recorded instances are deleted
SHUTDOWN_DEADLINE = 5.0  # seconds shutdown spends sending removals not sent yet
HOOK = "nomad_services"


class RegistrationRPC(Protocol):
    """The two server calls this provider makes (part of the client's ServerRPC)."""

    def upsert_service_registrations(self, services: list[ServiceRegistration]) -> int: ...

    def delete_service_registration(self, reg_id: str,
                                    namespace: str = DEFAULT_NAMESPACE) -> int: ...


@dataclass
class _Workload:
    workload: WorkloadServices
    instances: list[ServiceInstance]
    registrations: list[ServiceRegistration]
    checks: list[NomadCheck]
    version: int
    synced: bool = False  # the servers hold this version
    refused: bool = False  # the servers refused this version: not retried
    failure_told: bool = False  # its task was told registration is failing


@dataclass
class _Pass:
    """What one sync pass sends: a snapshot taken under the lock."""

    upserts: list[tuple[tuple[str, str], int, list[ServiceRegistration]]] = field(
        default_factory=list)
    deletes: dict[str, str] = field(default_factory=dict)  # reg ID -> namespace


def nomad_check_id(check_id: str) -> str:
    """Nomad's check IDs are the bare digest (Consul's carry the ``_nomad-check-``
    prefix)."""
    return check_id.removeprefix(CHECK_PREFIX)


class NomadServiceProvider:
    def __init__(self, rpc: RegistrationRPC, *, state_dir: str | None = None,
                 node_address: Callable[[], str] = lambda: "",
                 checks: NomadChecks | None = None,
                 check_watcher: CheckWatcher | None = None,
                 retry_min: float = RETRY_MIN, retry_max: float = RETRY_MAX,
                 probation: float = PROBATION, node_ready: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._rpc = rpc
        self._record = RegistrationRecord(state_dir)
        self._node_address = node_address
        self.checks = checks or NomadChecks()
        self.watcher = check_watcher or CheckWatcher(self.check_statuses)
        self.retry_min, self.retry_max = retry_min, retry_max
        self._probation = probation
        self._clock = clock
        self.node_id = ""
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._workloads: dict[tuple[str, str], _Workload] = {}
        # Indexes, for the health watchers' frequent questions: by allocation, and the
        # workload that wants each registration ID.
        self._by_alloc: dict[str, dict[str, _Workload]] = {}
        self._wanted: dict[str, tuple[str, str]] = {}
        self._deletes: dict[str, str] = {}  # reg ID -> namespace, to delete
        self._known: Entries = self._record.load()  # what the servers may hold
        self._probation_until: float | None = None  # set by start()
        self._node_ready = node_ready  # the servers know this node: RPCs may go
        self._versions = 0
        self._dirty = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.failures = 0  # consecutive failed passes
        self.last_error = ""

    # -- the protocol --------------------------------------------------------------------
    def register_workload(self, workload: WorkloadServices) -> None:
        result = registrations(workload)
        instances = [self._nomad_instance(i) for i in result.instances]
        regs = [self._registration(workload, i) for i in instances]
        checks = self._checks_of(workload, instances)
        with self._wake:
            self._versions += 1
            old = self._pop_locked(workload.key)
            self._put_locked(_Workload(workload, instances, regs, checks, self._versions))
            for reg in regs:
                self._deletes.pop(reg.id, None)
            if old is not None:
                self._forget_locked(old, keep_services={r.id for r in regs},
                                    keep_checks={c.check_id for c in checks})
            self._dirty = True
            self._wake.notify()
        self.checks.observe(checks)
        self._watch(workload, instances)
        if result.errors:
            raise ServiceRegistrationError("; ".join(result.errors))

    def update_workload(self, old: WorkloadServices, new: WorkloadServices) -> None:
        if old.key != new.key:
            self.remove_workload(old)
        self.register_workload(new)

    def remove_workload(self, workload: WorkloadServices) -> None:
        with self._wake:
            entry = self._pop_locked(workload.key)
            if entry is None:
                return
            self._forget_locked(entry)
            self._dirty = True
            self._wake.notify()

    def alloc_checks(self, alloc_id: str) -> AllocChecks:
        with self._lock:
            entries = list(self._by_alloc.get(alloc_id, {}).values())
        result = AllocChecks()
        for entry in entries:
            services = result.workloads.setdefault(entry.workload.name, [])
            for instance in entry.instances:
                states = []
                for check in instance.checks:
                    latest = self.checks.result(check.check_id)
                    states.append(CheckState(
                        check.check_id, check.name,
                        consul_status(latest.status) if latest is not None else "",
                        latest.output if latest is not None else "", check.on_update))
                services.append(ServiceState(instance.service_id, instance.name, states))
        return result

    def check_results(self, alloc_id: str) -> dict[str, CheckQueryResult]:
        """The latest result of every Nomad check of the allocation, by check ID
        (``/v1/client/allocation/<id>/checks``)."""
        return self.checks.results(alloc_id)

    def check_statuses(self) -> dict[str, str]:
        return self.checks.statuses()

    def recorded(self) -> dict[str, dict[str, str]]:
        """The instances the servers may hold, as recorded: ID -> namespace, allocation."""
        with self._lock:
            return {reg_id: dict(record) for reg_id, record in self._known.items()}

    def update_ttl(self, check_id: str, status: str, output: str) -> None:
        """Nomad's checks are http and tcp only (validation refuses script checks)."""
        return None

    def restored(self, alloc_ids: Iterable[str]) -> None:
        restored = set(alloc_ids)
        with self._wake:
            for reg_id, record in self._known.items():
                if record.get("AllocID") not in restored and not self._wanted_locked(reg_id):
                    self._deletes[reg_id] = record.get("Namespace") or DEFAULT_NAMESPACE
            self._dirty = True
            self._wake.notify()

    def start(self, node_id: str = "") -> None:
        with self._lock:
            if self._thread is not None:
                return
            self.node_id = node_id or self.node_id
            self._probation_until = self._clock() + self._probation
            self._dirty = True
            self._thread = threading.Thread(target=self._run, name="nomad-services",
                                            daemon=True)
        self._thread.start()

    def node_registered(self) -> None:
        """The client registered its node with the servers: calls authenticated as the
        node can go (a provider built with ``node_ready=False`` waits for this)."""
        with self._wake:
            if not self._node_ready:
                self._node_ready = True
                self._dirty = True
                self._wake.notify()

    def shutdown(self) -> None:
        """Stop; what is registered stays (the tasks keep running).  Removals not sent
        yet are sent once more, best effort and bounded in time."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(SHUTDOWN_DEADLINE + 5)
        self.watcher.stop()
        self.checks.stop()

    # -- building ------------------------------------------------------------------------
    @staticmethod
    def _nomad_instance(instance: ServiceInstance) -> ServiceInstance:
        """The instance with its checks as Nomad runs them: http and tcp, Nomad's IDs."""
        checks = tuple(dataclasses.replace(c, check_id=nomad_check_id(c.check_id))
                       for c in instance.checks if c.type in (CheckType.HTTP, CheckType.TCP))
        return dataclasses.replace(instance, checks=checks)

    def _registration(self, workload: WorkloadServices,
                      instance: ServiceInstance) -> ServiceRegistration:
        return ServiceRegistration(
            id=instance.service_id, service_name=instance.name,
            namespace=workload.namespace or DEFAULT_NAMESPACE,
            node_id=workload.node_id or self.node_id, datacenter=workload.datacenter,
            job_id=workload.job_id, alloc_id=workload.alloc_id, tags=list(instance.tags),
            address=instance.address or self._node_address(), port=instance.port)

    @staticmethod
    def _checks_of(workload: WorkloadServices,
                   instances: list[ServiceInstance]) -> list[NomadCheck]:
        tasks = {}
        for raw in workload.services:
            service = interpolate_service(raw, workload.interpolate)
            tasks[service_id(workload.alloc_id, workload.name, service)] = service.task_name
        return [NomadCheck(alloc_id=workload.alloc_id, definition=check,
                           group=workload.alloc_name,
                           task=tasks.get(instance.service_id, workload.task),
                           service=instance.name)
                for instance in instances for check in instance.checks]

    def _watch(self, workload: WorkloadServices, instances: list[ServiceInstance]) -> None:
        """check_restart for the workload's checks (those already watched keep counting)."""
        if workload.restarter is None:
            return
        for instance in instances:
            for check in instance.checks:
                if check.check_restart is not None and check.check_restart.limit > 0:
                    self.watcher.watch(check, f"{workload.alloc_id}/{workload.name}",
                                       workload.restarter)

    def _forget_locked(self, entry: _Workload, *, keep_services: Iterable[str] = (),
                       keep_checks: Iterable[str] = ()) -> None:
        """What ``entry`` registered and its successor does not: deleted at the next
        pass, its checks no longer run."""
        services, kept = set(keep_services), set(keep_checks)
        gone = [c.check_id for c in entry.checks if c.check_id not in kept]
        for check_id in gone:
            self.watcher.unwatch(check_id)
        self.checks.forget(entry.workload.alloc_id, gone)
        for reg in entry.registrations:
            if reg.id not in services:
                self._deletes[reg.id] = reg.namespace

    def _put_locked(self, entry: _Workload) -> None:
        key = entry.workload.key
        self._workloads[key] = entry
        self._by_alloc.setdefault(key[0], {})[key[1]] = entry
        for reg in entry.registrations:
            self._wanted[reg.id] = key

    def _pop_locked(self, key: tuple[str, str]) -> _Workload | None:
        entry = self._workloads.pop(key, None)
        if entry is None:
            return None
        of_alloc = self._by_alloc.get(key[0], {})
        of_alloc.pop(key[1], None)
        if not of_alloc:
            self._by_alloc.pop(key[0], None)
        for reg in entry.registrations:
            if self._wanted.get(reg.id) == key:
                del self._wanted[reg.id]
        return entry

    def _wanted_locked(self, reg_id: str) -> bool:
        return reg_id in self._wanted

    # -- the sync loop -------------------------------------------------------------------
    def _run(self) -> None:
        next_pass = self._clock()
        while True:
            with self._wake:
                while not self._stopping:
                    if not self._node_ready:  # the servers would not know our secret yet
                        self._wake.wait()
                        continue
                    if self._dirty:
                        break
                    deadline = next_pass if self.failures else self._probation_until
                    if deadline is not None and deadline - self._clock() <= 0:
                        break
                    self._wake.wait(None if deadline is None
                                    else max(0.0, deadline - self._clock()))
                stopping = self._stopping
                self._dirty = False
                self._end_probation_locked()
            if stopping:
                self._final_deletes()
                return
            try:
                ok = self.sync()
            except Exception:  # noqa: BLE001 - never let the loop die; retry later
                log.exception("registering Nomad services failed")
                ok = False
            if ok:
                self.failures = 0
                continue
            delay = min(self.retry_min * 2 ** (self.failures - 1), self.retry_max)
            next_pass = self._clock() + delay
            with self._wake:  # new work waits for the retry too: the servers are failing
                self._wake.wait_for(lambda: self._stopping,
                                    timeout=max(0.0, next_pass - self._clock()))

    def _end_probation_locked(self) -> None:
        """Once, a minute after start: recorded instances nothing claims go."""
        if self._probation_until is None or self._clock() < self._probation_until:
            return
        self._probation_until = None
        for reg_id, record in self._known.items():
            if reg_id not in self._wanted and reg_id not in self._deletes:
                self._deletes[reg_id] = record.get("Namespace") or DEFAULT_NAMESPACE

    def _take_pass(self) -> _Pass:
        with self._lock:
            for reg_id in [r for r in self._deletes if r in self._wanted]:
                del self._deletes[reg_id]
            work = _Pass(deletes=dict(self._deletes))
            for key, entry in self._workloads.items():
                if not entry.synced and not entry.refused and entry.registrations:
                    work.upserts.append((key, entry.version, list(entry.registrations)))
                elif not entry.registrations:
                    entry.synced = True
            return work

    def sync(self) -> bool:
        """One pass: deletions, then upserts.  False when the servers could not be
        reached (the rest is retried later); what they refused is not retried."""
        work = self._take_pass()
        error = ""
        for reg_id, namespace in work.deletes.items():
            try:
                self._rpc.delete_service_registration(reg_id, namespace)
            except NotFound:
                pass  # gone already: the servers drop a stopped allocation's instances
            except (BadRequest, PermissionDenied) as err:
                log.warning("servers refused to delete service registration %s: %s",
                            reg_id, err)
            except Exception as err:  # noqa: BLE001 - unreachable: retry later
                error = str(err)
                break
            self._deleted(reg_id, namespace)
        if not error:
            error = self._upsert_all(work)
        if error:
            self._failed(error)
            return False
        self._succeeded()
        return True

    def _deleted(self, reg_id: str, namespace: str) -> None:
        with self._lock:
            if self._deletes.get(reg_id) == namespace:
                del self._deletes[reg_id]
            if self._wanted_locked(reg_id) or self._known.pop(reg_id, None) is None:
                return
            known = dict(self._known)
        self._record.save(known)

    def _upsert_all(self, work: _Pass) -> str:
        """Upsert every workload of the pass; the error that stopped it, or ""."""
        if work.upserts:
            with self._lock:
                for _, _, regs in work.upserts:
                    for reg in regs:
                        self._known[reg.id] = {"Namespace": reg.namespace,
                                               "AllocID": reg.alloc_id}
                known = dict(self._known)
            if not self._record.save(known):
                return f"cannot record the registrations in {self._record.path}"
        for key, version, regs in work.upserts:
            try:
                self._rpc.upsert_service_registrations(regs)
            except BadRequest as err:
                self._refused(key, version, str(err))
                continue
            except Exception as err:  # noqa: BLE001 - unreachable (or not yet registered)
                return str(err)
            told = False
            with self._lock:
                entry = self._workloads.get(key)
                if entry is not None and entry.version == version:
                    entry.synced = True
                    told, entry.failure_told = entry.failure_told, False
            if told and entry is not None:
                self._emit(entry, self._registered_event(entry))
        return ""

    def _refused(self, key: tuple[str, str], version: int, why: str) -> None:
        log.warning("servers refused the services of %s/%s: %s", key[0], key[1], why)
        with self._lock:
            entry = self._workloads.get(key)
            if entry is None or entry.version != version:
                return
            entry.refused = True
            for reg in entry.registrations:  # nothing was stored
                self._known.pop(reg.id, None)
            known = dict(self._known)
        self._record.save(known)
        self._emit(entry, events.hook_failed(HOOK, f"services not registered with Nomad: "
                                                   f"{why}"))

    def _failed(self, error: str) -> None:
        self.failures += 1
        self.last_error = error
        if self.failures == 1:
            log.warning("failed to update Nomad service registrations (retrying): %s", error)
        elif self.failures % 10 == 0:
            log.error("still unable to update Nomad service registrations after %d "
                      "attempts: %s", self.failures, error)
        if self.failures < TELL_AFTER:
            return
        with self._lock:
            tell = [e for e in self._workloads.values()
                    if not e.synced and not e.refused and not e.failure_told]
            for entry in tell:
                entry.failure_told = True
        for entry in tell:
            self._emit(entry, events.hook_failed(
                HOOK, f"cannot register services with Nomad (retrying in the background): "
                      f"{error}"))

    def _succeeded(self) -> None:
        if self.failures:
            log.info("updated Nomad service registrations after %d failed attempt(s)",
                     self.failures)
        self.last_error = ""

    def _final_deletes(self) -> None:
        """Shutdown: send the removals still waiting, until the deadline."""
        deadline = self._clock() + SHUTDOWN_DEADLINE
        with self._lock:
            pending = dict(self._deletes)
        for reg_id, namespace in pending.items():
            if self._clock() >= deadline:
                log.warning("%d Nomad service registration(s) left to delete at shutdown",
                            len(pending))
                return
            try:
                self._rpc.delete_service_registration(reg_id, namespace)
            except NotFound:
                pass
            except Exception as err:  # noqa: BLE001 - best effort; the record keeps it
                log.warning("could not delete service registration %s on shutdown: %s",
                            reg_id, err)
                return
            self._deleted(reg_id, namespace)

    @staticmethod
    def _registered_event(entry: _Workload) -> TaskEvent:
        names = ", ".join(sorted({r.service_name for r in entry.registrations})) or "none"
        return events.hook_message(HOOK, f"services registered with Nomad: {names}")

    @staticmethod
    def _emit(entry: _Workload, event: TaskEvent) -> None:
        tell_workload(entry.workload, event)

