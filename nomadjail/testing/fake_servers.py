"""An in-memory fake of the servers, as a client agent sees them.

:class:`FakeServers` plays the servers' side of
``nomadjail.client.rpc.ServerRPC`` only as far as a client can observe it
(registration, heartbeats, a blocking allocation query, status updates) and
records what the client said; end-to-end tests with a real server live
elsewhere.  The functions below build what client tests place on it.
"""

from __future__ import annotations

import copy
import threading

from ..api.rpc import NodeUpdateResponse
from ..api.rpc_client import NoServersError
from ..client.client import Client
from ..structs import (
    DEFAULT_NAMESPACE,
    SECOND,
    Allocation,
    AllocDesiredStatus,
    Job,
    Node,
    NodeStatus,
    NotFound,
    RestartPolicy,
    ServiceRegistration,
    TaskState,
    default_restart_policy,
)
from .mock import mock_alloc, mock_job, mock_node
from .waiting import wait_for


class FakeServers:
    """Servers as a client sees them, in memory, recording what the client said."""

    def __init__(self, heartbeat_ttl: float = 10.0) -> None:
        self.cond = threading.Condition()
        self.index = 1
        self.heartbeat_ttl = heartbeat_ttl
        self.nodes: dict[str, Node] = {}
        self.registrations = 0
        self.heartbeats: list[tuple[str, str]] = []
        self.allocs: dict[str, Allocation] = {}
        self.updates: list[Allocation] = []
        self.unavailable = False
        self.fail_updates = False  # only Node.UpdateAlloc fails
        self.closes = 0
        self.pulled: list[str] = []  # every alloc ID Alloc.GetAllocs was asked for, in order
        self.answered_queries = 0  # Node.GetClientAllocs answers given
        # Nomad-provider service registrations by (namespace, ID), and every call made.
        self.services: dict[tuple[str, str], ServiceRegistration] = {}
        self.service_upserts: list[list[str]] = []
        self.service_deletes: list[str] = []

    def close(self) -> None:
        """A client shut down: end its blocking query now (others just ask again)."""
        with self.cond:
            self.closes += 1
            self.cond.notify_all()

    # -- ServerRPC ---------------------------------------------------------------------
    def _check(self) -> None:
        if self.unavailable:
            raise NoServersError("fake: no server answered")

    def register(self, node: Node) -> NodeUpdateResponse:
        self._check()
        with self.cond:
            self.nodes[node.id] = copy.deepcopy(node)
            self.registrations += 1
            self.index += 1
            self.cond.notify_all()
        return NodeUpdateResponse(heartbeat_ttl=int(self.heartbeat_ttl * SECOND),
                                  index=self.index, servers=["127.0.0.1:4647"])

    def update_status(self, node_id: str, status: str) -> NodeUpdateResponse:
        self._check()
        with self.cond:
            if node_id not in self.nodes:
                raise NotFound("node not found")
            self.nodes[node_id].status = NodeStatus(status)
            self.heartbeats.append((node_id, status))
        return NodeUpdateResponse(heartbeat_ttl=int(self.heartbeat_ttl * SECOND),
                                  index=self.index)

    def get_client_allocs(self, node_id: str, index: int, wait: float
                          ) -> tuple[dict[str, int], int]:
        self._check()
        with self.cond:
            closes = self.closes
            self.cond.wait_for(lambda: self.index > index or self.unavailable
                               or self.closes != closes, timeout=wait)
            self._check()
            self.answered_queries += 1
            return ({a.id: a.alloc_modify_index for a in self.allocs.values()
                     if a.node_id == node_id}, self.index)

    def get_allocs(self, alloc_ids: list[str]) -> list[Allocation]:
        self._check()
        with self.cond:
            self.pulled.extend(alloc_ids)
            return [copy.deepcopy(self.allocs[a]) for a in alloc_ids if a in self.allocs]

    def update_allocs(self, allocs: list[Allocation]) -> None:
        self._check()
        if self.fail_updates:
            raise NoServersError("fake: update refused")
        with self.cond:
            for update in allocs:
                self.updates.append(copy.deepcopy(update))
                alloc = self.allocs.get(update.id)
                if alloc is None:
                    continue
                alloc.client_status = update.client_status
                alloc.client_description = update.client_description
                alloc.task_states = copy.deepcopy(update.task_states)
                alloc.deployment_status = copy.deepcopy(update.deployment_status)
                self.index += 1
                alloc.modify_index = self.index
            self.cond.notify_all()

    def upsert_service_registrations(self, services: list[ServiceRegistration]) -> int:
        self._check()
        with self.cond:
            self.service_upserts.append([reg.id for reg in services])
            for reg in services:
                self.services[(reg.namespace or DEFAULT_NAMESPACE, reg.id)] = copy.deepcopy(reg)
            self.index += 1
            return self.index

    def delete_service_registration(self, reg_id: str,
                                    namespace: str = DEFAULT_NAMESPACE) -> int:
        self._check()
        with self.cond:
            self.service_deletes.append(reg_id)
            if self.services.pop((namespace, reg_id), None) is None:
                raise NotFound(f"service registration {reg_id!r} not found")
            self.index += 1
            return self.index

    # -- test controls -----------------------------------------------------------------
    def place(self, alloc: Allocation) -> Allocation:
        with self.cond:
            self.index += 1
            alloc.create_index = alloc.modify_index = alloc.alloc_modify_index = self.index
            self.allocs[alloc.id] = copy.deepcopy(alloc)
            self.cond.notify_all()
        return alloc

    def stop(self, alloc_id: str) -> None:
        with self.cond:
            alloc = self.allocs[alloc_id]
            self.index += 1
            alloc.desired_status = AllocDesiredStatus.STOP
            alloc.modify_index = alloc.alloc_modify_index = self.index
            self.cond.notify_all()

    def touch(self) -> None:
        """Move the index without changing any allocation: clients' blocking queries answer."""
        with self.cond:
            self.index += 1
            self.cond.notify_all()

    def drop(self, alloc_id: str) -> None:
        """Garbage collect the allocation on the servers."""
        with self.cond:
            self.allocs.pop(alloc_id, None)
            self.index += 1
            self.cond.notify_all()

    def forget_nodes(self) -> None:
        with self.cond:
            self.nodes.clear()

    def alloc(self, alloc_id: str) -> Allocation:
        with self.cond:
            return copy.deepcopy(self.allocs[alloc_id])

    def task_state(self, alloc_id: str, task: str) -> TaskState:
        with self.cond:
            return copy.deepcopy(self.allocs[alloc_id].task_states.get(task) or TaskState())

    def event_types(self, alloc_id: str, task: str) -> list[str]:
        return [e.type for e in self.task_state(alloc_id, task).events]

    def client_status(self, alloc_id: str) -> str:
        with self.cond:
            return self.allocs[alloc_id].client_status


