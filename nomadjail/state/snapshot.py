"""Read access to one consistent version of the cluster state.

A :class:`StateSnapshot` is a handful of references to persistent maps
(``immutables.Map``): taking one is O(1) and it never changes afterwards, so a
scheduler can plan against it, or an HTTP handler page through it, while the
FSM keeps writing.  The store's newest state is read through the same class.

Objects handed out are the stored objects themselves: treat them as
read-only (copy before changing, see :mod:`nomadjail.structs`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

import immutables

from ..structs import Allocation, Deployment, Evaluation, Job, JobSummary, Node
from ..structs.keyring import RootKey
from .services import ServiceTable
from .variables import VariableTable

JobKey = tuple[str, str]  # (namespace, job ID)
_EMPTY: immutables.Map = immutables.Map()


class Table(StrEnum):
    """The tables; each remembers the last raft index that changed it."""

    JOBS = "jobs"
    JOB_VERSIONS = "job_versions"
    JOB_SUMMARIES = "job_summary"
    NODES = "nodes"
    ALLOCS = "allocs"
    EVALS = "evals"
    DEPLOYMENTS = "deployment"
    SERVICE_REGISTRATIONS = "service_registrations"
    VARIABLES = "variables"
    ROOT_KEYS = "root_keys"


@dataclass(frozen=True, slots=True)
class Tables:
    """Every table and secondary index at one point in time."""

    jobs: immutables.Map = _EMPTY  # JobKey -> Job
    job_versions: immutables.Map = _EMPTY  # JobKey -> tuple[Job, ...] newest first
    job_summaries: immutables.Map = _EMPTY  # JobKey -> JobSummary
    nodes: immutables.Map = _EMPTY  # node ID -> Node
    allocs: immutables.Map = _EMPTY  # alloc ID -> Allocation
    evals: immutables.Map = _EMPTY  # eval ID -> Evaluation
    deployments: immutables.Map = _EMPTY  # deployment ID -> Deployment
    allocs_by_job: immutables.Map = _EMPTY  # JobKey -> Map[alloc ID, True]
    allocs_by_node: immutables.Map = _EMPTY  # node ID -> Map[alloc ID, True]
    allocs_by_eval: immutables.Map = _EMPTY  # eval ID -> Map[alloc ID, True]
    evals_by_job: immutables.Map = _EMPTY  # JobKey -> Map[eval ID, True]
    deployments_by_job: immutables.Map = _EMPTY  # JobKey -> Map[deployment ID, True]
    services: ServiceTable = ServiceTable()  # service registrations and their indexes
    variables: VariableTable = VariableTable()  # Nomad Variables, sealed
    root_keys: immutables.Map = _EMPTY  # key ID -> RootKey
    table_index: immutables.Map = _EMPTY  # Table -> last index that changed it
    latest_index: int = 0


class StateSnapshot:
    """Queries over one :class:`Tables` value.  All lookups are by exact ID or
    ID prefix; lists come back sorted the way Nomad's API sorts them."""

    __slots__ = ("_t",)

    def __init__(self, tables: Tables):
        self._t = tables

    # -- indexes -----------------------------------------------------------------
    @property
    def latest_index(self) -> int:
        return self._t.latest_index

    def index(self, *tables: Table) -> int:
        """The highest index that changed any of ``tables`` (for X-Nomad-Index)."""
        return max((self._t.table_index.get(t, 0) for t in tables), default=0)

    @property
    def service_registrations(self) -> ServiceTable:
        """The service_registrations table (its queries: :class:`~.services.ServiceTable`)."""
        return self._t.services

    @property
    def variables(self) -> VariableTable:
        """The variables table (sealed; :class:`~.variables.VariableTable`)."""
        return self._t.variables

    def root_keys(self) -> list[RootKey]:
        """Every root key, oldest first."""
        return sorted(self._t.root_keys.values(),
                      key=lambda k: (k.meta.create_index, k.meta.key_id))

    def root_key(self, key_id: str) -> RootKey | None:
        return self._t.root_keys.get(key_id)

    # -- jobs --------------------------------------------------------------------
    def job_by_id(self, namespace: str, job_id: str) -> Job | None:
        return self._t.jobs.get((namespace, job_id))

    def jobs(self, namespace: str | None = None, prefix: str = "") -> list[Job]:
        """Jobs sorted by ID; ``namespace=None`` means every namespace."""
        found = [job for (ns, job_id), job in self._t.jobs.items()
                 if (namespace is None or ns == namespace) and job_id.startswith(prefix)]
        return sorted(found, key=lambda j: (j.id, j.namespace or ""))

    def job_versions(self, namespace: str, job_id: str) -> tuple[Job, ...]:
        """Every tracked version, newest first."""
        return self._t.job_versions.get((namespace, job_id), ())

    def job_by_version(self, namespace: str, job_id: str, version: int) -> Job | None:
        return next((j for j in self.job_versions(namespace, job_id) if j.version == version),
                    None)

    def job_summary(self, namespace: str, job_id: str) -> JobSummary | None:
        return self._t.job_summaries.get((namespace, job_id))

    # -- nodes -------------------------------------------------------------------
    def node_by_id(self, node_id: str) -> Node | None:
        return self._t.nodes.get(node_id)

    def nodes(self, prefix: str = "") -> list[Node]:
        return sorted((n for n in self._t.nodes.values() if n.id.startswith(prefix)),
                      key=lambda n: n.id)

    def node_count(self) -> int:
        return len(self._t.nodes)

    def iter_nodes(self) -> Iterator[Node]:
        """Every node, unsorted (cheapest way for the scheduler to see them all)."""
        return iter(self._t.nodes.values())

    # -- allocations -------------------------------------------------------------
    def alloc_by_id(self, alloc_id: str) -> Allocation | None:
        return self._t.allocs.get(alloc_id)

    def allocs(self, namespace: str | None = None, prefix: str = "") -> list[Allocation]:
        found = (a for a in self._t.allocs.values()
                 if a.id.startswith(prefix) and (namespace is None or a.namespace == namespace))
        return sorted(found, key=lambda a: (-a.create_index, a.id))

    def _allocs_in(self, ids: immutables.Map | None) -> list[Allocation]:
        if not ids:
            return []
        allocs = self._t.allocs
        return [allocs[i] for i in ids]

    def allocs_by_job(self, namespace: str, job_id: str) -> list[Allocation]:
        return self._allocs_in(self._t.allocs_by_job.get((namespace, job_id)))

    def allocs_by_node(self, node_id: str) -> list[Allocation]:
        return self._allocs_in(self._t.allocs_by_node.get(node_id))

    def allocs_by_eval(self, eval_id: str) -> list[Allocation]:
        return self._allocs_in(self._t.allocs_by_eval.get(eval_id))

    # -- evaluations -------------------------------------------------------------
    def eval_by_id(self, eval_id: str) -> Evaluation | None:
        return self._t.evals.get(eval_id)

    def evals(self, namespace: str | None = None, prefix: str = "") -> list[Evaluation]:
        found = (e for e in self._t.evals.values()
                 if e.id.startswith(prefix) and (namespace is None or e.namespace == namespace))
        return sorted(found, key=lambda e: (-e.create_index, e.id))

    def evals_by_job(self, namespace: str, job_id: str) -> list[Evaluation]:
        ids = self._t.evals_by_job.get((namespace, job_id)) or ()
        return [self._t.evals[i] for i in ids]

    # -- deployments -------------------------------------------------------------
    def deployment_by_id(self, deployment_id: str) -> Deployment | None:
        return self._t.deployments.get(deployment_id)

    def deployments(self, prefix: str = "") -> list[Deployment]:
        found = (d for d in self._t.deployments.values() if d.id.startswith(prefix))
        return sorted(found, key=lambda d: (-d.create_index, d.id))

    def iter_deployments(self) -> Iterator[Deployment]:
        """Every deployment, unsorted (for the leader's scans)."""
        return iter(self._t.deployments.values())

    def deployments_by_job(self, namespace: str, job_id: str) -> list[Deployment]:
        ids = self._t.deployments_by_job.get((namespace, job_id)) or ()
        found = [self._t.deployments[i] for i in ids]
        return sorted(found, key=lambda d: -d.create_index)

    def latest_deployment_by_job(self, namespace: str, job_id: str) -> Deployment | None:
        found = self.deployments_by_job(namespace, job_id)
        return found[0] if found else None
