"""Can a task group run on a node at all (resources aside)?

Checked in Nomad's order: the job's constraints, then the group's drivers,
constraints (group and task level), devices and network mode.  The answer
depends only on what the node *is*, so it is cached for the eval: per
computed node class when the node has one and no constraint names a single
node (``${node.unique.id}``, ``${attr.unique.*}``...), per node otherwise.
Which classes turned out eligible is reported on blocked evals, so only a
change to a useful node class needs to unblock them.

``distinct_property`` depends on where the job's allocations already are, so
:class:`DistinctProperty` counts them instead of caching a verdict.
"""

from __future__ import annotations

from ..structs import Allocation, Constraint, Job, Node
from ..structs.gobool import GO_TRUE
from .asks import GroupAsk
from .constraints import (
    DISTINCT_HOSTS,
    DISTINCT_PROPERTY,
    ConstraintChecker,
    escapes_node_class,
    resolve_target,
)
from .context import EvalContext

FILTER_MISSING_DRIVERS = "missing drivers"
FILTER_MISSING_DEVICES = "missing devices"
FILTER_MISSING_NETWORK = "missing network"
FILTER_MISSING_HOST_VOLUMES = "missing compatible host volumes"

def has_drivers(node: Node, drivers: tuple[str, ...]) -> bool:
    """Every driver is detected and healthy (or, for nodes that only report
    attributes, ``driver.<name>`` is true)."""
    for driver in drivers:
        info = node.drivers.get(driver)
        if info is not None:
            if info.detected and info.healthy:
                continue
            return False
        if node.attributes.get(f"driver.{driver}") not in GO_TRUE:
            return False
    return True


def has_host_volumes(node: Node, requests: tuple[tuple[str, bool], ...]) -> bool:
    """Every requested host volume exists on the node, and none asked read-write is
    read-only there (Nomad's HostVolumeChecker)."""
    for source, read_only in requests:
        volume = node.host_volumes.get(source)
        if volume is None or (volume.read_only and not read_only):
            return False
    return True


def network_problem(ask: GroupAsk, node: Node) -> str:
    """Why the node cannot give the group network it asks for ("" if it can)."""
    if ask.network is None or ask.network_mode == "none":
        return ""
    if ask.host_network_problem:
        return ask.host_network_problem
    mode = ask.network_mode
    for network in node.node_resources.networks:
        if (network.mode or "host") == mode:
            return ""
    return FILTER_MISSING_NETWORK


