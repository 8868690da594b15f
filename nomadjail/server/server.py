"""The Server facade: one nomadjail server, as the HTTP layer and the agent see it.

It wires the pieces together -- state store, FSM, raft, eval broker, blocked
evals, plan queue and applier, scheduler workers, heartbeats, leader duties
and the endpoints -- and exposes the operations of Nomad's HTTP API and
agent RPC as plain methods.  Reads go straight to :attr:`Server.state`
(snapshots, blocking waits); every write is one raft message.

::

    HTTP / agent ──> Server ──> endpoints ──> Raft.apply ──> FSM ──> StateStore
                                                              │
                                  workers <── EvalBroker <────┤ (evals, capacity)
                                     │          BlockedEvals <┘
                                     └──> PlanQueue ──> PlanApplier ──> Raft.apply

Writes work on any server (raft forwards them to the leader), except the
client RPCs that reset heartbeat timers, which the leader owns: elsewhere
they raise ``Unavailable`` and the caller retries against
:meth:`Server.leader_rpc_addr`.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ..state import StateStore
from ..structs import (
    Allocation,
    DrainStrategy,
    EvalStatus,
    Evaluation,
    Job,
    Node,
    ServiceRegistration,
    Unavailable,
    now_ns,
)
from ..structs.addresses import join_host_port, split_host_port, split_raft_address
from . import messages as m
from .alloc_endpoint import AllocEndpoint
from .blocked_evals import BlockedEvals
from .config import ServerConfig
from .deployment_endpoint import DeploymentEndpoint
from .deployment_watcher import DeploymentWatcher
from .drainer import NodeDrainer
from .eval_broker import EvalBroker
from .eval_endpoint import EvalEndpoint
from .fsm import FSM
from .garbage_collector import GarbageCollector, GCThresholds
from .heartbeat import Heartbeats
from .job_endpoint import JobEndpoint
from .job_scale import ScaleEndpoint
from .keyring import Keyring, key_encryption_key
from .leader import LeaderDuties
from .node_endpoint import NodeEndpoint
from .plan_apply import PlanApplier, PlanQueue
from .raft import Raft, check_bindable
from .results import (
    EvalResult,
    JobPlanResult,
    JobRegisterResult,
    Member,
    MemberStatus,
    NodeUpdateResponse,
)
from .service_registration_endpoint import ServiceRegistrationEndpoint
from .variable_locks import VariableLockTimers
from .variables_endpoint import VariablesEndpoint
from .worker import Worker

log = logging.getLogger(__name__)

SchedulerFactory = Callable[..., Any]
AllocsFit = Callable[[Node, list[Allocation]], tuple[bool, str]]


def _default_scheduler_factory(config: ServerConfig) -> SchedulerFactory:
    from ..scheduler import new_scheduler  # imported on first use: the scheduler is pure

    return functools.partial(new_scheduler, pot_image_scoring=config.pot_image_scoring)


def _default_allocs_fit() -> AllocsFit:
    from ..scheduler import allocs_fit

    return allocs_fit


class _LeaderFeed:
    """The FSM listener: routes committed evals and capacity changes to the
    leader's broker and blocked set (no-ops while they are disabled)."""

    def __init__(self, broker: EvalBroker, blocked: BlockedEvals):
        self.broker = broker
        self.blocked = blocked

    def evals_upserted(self, evals: list[Evaluation]) -> None:
        for ev in evals:
            if ev.status == EvalStatus.PENDING:
                self.broker.enqueue(ev)
            elif ev.status == EvalStatus.BLOCKED:
                self.blocked.block(ev)
            elif ev.status == EvalStatus.COMPLETE and not ev.failed_tg_allocs:
                self.blocked.untrack(ev.namespace, ev.job_id)

    def capacity_changed(self, computed_class: str, node_id: str, index: int) -> None:
        self.blocked.unblock(computed_class, index)


def _split_rpc_addr(addr: str) -> tuple[str, int]:
    """(host, port) of an RPC address (``10.0.0.5:4647``, ``[fd00::5]:4647``); the
    host bare, port 0 when the address cannot be read."""
    try:
        return split_host_port(addr, 0)
    except ValueError:
        return addr.strip("[]"), 0


