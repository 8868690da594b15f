"""The client agent: register, heartbeat, watch allocations, run them, report.

:class:`Client` is what the agent builds and what the HTTP layer asks about a
node's allocations.  It talks to servers only through a
:class:`~nomadjail.client.rpc.ServerRPC`.

Threads (all daemons, all stopped by :meth:`Client.shutdown`):

* **node** -- registers (retrying with backoff while no server answers),
  heartbeats well inside the TTL the server returns (half of it, minus jitter)
  and registers again when a server no longer knows the node; re-fingerprints
  the drivers every ``fingerprint_interval`` and re-registers when their
  health changed.
* **watcher** -- a blocking ``get_client_allocs`` loop; pulls the allocations
  whose ``AllocModifyIndex`` moved, starts a runner for new ones, passes
  updates (desired stop, new job version) to existing ones, and garbage
  collects those the servers dropped.
* **sync** -- every ``update_interval`` sends the allocations whose status
  changed, in one ``update_allocs`` call; a failed call is retried, and a newer
  status for the same allocation replaces the one waiting.

Restart safety: every allocation and task state is in the state db before it
is reported.  :meth:`start` restores every runner from it *before* talking to
a server; tasks still running are re-attached through the driver (never
started twice) and tasks that ended meanwhile are reported with their exit.
"""

from __future__ import annotations

import copy
import logging
import os
import random
import threading
import time
from collections.abc import Mapping

from ..drivers.base import Driver, FingerprintNotifier
from ..helper.atomic_file import write_atomically
from ..helper.timers import Timers
from ..structs import (
    ZERO_TIME,
    Allocation,
    AllocClientStatus,
    AllocDeploymentStatus,
    Node,
    NodeStatus,
    NomadError,
    NotFound,
    PermissionDenied,
    TaskState,
    generate_uuid,
    now_ns,
    rfc3339,
)
from ..structs.check_result import CheckQueryResult
from ..structs.services import ServiceProvider as ProviderName
from .alloc_runner import AllocRunner
from .config import ClientConfig
from .fingerprint import apply_driver_info, driver_info, fingerprint_node
from .rpc import NoServersError, ServerRPC
from .services.nomad import NomadServiceProvider
from .services.provider import ServiceProviders
from .state_db import FileStateDB, StateDB
from .templates.sources import TemplateBackends, VariableReads
from .templates.watchers import WatchRegistry

log = logging.getLogger(__name__)

WATCH_WAIT = 30.0  # seconds a blocking allocation query may wait at the server
DEFAULT_HEARTBEAT_TTL = 10.0  # until a server says otherwise
MAX_RETRY = 5.0  # longest wait between retries of a failing call
NODE_ID_FILE = "node-id"
SECRET_ID_FILE = "secret-id"


class PendingUpdates:
    """Allocation updates waiting to be sent: the newest per allocation wins."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._updates: dict[str, Allocation] = {}

    def add(self, alloc: Allocation) -> None:
        with self._lock:
            self._updates[alloc.id] = alloc

    def take(self) -> list[Allocation]:
        with self._lock:
            batch = list(self._updates.values())
            self._updates.clear()
            return batch

    def restore(self, batch: list[Allocation]) -> None:
        """Put back a batch that failed to send, unless newer updates arrived meanwhile."""
        with self._lock:
            for alloc in batch:
                self._updates.setdefault(alloc.id, alloc)

    def __len__(self) -> int:
        with self._lock:
            return len(self._updates)


def _read_or_create_id(path: str, given: str | None) -> str:
    if given:
        value = given
    else:
        try:
            with open(path, encoding="utf-8") as src:
                value = src.read().strip()
        except FileNotFoundError:
            value = ""
        if value:
            return value
        value = generate_uuid()
    write_atomically(path, value)
    return value


def _failed_alloc(alloc: Allocation, node_id: str, error: str) -> Allocation:
    """Nomad's makeFailedAlloc: what to report for an allocation that cannot run here."""
    now = rfc3339(now_ns())
    states = {name: copy.deepcopy(state) for name, state in alloc.task_states.items()}
    group = alloc.lookup_task_group()
    for task in group.tasks if group is not None else []:
        state = states.setdefault(task.name, TaskState())
        if state.finished_at == ZERO_TIME:
            state.finished_at = now
    deployment = alloc.deployment_status
    if deployment is None or deployment.healthy is None:
        deployment = AllocDeploymentStatus(healthy=False, timestamp=now)
    return Allocation(id=alloc.id, node_id=node_id, namespace=alloc.namespace,
                      job_id=alloc.job_id, task_group=alloc.task_group,
                      client_status=AllocClientStatus.FAILED,
                      client_description=f"Unable to add allocation due to error: {error}",
                      task_states=states, deployment_status=deployment, modify_time=now_ns())