class Feasibility:
    """Cached feasibility verdicts for one job: "" for feasible, else the reason
    (a constraint as text, "missing drivers", ...), as Nomad's metrics word it."""

    __slots__ = ("checker", "job_constraints", "job_escapes_class", "escaped",
                 "_job_verdicts", "_group_verdicts", "_job_classes", "_group_classes")

    def __init__(self, job: Job, checker: ConstraintChecker):
        self.checker = checker
        self.job_constraints = [c for c in job.constraints
                                if c.operand not in (DISTINCT_HOSTS, DISTINCT_PROPERTY)]
        self.job_escapes_class = escapes_node_class(self.job_constraints)
        # Whether some verdict could not be cached per class (blocked evals
        # must then be woken by any node change).
        self.escaped = self.job_escapes_class
        self._job_verdicts: dict[str, str] = {}
        self._group_verdicts: dict[str, dict[str, str]] = {}
        self._job_classes: dict[str, bool] = {}
        self._group_classes: dict[str, dict[str, bool]] = {}

    def verdicts(self, ask: GroupAsk) -> dict[str, str]:
        """The group's verdict cache, keyed by node ID when :meth:`per_node` (or
        the node has no computed class), else by computed class.  Read it
        directly in hot loops and call :meth:`check` on a miss."""
        return self._group_verdicts.setdefault(ask.name, {})

    def per_node(self, ask: GroupAsk) -> bool:
        """Whether verdicts for ``ask`` are cached per node rather than per class."""
        return self.job_escapes_class or ask.escapes_class

    def check(self, ask: GroupAsk, node: Node) -> str:
        """Work out (and cache) whether ``ask`` may run on ``node``."""
        node_class = node.computed_class
        if not node_class or ask.escapes_class:
            self.escaped = True
        verdict = ""
        if self.job_constraints:
            job_key = node.id if (self.job_escapes_class or not node_class) else node_class
            cached = self._job_verdicts.get(job_key)
            if cached is None:
                unmet = self.checker.first_unmet(self.job_constraints, node)
                cached = self._job_verdicts[job_key] = str(unmet) if unmet else ""
                if node_class and not self.job_escapes_class:
                    self._job_classes[node_class] = not cached
            verdict = cached
        elif node_class and not self.job_escapes_class:
            self._job_classes[node_class] = True
        if not verdict:
            verdict = self._group_verdict(ask, node)
            if node_class and not ask.escapes_class:
                self._group_classes.setdefault(ask.name, {})[node_class] = not verdict
        per_node = self.job_escapes_class or ask.escapes_class or not node_class
        self.verdicts(ask)[node.id if per_node else node_class] = verdict
        return verdict

    def _group_verdict(self, ask: GroupAsk, node: Node) -> str:
        if not has_drivers(node, ask.drivers):
            return FILTER_MISSING_DRIVERS
        if ask.host_volumes and not has_host_volumes(node, ask.host_volumes):
            return FILTER_MISSING_HOST_VOLUMES
        if ask.constraints:
            unmet = self.checker.first_unmet(ask.constraints, node)
            if unmet is not None:
                return str(unmet)
        if ask.needs_devices:
            return FILTER_MISSING_DEVICES  # nodes do not fingerprint devices yet
        if ask.network is None:
            return ""
        return network_problem(ask, node)

    def class_eligibility(self) -> dict[str, bool]:
        """Computed classes found eligible (True) or not (False), as Nomad's
        EvalEligibility.GetClasses: a class is eligible when the job and at
        least one group may run there."""
        eligible: dict[str, bool] = {}
        for classes in self._group_classes.values():
            for node_class, ok in classes.items():
                if ok:
                    eligible[node_class] = True
                else:
                    eligible.setdefault(node_class, False)
        for node_class, ok in self._job_classes.items():
            if ok:
                eligible.setdefault(node_class, True)
            else:
                eligible[node_class] = False
        return eligible


class DistinctProperty:
    """How many of the job's (or one group's) allocations sit on nodes with each
    value of a property, against the constraint's limit (``value``, default 1)."""

    __slots__ = ("target", "limit", "group", "namespace", "job_id", "counts", "_ctx",
                 "_consumed")

    def __init__(self, constraint: Constraint, job: Job, group: str | None, ctx: EvalContext):
        self.target = constraint.l_target
        try:
            self.limit = int(constraint.r_target) if constraint.r_target else 1
        except ValueError:
            self.limit = 1  # validation rejects this; be strict rather than fail
        self.group = group
        self.namespace = job.namespace or ""
        self.job_id = job.id
        self.counts: dict[str, int] = {}
        self._ctx = ctx
        stopping = {a.id for allocs in ctx.plan.node_update.values() for a in allocs}
        for alloc in ctx.state.allocs_by_job(self.namespace, self.job_id):
            if alloc.terminal_status() or alloc.id in stopping:
                continue
            self._count(alloc)
        self._consumed = 0

    def _count(self, alloc: Allocation) -> None:
        if self.group is not None and alloc.task_group != self.group:
            return
        node = self._ctx.state.node_by_id(alloc.node_id)
        if node is None:
            return
        value, found = resolve_target(self.target, node)
        if found:
            self.counts[value] = self.counts.get(value, 0) + 1

    def problem(self, node: Node) -> str:
        """Why one more allocation may not go to ``node`` ("" if it may)."""
        placed = self._ctx.placed
        while self._consumed < len(placed):
            alloc = placed[self._consumed]
            self._consumed += 1
            if alloc.namespace == self.namespace and alloc.job_id == self.job_id:
                self._count(alloc)
        value, found = resolve_target(self.target, node)
        if not found:
            return f"missing property {self.target!r}"
        used = self.counts.get(value, 0)
        if used >= self.limit:
            return f"distinct_property: {self.target}={value} used by {used} allocs"
        return ""
