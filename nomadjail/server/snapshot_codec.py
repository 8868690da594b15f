"""The FSM snapshot: every table of the state store as one JSON document.

Raft compacts its log by replacing the applied prefix with a snapshot, and
a restarted or lagging server rebuilds its state from it, so the snapshot
must hold *everything* the log did: jobs with all tracked versions, job
summaries, nodes, allocations, evaluations, deployments, service
registrations, variables (sealed) and root keys, every table's index and
the FSM's own counter.  Secondary indexes (allocations by job, node and
eval; evals and deployments by job; service registrations by name,
allocation and node) are derived on restore.

Jobs are stored once in a pool and referenced by position: an allocation
embeds its job, and a thousand allocations of one job would otherwise
repeat it a thousand times.  Sharing is by object identity, which is how
the FSM already shares them, and restore shares them again.
"""

from __future__ import annotations

from typing import Any

import immutables

from ..state import ServiceTable, Table, Tables
from ..state.variables import VariableTable
from ..structs import (
    Allocation,
    Deployment,
    Evaluation,
    Job,
    JobSummary,
    Node,
    ServiceRegistration,
    from_api,
    to_api,
)
from ..structs.keyring import RootKey
from ..structs.variables import VariableEncrypted

SNAPSHOT_VERSION = 1


class SnapshotError(ValueError):
    """A snapshot document is malformed or from an unknown version."""


def encode_tables(tables: Tables) -> dict[str, Any]:
    """JSON-ready data for ``tables`` (see the module docstring for the layout)."""
    pool: list[Any] = []
    pool_index: dict[int, int] = {}

    def ref(job: Job | None) -> int:
        if job is None:
            return -1
        position = pool_index.get(id(job))
        if position is None:
            position = len(pool)
            pool_index[id(job)] = position
            pool.append(to_api(job))
        return position

    jobs = [ref(job) for job in tables.jobs.values()]
    versions = [[ref(job) for job in versions] for versions in tables.job_versions.values()]
    allocs = []
    for alloc in tables.allocs.values():
        job_ref = ref(alloc.job)
        data = to_api(alloc)
        data["Job"] = None
        allocs.append([data, job_ref])
    return {
        "Version": SNAPSHOT_VERSION,
        "LatestIndex": tables.latest_index,
        "TableIndex": {str(table): index for table, index in tables.table_index.items()},
        "JobPool": pool,
        "Jobs": jobs,
        "JobVersions": versions,
        "JobSummaries": [to_api(s) for s in tables.job_summaries.values()],
        "Nodes": [to_api(n) for n in tables.nodes.values()],
        "Allocs": allocs,
        "Evals": [to_api(e) for e in tables.evals.values()],
        "Deployments": [to_api(d) for d in tables.deployments.values()],
        "ServiceRegistrations": [to_api(r) for r in tables.services],
        # Sealed only: the snapshot never holds a variable in the clear.
        "Variables": [to_api(v) for v in tables.variables],
        "RootKeys": [to_api(k) for k in tables.root_keys.values()],
    }


def _index_map(groups: dict[Any, dict[str, bool]]) -> immutables.Map:
    return immutables.Map({key: immutables.Map(members) for key, members in groups.items()})


def decode_tables(data: dict[str, Any]) -> Tables:
    """The :class:`Tables` a snapshot document describes, secondary indexes rebuilt."""
    if not isinstance(data, dict) or data.get("Version") != SNAPSHOT_VERSION:
        version = data.get("Version") if isinstance(data, dict) else None
        raise SnapshotError(f"unsupported state snapshot version {version!r} "
                            f"(this server reads version {SNAPSHOT_VERSION})")
    try:
        pool = [from_api(Job, raw, f"Snapshot.JobPool[{i}]")
                for i, raw in enumerate(data["JobPool"])]

        def job_at(position: int) -> Job | None:
            return pool[position] if position >= 0 else None

        jobs: dict[tuple[str, str], Job] = {}
        for position in data["Jobs"]:
            job = pool[position]
            jobs[(job.namespace or "", job.id)] = job
        versions: dict[tuple[str, str], tuple[Job, ...]] = {}
        for positions in data["JobVersions"]:
            chain = tuple(pool[p] for p in positions)
            if chain:
                versions[(chain[0].namespace or "", chain[0].id)] = chain
        summaries = {}
        for raw in data["JobSummaries"]:
            summary = from_api(JobSummary, raw, "Snapshot.JobSummaries")
            summaries[(summary.namespace, summary.job_id)] = summary
        nodes = {}
        for raw in data["Nodes"]:
            node = from_api(Node, raw, "Snapshot.Nodes")
            nodes[node.id] = node
        allocs: dict[str, Allocation] = {}
        by_job: dict[Any, dict[str, bool]] = {}
        by_node: dict[Any, dict[str, bool]] = {}
        by_eval: dict[Any, dict[str, bool]] = {}
        for raw, job_ref in data["Allocs"]:
            alloc = from_api(Allocation, raw, "Snapshot.Allocs")
            alloc.job = job_at(job_ref)
            allocs[alloc.id] = alloc
            by_job.setdefault((alloc.namespace, alloc.job_id), {})[alloc.id] = True
            by_node.setdefault(alloc.node_id, {})[alloc.id] = True
            by_eval.setdefault(alloc.eval_id, {})[alloc.id] = True
        evals: dict[str, Evaluation] = {}
        evals_by_job: dict[Any, dict[str, bool]] = {}
        for raw in data["Evals"]:
            ev = from_api(Evaluation, raw, "Snapshot.Evals")
            evals[ev.id] = ev
            evals_by_job.setdefault((ev.namespace, ev.job_id), {})[ev.id] = True
        deployments: dict[str, Deployment] = {}
        deployments_by_job: dict[Any, dict[str, bool]] = {}
        for raw in data["Deployments"]:
            deployment = from_api(Deployment, raw, "Snapshot.Deployments")
            deployments[deployment.id] = deployment
            deployments_by_job.setdefault((deployment.namespace, deployment.job_id),
                                          {})[deployment.id] = True
        # Absent from snapshots written before the table existed: none were registered.
        services = ServiceTable.of(
            from_api(ServiceRegistration, raw, "Snapshot.ServiceRegistrations")
            for raw in data.get("ServiceRegistrations") or [])
        # Absent from snapshots written before variables existed.
        variables = VariableTable.of(
            from_api(VariableEncrypted, raw, "Snapshot.Variables")
            for raw in data.get("Variables") or [])
        root_keys = {}
        for raw in data.get("RootKeys") or []:
            key = from_api(RootKey, raw, "Snapshot.RootKeys")
            root_keys[key.meta.key_id] = key
        table_index = immutables.Map({Table(name): int(index)
                                      for name, index in data["TableIndex"].items()})
        latest_index = int(data["LatestIndex"])
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise SnapshotError(f"malformed state snapshot: {err}") from err
    return Tables(
        jobs=immutables.Map(jobs),
        job_versions=immutables.Map(versions),
        job_summaries=immutables.Map(summaries),
        nodes=immutables.Map(nodes),
        allocs=immutables.Map(allocs),
        evals=immutables.Map(evals),
        deployments=immutables.Map(deployments),
        allocs_by_job=_index_map(by_job),
        allocs_by_node=_index_map(by_node),
        allocs_by_eval=_index_map(by_eval),
        evals_by_job=_index_map(evals_by_job),
        deployments_by_job=_index_map(deployments_by_job),
        services=services,
        variables=variables,
        root_keys=immutables.Map(root_keys),
        table_index=table_index,
        latest_index=latest_index,
    )