def one_task_job(config: dict, *, job_type: str = "service", restart: dict | None = None,
                 kill_timeout: float | None = None, driver: str = "raw_exec",
                 task_name: str = "web") -> Job:
    """A one-task job with the given driver config (already canonicalized)."""
    job = mock_job(count=1, job_type=job_type, driver=driver, config=config, cpu=100,
                   memory_mb=64)
    group = job.task_groups[0]
    group.update = None
    task = group.tasks[0]
    task.name = task_name
    if restart is not None:
        task.restart_policy = RestartPolicy(**restart).merged_onto(
            default_restart_policy(job_type))
    if kill_timeout is not None:
        task.kill_timeout = int(kill_timeout * SECOND)
    return job


def alloc_for(job: Job, client: Client) -> Allocation:
    """An allocation of ``job``'s first group placed on ``client``'s node."""
    node = mock_node()
    node.id = client.node_id
    return mock_alloc(job, node)


def wait_client_status(servers: FakeServers, alloc_id: str, status: str,
                       timeout: float = 15.0) -> None:
    """Wait until the client reported ``status`` for the allocation."""
    wait_for(lambda: servers.client_status(alloc_id) == status, timeout=timeout,
             message=f"alloc {alloc_id[:8]} client status {status!r} "
                     f"(now {servers.client_status(alloc_id)!r})")