class Server:
    def __init__(self, config: ServerConfig, *,
                 scheduler_factory: SchedulerFactory | None = None,
                 allocs_fit: AllocsFit | None = None,
                 clock: Callable[[], int] = now_ns):
        """``scheduler_factory`` and ``allocs_fit`` default to
        ``nomadjail.scheduler.new_scheduler`` / ``allocs_fit`` (tests inject fakes)."""
        self.config = config
        self._clock = clock
        self._scheduler_factory = scheduler_factory
        self._allocs_fit = allocs_fit
        self._store = StateStore()
        self.broker = EvalBroker(nack_timeout=config.eval_nack_timeout,
                                 initial_nack_delay=config.eval_initial_nack_delay,
                                 subsequent_nack_delay=config.eval_subsequent_nack_delay,
                                 delivery_limit=config.eval_delivery_limit)
        self.blocked = BlockedEvals(self.broker)
        self.fsm = FSM(self._store, _LeaderFeed(self.broker, self.blocked))
        self.raft = Raft(self.fsm, bind=config.raft_bind, address=self.raft_address,
                         peers=config.raft_peers,
                         data_dir=config.data_dir, multiplier=config.raft_multiplier,
                         password=config.encrypt, on_leadership=self._on_leadership)
        self.plan_queue = PlanQueue()
        self.plan_applier = PlanApplier(self._store, self.plan_queue, self.raft.apply,
                                        self._fit, clock=clock)
        self.heartbeats = Heartbeats(min_ttl=config.min_heartbeat_ttl,
                                     grace=config.heartbeat_grace,
                                     max_per_second=config.max_heartbeats_per_second,
                                     failover_ttl=config.failover_heartbeat_ttl,
                                     on_expire=self._heartbeat_expired)
        self.jobs = JobEndpoint(self._store, self._apply, validators=config.job_validators,
                                scheduler_factory=self._scheduler, clock=clock)
        self.scaling = ScaleEndpoint(self._store, self.jobs)
        self.nodes = NodeEndpoint(self._store, self._apply, self.heartbeats,
                                  leader_rpc_addr=self.leader_rpc_addr, servers=self.peers,
                                  clock=clock)
        self.allocs = AllocEndpoint(self._store, self._apply, clock=clock)
        self.evals = EvalEndpoint(self._apply, clock=clock)
        self.services = ServiceRegistrationEndpoint(self._store, self._apply,
                                                    self.nodes.authenticate)
        self.deployments = DeploymentEndpoint(self._store, self._apply, clock=clock)
        self.keyring = Keyring(self._store, self._apply, kek=key_encryption_key(config.encrypt),
                               clock=clock)
        self.variables = VariablesEndpoint(self._store, self._apply, self.keyring,
                                           self.nodes.authenticate, clock=clock)
        self.variable_locks = VariableLockTimers(self._store, lambda: self.fsm.lock_renewals,
                                                 self._apply)
        self.leader = LeaderDuties(
            store=self._store, barrier=lambda: self._apply(m.BarrierRequest()),
            broker=self.broker, blocked=self.blocked, plan_queue=self.plan_queue,
            plan_applier=self.plan_applier, heartbeats=self.heartbeats, evals=self.evals,
            drainer=NodeDrainer(self._store, self._apply, clock=clock),
            deployments=DeploymentWatcher(self._store, self._apply, clock=clock),
            garbage=GarbageCollector(self._store.snapshot, self._apply,
                                     thresholds=GCThresholds.from_config(config),
                                     interval=config.gc_interval, clock=clock),
            failed_followup_delay=config.failed_followup_delay,
            failed_followup_jitter=config.failed_followup_jitter)
        self.workers = [
            Worker(str(i), broker=self.broker, blocked=self.blocked, store=self._store,
                   plan_queue=self.plan_queue, raft_apply=self.raft.apply,
                   scheduler_factory=self._new_scheduler, clock=clock)
            for i in range(max(0, config.num_schedulers))]
        self._stopping = threading.Event()
        self._announcer: threading.Thread | None = None
        self._started = False

    @property
    def raft_address(self) -> str:
        """This server's raft identity: the address its peers know it by."""
        return self.config.raft_advertise or self.config.raft_bind

    # -- wiring helpers ----------------------------------------------------------
    def _apply(self, request: Any) -> tuple[int, Any]:
        return self.raft.apply(m.message_type_of(request), m.encode(request))

    def _scheduler(self) -> SchedulerFactory:
        if self._scheduler_factory is None:
            self._scheduler_factory = _default_scheduler_factory(self.config)
        return self._scheduler_factory

    def _new_scheduler(self, *args: Any, **kwargs: Any) -> Any:
        return self._scheduler()(*args, **kwargs)

    def _fit(self, node: Node, allocs: list[Allocation]) -> tuple[bool, str]:
        if self._allocs_fit is None:
            self._allocs_fit = _default_allocs_fit()
        return self._allocs_fit(node, allocs)

    def _on_leadership(self, is_leader: bool) -> None:
        if self._stopping.is_set() and is_leader:
            return
        self.leader.on_leadership(is_leader)
        self.variable_locks.set_enabled(is_leader and self.leader.established)
        if is_leader and self.leader.established:
            self._ensure_root_key()

    def _ensure_root_key(self) -> None:
        """The leader makes the cluster's first root key when it takes office."""
        try:
            self.keyring.ensure_active_key()
        except Unavailable as err:  # a write will make it later
            log.warning("keyring: could not create the first root key yet: %s", err)

    def _heartbeat_expired(self, node_id: str) -> None:
        self.nodes.invalidate_heartbeat(node_id)

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        """Start raft and the workers; returns at once (leadership follows in
        the background -- see :meth:`wait_for_leader`)."""
        if self._started:
            return
        self._started = True
        self.raft.start()
        for worker in self.workers:
            worker.start()
        self._announcer = threading.Thread(target=self._announce, name="server-announce",
                                           daemon=True)
        self._announcer.start()

    def check_raft_address(self) -> None:
        """Raise :class:`~.raft.RaftError` now when the raft address cannot be bound
        (another server listens there), for a server that starts raft later."""
        check_bindable(self.config.raft_bind)

    def shutdown(self) -> None:
        """Stop every thread, close raft (writing a final snapshot to the data
        dir) and release the raft port.  Idempotent."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        for worker in self.workers:
            worker.signal_stop()
        self.raft.shutdown()  # in-flight writes fail from here on
        self.leader.shutdown()
        self.variable_locks.set_enabled(False)
        self.broker.close()  # wakes workers waiting to dequeue
        for worker in self.workers:
            worker.stop()
        self.heartbeats.close()
        if self._announcer is not None:
            self._announcer.join(timeout=5)

    def _announce(self) -> None:
        """Tell the cluster this server's name and addresses (replicated, so any
        server can list members and find the leader's RPC address)."""
        me = m.ServerMemberRequest(
            name=self.config.node_name, raft_addr=self.raft_address,
            rpc_addr=self.config.rpc_advertise, region=self.config.region,
            datacenter=self.config.datacenter, build=self.config.build,
            bootstrap_expect=self.config.bootstrap_expect)
        while not self._stopping.is_set():
            if self.fsm.servers.get(me.raft_addr) == me:
                return
            if not self.raft.wait_for_leader(0.5):
                continue
            try:
                self._apply(me)
                return
            except Unavailable as err:
                log.debug("announcing this server failed, retrying: %s", err)
                self._stopping.wait(0.5)

    # -- status ------------------------------------------------------------------
    @property
    def state(self) -> StateStore:
        return self._store

    def wait_for_leader(self, timeout: float) -> bool:
        """True once the cluster has a leader; if it is this server, once its
        leader duties are running (so writes are scheduled at once)."""
        deadline = time.monotonic() + timeout
        if not self.raft.wait_for_leader(timeout):
            return False
        while self.raft.is_leader() and not self.leader.established:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.leader.wait_established(min(remaining, 0.05))
        return True

    def is_leader(self) -> bool:
        return self.raft.is_leader() and self.leader.established

    def _rpc_addr_of(self, raft_addr: str) -> str:
        if raft_addr == self.raft_address:
            return self.config.rpc_advertise
        member = self.fsm.servers.get(raft_addr)
        if member is not None and member.rpc_addr:
            return member.rpc_addr
        # Not announced yet: assume it uses the same RPC port we do.
        host, _ = split_raft_address(raft_addr)
        _, port = _split_rpc_addr(self.config.rpc_advertise)
        return join_host_port(host, port)

    def known_leader(self) -> bool:
        """A leader exists and, if it is this server, it has finished taking over (its
        state holds everything committed before): reads may be answered."""
        if not self.raft.leader():
            return False
        return self.is_leader() if self.raft.is_leader() else True

    def leader_rpc_addr(self) -> str:
        """The leader's RPC address; "" when there is no leader."""
        leader = self.raft.leader()
        return self._rpc_addr_of(leader) if leader else ""

    def peers(self) -> list[str]:
        """RPC addresses of all servers."""
        return sorted(self._rpc_addr_of(addr) for addr in self.raft.peers())

    def members(self) -> list[Member]:
        members = []
        announced = self.fsm.servers
        for raft_addr in self.raft.peers():
            info = announced.get(raft_addr)
            host, port = split_raft_address(raft_addr)
            rpc_host, rpc_port = _split_rpc_addr(self._rpc_addr_of(raft_addr))
            name = info.name if info else raft_addr
            region = info.region if info else self.config.region
            tags = {
                "role": "nomad", "region": region,
                "dc": info.datacenter if info else self.config.datacenter,
                "build": info.build if info else self.config.build,
                "port": str(rpc_port), "rpc_addr": rpc_host,
                "expect": str(info.bootstrap_expect if info else self.config.bootstrap_expect),
                "vsn": "1", "mvn": "1", "raft_vsn": "3", "id": raft_addr,
            }
            members.append(Member(name=f"{name}.{region}", addr=host, port=port,
                                  status=(MemberStatus.ALIVE if self.raft.connected(raft_addr)
                                          else MemberStatus.FAILED),
                                  tags=tags))
        return sorted(members, key=lambda member: member.name)

    # -- public API operations ---------------------------------------------------
    def register_job(self, job: Job, *, enforce_index: int | None = None,
                     preserve_counts: bool = False) -> JobRegisterResult:
        return self.jobs.register(job, enforce_index=enforce_index,
                                  preserve_counts=preserve_counts)

    def deregister_job(self, namespace: str, job_id: str, *, purge: bool = False) -> EvalResult:
        return self.jobs.deregister(namespace, job_id, purge=purge)

    def plan_job(self, job: Job, *, diff: bool = False) -> JobPlanResult:
        return self.jobs.plan(job, diff=diff)

    def evaluate_job(self, namespace: str, job_id: str) -> EvalResult:
        return self.jobs.evaluate(namespace, job_id)

    def stop_alloc(self, alloc_id: str) -> EvalResult:
        return self.allocs.stop(alloc_id)

    def drain_node(self, node_id: str, strategy: DrainStrategy | None, *,
                   mark_eligible: bool = False, meta: dict[str, str] | None = None) -> int:
        return self.nodes.drain(node_id, strategy, mark_eligible=mark_eligible, meta=meta)

    def set_node_eligibility(self, node_id: str, eligible: bool) -> int:
        return self.nodes.set_eligibility(node_id, eligible)

    # -- client RPCs -------------------------------------------------------------
    def node_register(self, node: Node) -> NodeUpdateResponse:
        return self.nodes.register(node)

    def node_update_status(self, node_id: str, secret_id: str,
                           status: str) -> NodeUpdateResponse:
        return self.nodes.update_status(node_id, secret_id, status)

    def node_update_allocs(self, node_id: str, secret_id: str, allocs: list[Allocation]) -> int:
        return self.nodes.update_allocs(node_id, secret_id, allocs)

    def authenticate_node(self, node_id: str, secret_id: str) -> Node:
        """The registered node whose secret ``secret_id`` is (client reads such as a
        template's nomadService); NotFound / PermissionDenied otherwise."""
        return self.nodes.authenticate(node_id, secret_id)

    def client_allocs(self, node_id: str, secret_id: str) -> dict[str, int]:
        return self.nodes.client_allocs(node_id, secret_id)

    def get_allocs(self, node_id: str, secret_id: str, alloc_ids: list[str]) -> list[Allocation]:
        return self.nodes.get_allocs(node_id, secret_id, alloc_ids)

    def upsert_service_registrations(self, secret_id: str,
                                     services: list[ServiceRegistration]) -> int:
        return self.services.upsert(secret_id, services)

    def delete_service_registration_for_node(self, node_id: str, secret_id: str,
                                             namespace: str, reg_id: str) -> int:
        return self.services.delete_for_node(node_id, secret_id, namespace, reg_id)

    # -- service registrations (public API) --------------------------------------
    def delete_service_registration(self, namespace: str, service_name: str,
                                    reg_id: str) -> int:
        return self.services.delete(namespace, service_name, reg_id)
