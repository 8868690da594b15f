"""One pot task: what the driver tracks of it, and what the client persists of it.

The client saves a :class:`~nomadjail.drivers.base.StartRecord` before
``start_task`` and the :class:`~nomadjail.drivers.base.TaskHandle` after it;
both are JSON and their keys never change, so a restarted client (perhaps a
newer version) still finds the task and its pot::

    start record  {"pot_name", "cwd", "env_path", "supervision": <SupervisionPlan>,
                   "network": {"ip", "port_map", "auto_advertise"} | null, "addresses"}
    handle        {"pot_name", "cwd", "env_path", "supervised": <Supervision>}
                  + TaskHandle.network (an alias pot's address and ports)

(``network`` and ``addresses`` are absent from records written before alias
pots were supported: those pots use the node's network.)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from ..drivers.base import DriverNetwork, ExitResult, StartRecord, TaskHandle, TaskNotFound
from ..drivers.supervision import Supervision, SupervisionPlan
from .pot_network import network_from_state, network_to_state
from .stats import StatsSampler

NAME = "pot"


@dataclass(eq=False)
class PotTask:
    """What the driver knows about one task it started or re-attached to."""

    task_id: str
    pot_name: str
    cwd: str  # the task directory: pot commands run there
    env_path: str  # the task's environment, for exec (mode 0600)
    supervision: Supervision  # the supervised `pot start` (and pot's diverted lines)
    network: DriverNetwork | None = None  # an alias pot's own address; None: the node's
    exited: threading.Event = field(default_factory=threading.Event)
    result: ExitResult | None = None
    stop_forced: bool = False  # the driver destroyed the pot to stop the task
    sampler: StatsSampler | None = None

    def handle(self) -> TaskHandle:
        supervision = self.supervision
        return TaskHandle(driver=NAME, task_id=self.task_id, started_at=supervision.started_at,
                          pid=supervision.pid, state={
                              "pot_name": self.pot_name, "cwd": self.cwd,
                              "env_path": self.env_path, "supervised": supervision.to_state()},
                          network=self.network)

    @classmethod
    def from_handle(cls, handle: TaskHandle) -> PotTask:
        """TaskNotFound naming what is missing when the handle's state is not readable."""
        state = handle.state
        try:
            return cls(task_id=handle.task_id, pot_name=str(state["pot_name"]),
                       cwd=str(state.get("cwd", "")), env_path=str(state.get("env_path", "")),
                       supervision=Supervision.from_state(state["supervised"]),
                       network=handle.network)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise TaskNotFound(f"pot handle for {handle.task_id!r} is malformed: missing or "
                               f"bad {err}") from None


@dataclass(frozen=True, slots=True)
class PotStart:
    """A start attempt as its start record says: the pot it builds and where the
    supervised ``pot start`` leaves its traces."""

    task_id: str
    pot_name: str
    cwd: str
    env_path: str
    plan: SupervisionPlan
    network: DriverNetwork | None = None  # without its address: pot gives it at prepare
    addresses: tuple[str, ...] = ()  # an alias pot's `ip` (what pot was asked for)

    def record(self) -> StartRecord:
        return StartRecord(driver=NAME, task_id=self.task_id, state={
            "pot_name": self.pot_name, "cwd": self.cwd, "env_path": self.env_path,
            "supervision": self.plan.to_state(), "network": network_to_state(self.network),
            "addresses": list(self.addresses)})

    @classmethod
    def from_record(cls, record: StartRecord, pot_name: str) -> PotStart:
        """ValueError naming what is missing or bad (``pot_name`` is read by the caller:
        even an unreadable record may name its pot)."""
        state: Any = record.state
        try:
            plan = SupervisionPlan.from_state(record.task_id, state["supervision"])
            addresses = state.get("addresses") or []
            if not isinstance(addresses, list):
                raise ValueError(f"addresses {addresses!r}")
            return cls(task_id=record.task_id, pot_name=pot_name, plan=plan,
                       cwd=str(state.get("cwd", "")), env_path=str(state.get("env_path", "")),
                       network=network_from_state(state.get("network")),
                       addresses=tuple(str(a) for a in addresses))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ValueError(f"pot start record for {record.task_id!r} is malformed: missing "
                             f"or bad {err}") from None
