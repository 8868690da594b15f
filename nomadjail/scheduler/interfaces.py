"""The two narrow seams between the pure scheduler and the rest of the server.

A scheduler reads the world through :class:`State` (a read-only snapshot; the
state store's :class:`~nomadjail.state.StateSnapshot` satisfies it) and acts
only through :class:`Planner` (the server's worker in production, a recording
harness in tests).  It never touches a clock, a thread or a socket: the
current time arrives as ``now`` (ns since the epoch) and randomness as a
seeded ``random.Random``, so the same inputs always give the same plan.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from ..structs import Allocation, Deployment, Evaluation, Job, Node, Plan, PlanResult


class State(Protocol):
    """Read-only view of the cluster at one index."""

    @property
    def latest_index(self) -> int: ...

    def job_by_id(self, namespace: str, job_id: str) -> Job | None: ...

    def job_by_version(self, namespace: str, job_id: str, version: int) -> Job | None: ...

    def node_by_id(self, node_id: str) -> Node | None: ...

    def iter_nodes(self) -> Iterator[Node]: ...

    def alloc_by_id(self, alloc_id: str) -> Allocation | None: ...

    def allocs_by_job(self, namespace: str, job_id: str) -> list[Allocation]: ...

    def allocs_by_node(self, node_id: str) -> list[Allocation]: ...

    def latest_deployment_by_job(self, namespace: str, job_id: str) -> Deployment | None: ...

    def deployments_by_job(self, namespace: str, job_id: str) -> list[Deployment]:
        """The job's deployments, newest first."""
        ...


class Planner(Protocol):
    """How a scheduler submits its decisions."""

    def submit_plan(self, plan: Plan) -> tuple[PlanResult, State | None]:
        """Commit what still fits.  The second value is a newer state to refresh
        to when only part of the plan was committed (else None)."""
        ...

    def update_eval(self, evaluation: Evaluation) -> None:
        """Record the eval's outcome (status, queued allocations, blocked/next eval)."""
        ...

    def create_eval(self, evaluation: Evaluation) -> None:
        """Create a follow-up eval: blocked (no capacity) or delayed (reschedule later)."""
        ...

    def reblock_eval(self, evaluation: Evaluation) -> None:
        """Put a blocked eval back in the blocked set after it failed again."""
        ...


class Scheduler(Protocol):
    def process(self, evaluation: Evaluation) -> None:
        """Reconcile the eval's job against ``State`` and submit plans until done.
        Raises only for bugs or a state that cannot be planned against."""
        ...