class Client:
    def __init__(self, config: ClientConfig, *, rpc: ServerRPC, drivers: Mapping[str, Driver],
                 state_db: StateDB | None = None, watch_wait: float = WATCH_WAIT,
                 services: ServiceProviders | None = None,
                 template_backends: TemplateBackends | None = None) -> None:
        self.config = config
        # Where tasks' and groups' service blocks are registered (Consul, Nomad).
        self.services = services if services is not None else ServiceProviders()
        self._rpc = rpc
        self._drivers: dict[str, Driver] = dict(drivers)
        os.makedirs(config.client_dir, exist_ok=True)
        self._db: StateDB = state_db or FileStateDB(os.path.join(config.client_dir, "state"))
        self._node_id = _read_or_create_id(os.path.join(config.client_dir, NODE_ID_FILE),
                                           config.node_id)
        self._secret_id = _read_or_create_id(os.path.join(config.client_dir, SECRET_ID_FILE),
                                             None)
        # Nomad's own service discovery goes through the servers, over this client's rpc.
        nomad = self.services.provider(ProviderName.NOMAD)
        if not isinstance(nomad, NomadServiceProvider):
            nomad = NomadServiceProvider(rpc, state_dir=config.client_dir,
                                         node_address=self._node_address, node_ready=False)
            self.services.add(ProviderName.NOMAD, nomad)
        self.nomad_services = nomad
        # What job templates read: Consul (given by the agent) and the servers, over rpc.
        self.template_backends = template_backends or TemplateBackends()
        if self.template_backends.nomad is None:
            self.template_backends.nomad = rpc
        if self.template_backends.variables is None and isinstance(rpc, VariableReads):
            self.template_backends.variables = rpc
        if self.template_backends.watches is None:  # one watcher per dependency, client-wide
            self.template_backends.watches = WatchRegistry(
                wait=config.template.block_query_wait)
        self._watch_wait = watch_wait
        self._node_lock = threading.Lock()
        self._node: Node | None = None
        self._allocs_lock = threading.Lock()
        self._allocs: dict[str, AllocRunner] = {}
        self._invalid: dict[str, int] = {}  # alloc ID -> AllocModifyIndex it failed at
        # Finished and removed here (or finished before this client saw them): never pulled
        # again while the servers still list them; persisted, so a restart does not either.
        self._collected: set[str] = set()
        self._pending = PendingUpdates()
        self._timers = Timers("client")
        self._stop = threading.Event()
        self._wake_node_loop = threading.Event()
        self._fingerprint_due = threading.Event()  # a driver asked for a fingerprint now
        for driver in self._drivers.values():
            if isinstance(driver, FingerprintNotifier):
                driver.notify_fingerprint_changes(self._fingerprint_soon)
        self._registered = threading.Event()
        self._servers_contacted = threading.Event()
        self._heartbeat_ttl = DEFAULT_HEARTBEAT_TTL
        self._last_heartbeat = 0.0
        self._threads: list[threading.Thread] = []
        self._started = False

    # -- facade ------------------------------------------------------------------------

    @property
    def node_id(self) -> str:
        return self._node_id

    def node(self) -> Node:
        """The fingerprinted node as registered (a copy)."""
        with self._node_lock:
            if self._node is None:
                self._node = fingerprint_node(self.config, node_id=self._node_id,
                                              secret_id=self._secret_id, drivers=self._drivers)
            return copy.deepcopy(self._node)

    def _current_node(self) -> Node:
        """The node without copying (read-only use by task runners)."""
        with self._node_lock:
            if self._node is None:
                self._node = fingerprint_node(self.config, node_id=self._node_id,
                                              secret_id=self._secret_id, drivers=self._drivers)
            return self._node

    def _node_address(self) -> str:
        """Where instances without an address of their own are registered."""
        return self._current_node().attributes.get("unique.network.ip-address", "")

    def alloc_checks(self, alloc_id: str) -> dict[str, CheckQueryResult]:
        """The latest results of the allocation's Nomad service checks, by check ID
        (NotFound when this client does not run the allocation)."""
        self._runner(alloc_id)
        return self.nomad_services.check_results(alloc_id)

    def servers(self) -> list[str]:
        """The server rpc addresses this client uses, current one first."""
        servers = getattr(self._rpc, "servers", None)
        return list(servers()) if callable(servers) else list(self.config.servers)

    def registered(self) -> bool:
        return self._registered.is_set()

    def start(self) -> None:
        """Fingerprint, restore local allocations, then start the threads; returns at once."""
        if self._started:
            return
        self._started = True
        os.makedirs(self.config.alloc_root, exist_ok=True)
        self._current_node()
        self._restore()
        with self._allocs_lock:
            restored = list(self._allocs)
        for provider in self.services.all():
            provider.restored(restored)
            provider.start(self._node_id)
        for name, target in (("node", self._node_loop), ("watcher", self._watch_loop),
                             ("sync", self._sync_loop)):
            thread = threading.Thread(target=target, name=f"client-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def shutdown(self) -> None:
        """Stop the client's threads and runners.  Tasks KEEP RUNNING (as Nomad), except
        in dev mode, where Nomad destroys every allocation so nothing outlives the agent."""
        self._stop.set()
        self._wake_node_loop.set()
        self._registered.set()  # release anyone waiting for registration
        with self._allocs_lock:
            runners = list(self._allocs.values())
        if self.config.dev_mode:
            destroyers = [threading.Thread(target=r.destroy, daemon=True) for r in runners]
            for thread in destroyers:
                thread.start()
            for thread in destroyers:
                thread.join(self.config.max_kill_timeout + 5)
        for runner in runners:
            runner.shutdown()
        for provider in self.services.all():
            provider.shutdown()  # registrations stay: the tasks keep running
        self._timers.stop()
        if self.template_backends.watches is not None:
            self.template_backends.watches.stop()
        close = getattr(self._rpc, "close", None)
        if callable(close):
            close()  # may cut a blocking query short
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=1.0)

    def _runner(self, alloc_id: str) -> AllocRunner:
        with self._allocs_lock:
            runner = self._allocs.get(alloc_id)
        if runner is None:
            raise NotFound(f'Unknown allocation "{alloc_id}"')
        return runner

    def allocations(self) -> list[Allocation]:
        """The client's view of every allocation it runs (as last reported)."""
        with self._allocs_lock:
            runners = list(self._allocs.values())
        return [runner.client_alloc() for runner in runners]

    def alloc_runner(self, alloc_id: str) -> AllocRunner | None:
        with self._allocs_lock:
            return self._allocs.get(alloc_id)

    def alloc_dir(self, alloc_id: str) -> str | None:
        """The allocation's directory on this host, if it (still) exists."""
        if os.sep in alloc_id or alloc_id in ("", ".", ".."):
            return None
        with self._allocs_lock:
            runner = self._allocs.get(alloc_id)
        path = (runner.alloc_dir.path if runner is not None
                else os.path.join(self.config.alloc_root, alloc_id))
        return path if os.path.isdir(path) else None

    def signal_task(self, alloc_id: str, task: str | None, signal: str) -> None:
        self._runner(alloc_id).signal(task, signal)

    def restart_alloc(self, alloc_id: str, task: str | None, *, all_tasks: bool = False) -> None:
        """Start restarting the allocation's tasks and return (the kills run in the background).

        Raises NotFound for an unknown allocation or task, BadRequest for an
        allocation that should not run and TaskNotRunning for a task that does not.
        """
        self._runner(alloc_id).restart(task, all_tasks=all_tasks)

    def alloc_stats(self, alloc_id: str, task: str | None = None) -> dict:
        return self._runner(alloc_id).stats(task)

    def gc_alloc(self, alloc_id: str) -> None:
        """Destroy an allocation's runner and directory now (``/v1/client/allocation/:id/gc``)."""
        runner = self._runner(alloc_id)
        with self._allocs_lock:
            self._allocs.pop(alloc_id, None)
        self._mark_collected([alloc_id])
        runner.destroy()

    def _mark_collected(self, alloc_ids: list[str]) -> None:
        """Remember (persisted) that these allocations are done with here."""
        with self._allocs_lock:
            if all(alloc_id in self._collected for alloc_id in alloc_ids):
                return
            self._collected.update(alloc_ids)
            collected = set(self._collected)
        self._persist_collected(collected)

    def _persist_collected(self, collected: set[str]) -> None:
        try:
            self._db.put_collected_allocs(collected)
        except OSError as err:
            log.error("cannot persist the collected allocations: %s", err)

    # -- restore -----------------------------------------------------------------------

    def _new_runner(self, alloc: Allocation) -> AllocRunner:
        return AllocRunner(alloc, config=self.config, drivers=self._drivers,
                           node=self._current_node, state_db=self._db, timers=self._timers,
                           on_update=self._alloc_updated,
                           servers_contacted=self._servers_contacted, services=self.services,
                           template_backends=self.template_backends)

    def _restore(self) -> None:
        self._collected = self._db.get_collected_allocs()
        allocs, errors = self._db.get_allocations()
        for alloc_id, error in errors.items():
            log.error("cannot restore allocation %s: %s", alloc_id, error)
        runners = []
        for alloc in allocs:
            try:
                runner = self._new_runner(alloc)
                runner.restore()
            except (NomadError, OSError, ValueError) as err:
                log.error("cannot restore allocation %s: %s", alloc.id, err)
                continue
            with self._allocs_lock:
                self._allocs[alloc.id] = runner
            runners.append(runner)
        for runner in runners:
            runner.run()

    # -- reporting ---------------------------------------------------------------------

    def _alloc_updated(self, alloc: Allocation) -> None:
        if not self._stop.is_set():
            alloc.node_id = self._node_id
            self._pending.add(alloc)

    def _sync_loop(self) -> None:
        backoff = self.config.update_interval
        while not self._stop.wait(self.config.update_interval):
            if not self._registered.is_set():
                continue
            batch = self._pending.take()
            if not batch:
                continue
            try:
                self._rpc.update_allocs(batch)
                backoff = self.config.update_interval
            except Exception as err:  # noqa: BLE001 - keep the updates, retry later
                log.warning("error updating allocations (will retry): %s", err)
                self._pending.restore(batch)
                if isinstance(err, (NotFound, PermissionDenied)):
                    self._need_registration()
                backoff = min(backoff * 2, MAX_RETRY)
                self._stop.wait(backoff)

    # -- registration and heartbeats ---------------------------------------------------

    def _need_registration(self) -> None:
        if not self._stop.is_set():
            self._registered.clear()
            self._wake_node_loop.set()

    def _registration_node(self) -> Node:
        with self._node_lock:
            assert self._node is not None
            return copy.deepcopy(self._node)

    def _register(self) -> bool:
        node = self._registration_node()
        try:
            response = self._rpc.register(node)
        except Exception as err:  # noqa: BLE001 - every failure means: try again later
            if isinstance(err, NoServersError):
                log.debug("registration waiting on servers: %s", err)
            else:
                log.error("error registering node %s: %s", self._node_id, err)
            return False
        if response.heartbeat_ttl:
            self._heartbeat_ttl = response.heartbeat_ttl / 1e9
        with self._node_lock:
            assert self._node is not None
            self._node.status = NodeStatus.READY
        self._last_heartbeat = time.monotonic()
        self._registered.set()
        self.nomad_services.node_registered()
        log.info("node %s registered (heartbeat TTL %.1fs)", self._node_id, self._heartbeat_ttl)
        return True

    def _heartbeat(self) -> float:
        """One Node.UpdateStatus; returns seconds until the next one."""
        try:
            response = self._rpc.update_status(self._node_id, NodeStatus.READY)
        except (NotFound, PermissionDenied) as err:
            log.info("servers do not know node %s (%s); registering again", self._node_id, err)
            self._registered.clear()
            return 0.0
        except Exception as err:  # noqa: BLE001
            log.warning("error heartbeating (will retry): %s", err)
            left = self._last_heartbeat + self._heartbeat_ttl - time.monotonic()
            return min(max(left / 4, 0.5), MAX_RETRY)
        if response.heartbeat_ttl:
            self._heartbeat_ttl = response.heartbeat_ttl / 1e9
        self._last_heartbeat = time.monotonic()
        return self._heartbeat_ttl / 2 * (1 - 0.1 * random.random())

    def _refresh_drivers(self) -> bool:
        """Fingerprint the drivers again; True if the node changed."""
        changed = False
        infos = {name: driver_info(driver) for name, driver in self._drivers.items()}
        with self._node_lock:
            assert self._node is not None
            for name, info in infos.items():
                old = self._node.drivers.get(name)
                if old is not None and (old.detected, old.healthy, old.health_description,
                                        old.attributes) == (info.detected, info.healthy,
                                                            info.health_description,
                                                            info.attributes):
                    continue
                changed |= apply_driver_info(self._node, name, info)
        return changed

    def _fingerprint_soon(self) -> None:
        """A driver's attributes changed: fingerprint the drivers now, not at the next
        ``fingerprint_interval``."""
        self._fingerprint_due.set()
        self._wake_node_loop.set()

    def _node_loop(self) -> None:
        backoff = 0.1
        next_heartbeat = 0.0
        next_fingerprint = time.monotonic() + self.config.fingerprint_interval
        while not self._stop.is_set():
            if not self._registered.is_set():
                if self._register():
                    backoff = 0.1
                    next_heartbeat = time.monotonic()  # go ready at once
                else:
                    self._wake_node_loop.wait(backoff)
                    self._wake_node_loop.clear()
                    backoff = min(backoff * 2, MAX_RETRY)
                    continue
            now = time.monotonic()
            if now >= next_fingerprint or self._fingerprint_due.is_set():
                self._fingerprint_due.clear()
                next_fingerprint = now + self.config.fingerprint_interval
                if self._refresh_drivers():
                    log.info("driver health changed; updating the node registration")
                    if not self._register():
                        self._registered.clear()
                        continue
            if now >= next_heartbeat:
                next_heartbeat = time.monotonic() + self._heartbeat()
                if not self._registered.is_set():
                    continue
            delay = max(min(next_heartbeat, next_fingerprint) - time.monotonic(), 0.0)
            self._wake_node_loop.wait(delay)
            self._wake_node_loop.clear()

    # -- allocations -------------------------------------------------------------------

    def _watch_loop(self) -> None:
        index = 0
        backoff = 0.1
        while not self._stop.is_set():
            self._registered.wait()
            if self._stop.is_set():
                return
            try:
                allocs, new_index = self._rpc.get_client_allocs(self._node_id, index,
                                                                self._watch_wait)
            except (NotFound, PermissionDenied) as err:
                log.info("allocation query refused (%s); registering again", err)
                self._need_registration()
                self._stop.wait(backoff)
                continue
            except Exception as err:  # noqa: BLE001
                if not isinstance(err, NoServersError):
                    log.error("error querying node allocations: %s", err)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_RETRY)
                continue
            if self._stop.is_set():
                return
            if new_index <= index:
                self._stop.wait(0.05)  # stale answer: ask again
                continue
            pull = self._to_pull(allocs)
            pulled: dict[str, Allocation] = {}
            if pull:
                try:
                    for alloc in self._rpc.get_allocs(pull):
                        pulled[alloc.id] = alloc
                except Exception as err:  # noqa: BLE001
                    log.error("error fetching updated allocations: %s", err)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, MAX_RETRY)
                    continue
                if any(alloc_id not in pulled for alloc_id in pull):
                    log.warning("servers did not return every updated allocation; retrying")
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, MAX_RETRY)
                    continue
            backoff = 0.1
            if self._stop.is_set():
                return
            self._run_allocs(allocs, pulled)
            index = new_index
            self._servers_contacted.set()

    def _to_pull(self, allocs: dict[str, int]) -> list[str]:
        pull = []
        with self._allocs_lock:
            for alloc_id, modify_index in allocs.items():
                runner = self._allocs.get(alloc_id)
                if alloc_id in self._invalid and self._invalid[alloc_id] >= modify_index:
                    continue
                if alloc_id in self._collected:
                    continue
                if runner is None or modify_index > runner.alloc.alloc_modify_index:
                    pull.append(alloc_id)
        return pull

    def _run_allocs(self, allocs: dict[str, int], pulled: dict[str, Allocation]) -> None:
        with self._allocs_lock:
            existing = dict(self._allocs)
            for alloc_id in [a for a in self._invalid if a not in allocs]:
                del self._invalid[alloc_id]
            dropped = {alloc_id for alloc_id in self._collected if alloc_id not in allocs}
            self._collected -= dropped
            collected = set(self._collected)
        if dropped:
            self._persist_collected(collected)
        for alloc_id, runner in existing.items():
            if alloc_id not in allocs:
                self._remove(alloc_id, runner)
        for alloc_id, alloc in pulled.items():
            current = existing.get(alloc_id)
            if current is not None:
                current.update(alloc)
            else:
                self._add(alloc)
        self._garbage_collect()

    def _add(self, alloc: Allocation) -> None:
        if alloc.client_terminal():
            # Finished here before (and collected since): nothing to run, and nothing to
            # download again while the servers keep it.
            self._mark_collected([alloc.id])
            return
        try:
            runner = self._new_runner(alloc)
            self._db.put_allocation(alloc)
        except (NomadError, OSError) as err:
            log.error("error adding allocation %s: %s", alloc.id, err)
            with self._allocs_lock:
                self._invalid[alloc.id] = alloc.alloc_modify_index
            self._pending.add(_failed_alloc(alloc, self._node_id, str(err)))
            return
        with self._allocs_lock:
            self._allocs[alloc.id] = runner
        runner.run()

    def _remove(self, alloc_id: str, runner: AllocRunner) -> None:
        """The servers dropped the allocation (garbage collected): destroy it here too."""
        with self._allocs_lock:
            self._allocs.pop(alloc_id, None)
        threading.Thread(target=runner.destroy, name=f"destroy-{alloc_id[:8]}",
                         daemon=True).start()

    def _garbage_collect(self) -> None:
        """Keep at most ``gc_max_allocs`` finished allocations on disk (oldest go first)."""
        with self._allocs_lock:
            runners = list(self._allocs.items())
        finished = [(alloc_id, r) for alloc_id, r in runners
                    if r.done() and r.is_client_terminal()]
        victims = finished[:max(0, len(finished) - self.config.gc_max_allocs)]
        if victims:
            self._mark_collected([alloc_id for alloc_id, _ in victims])
        for alloc_id, runner in victims:
            self._remove(alloc_id, runner)
