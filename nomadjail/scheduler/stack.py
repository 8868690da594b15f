"""Choosing a node for one allocation: Nomad's placement stack, flattened.

Nomad chains iterators (random node source -> feasibility -> distinct hosts
-> bin packing -> job anti-affinity -> reschedule penalty -> normalisation
-> limit -> max score).  The same steps run here in one loop per placement:

* Nodes are visited in an order shuffled once per planning attempt (seeded
  by the eval ID and state index, like Nomad) and each placement continues
  where the previous one stopped, so allocations spread over the cluster.
* A node is skipped when infeasible (cached verdicts, see feasibility.py) or
  exhausted (CPU, memory, disk, ports against its proposed usage).
* A feasible node is scored: bin-pack fit, minus a penalty for each
  allocation of the same job and group already there (anti-affinity), minus
  one if a previous attempt of this allocation failed there, plus the share of
  the group's pot images the node holds (pot_images.py); the final score is
  the mean of the scores that apply (those that are not zero).
* Only ``limit`` scored nodes are considered per placement (2 for batch,
  ``max(2, ceil(log2(nodes)))`` for services); up to three nodes scoring
  zero or less are set aside in case nothing better turns up.  So a
  placement costs about the same on 100 nodes as on 10,000.

Ports are only offered on the chosen node; candidates are checked for
room (static ports free, enough dynamic ports left) without drawing any.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Iterable

from ..structs import (
    AllocatedCpuResources,
    AllocatedMemoryResources,
    AllocatedTaskResources,
    AllocMetric,
    Job,
    NetworkResource,
    Node,
    NodeScoreMeta,
    PortMapping,
    TaskGroup,
)
from .asks import GroupAsk, distinct_hosts_enabled, group_ask
from .constraints import DISTINCT_HOSTS, DISTINCT_PROPERTY, ConstraintChecker
from .context import EvalContext
from .feasibility import DistinctProperty, Feasibility
from .fit import DIMENSION_PORT_COLLISION
from .ports import assign_group_ports, assign_task_network, dynamic_ports_available
from .pot_images import SCORER_POT_IMAGE, any_holder, group_images, image_score
from .usage import NodeUsage

BATCH_LIMIT = 2
SKIP_SCORE_THRESHOLD = 0.0
MAX_SKIP = 3
MAX_RETAINED_NODE_SCORES = 5

SCORER_BINPACK = "binpack"
SCORER_ANTI_AFFINITY = "job-anti-affinity"
SCORER_RESCHEDULE_PENALTY = "node-reschedule-penalty"
SCORER_NORMALIZED = "normalized-score"


@dataclasses.dataclass(slots=True)
class RankedOption:
    """The chosen node and what the allocation gets there."""

    node: Node
    score: float
    task_resources: dict[str, AllocatedTaskResources]
    shared_networks: list[NetworkResource]
    shared_ports: list[PortMapping]
    pot_image: float = 0.0  # the share of the group's pot images the node holds


# One scored node: final score, node, its usage, and the scores that made it
# (bin pack, anti-affinity, reschedule penalty, pot image).
_Candidate = tuple[float, Node, NodeUsage, float, float, float, float]


def _by_score(candidate: _Candidate) -> float:
    return -candidate[0]


class PlacementStack:
    """Feasibility and ranking for one job's placements within one attempt.

    ``system=True`` gives the system scheduler's stack: no shuffling, no
    limit, no anti-affinity (one allocation per node is the point).
    ``pot_images=False`` turns the image-cache boost off (the server's
    scheduler configuration).
    """

    def __init__(self, ctx: EvalContext, *, batch: bool = False, system: bool = False,
                 pot_images: bool = True):
        self.ctx = ctx
        self.batch = batch
        self.system = system
        self.pot_images = pot_images
        # Per group name: the group's image attributes, and whether a node holds one.
        self._images: dict[str, tuple[TaskGroup, tuple[str, ...], bool]] = {}
        self.checker = ConstraintChecker()
        self.job: Job | None = None
        self.feasibility: Feasibility | None = None
        self.job_distinct_hosts = False
        self._asks: dict[str, GroupAsk] = {}
        self._job_properties: list[DistinctProperty] = []
        self._group_properties: dict[str, list[DistinctProperty]] = {}
        self.nodes: list[Node] = []
        self.offset = 0
        self.limit = BATCH_LIMIT
        # The metrics of the most recent select(), placed or not.
        self.metrics = AllocMetric()

    # -- configuration ------------------------------------------------------------
    def set_job(self, job: Job) -> None:
        if job is self.job:
            return
        self.job = job
        self.feasibility = Feasibility(job, self.checker)
        self.job_distinct_hosts = distinct_hosts_enabled(job.constraints)
        self._asks = {}
        self._job_properties = [DistinctProperty(c, job, None, self.ctx)
                                for c in job.constraints if c.operand == DISTINCT_PROPERTY]
        self._group_properties = {}

    def set_nodes(self, nodes: Iterable[Node], seed: str = "") -> None:
        """The candidate nodes, shuffled with ``seed`` unless this is a system stack."""
        self.nodes = list(nodes)
        if not self.system:
            random.Random(seed).shuffle(self.nodes)
        self.offset = 0
        self._images = {}
        count = len(self.nodes)
        self.limit = BATCH_LIMIT
        if self.system:
            self.limit = max(count, 1)
        elif not self.batch and count > 0:
            self.limit = max(BATCH_LIMIT, math.ceil(math.log2(count)))

    def ask(self, group: TaskGroup) -> GroupAsk:
        assert self.job is not None, "set_job() first"
        ask = self._asks.get(group.name)
        if ask is None or ask.group is not group:
            ask = self._asks[group.name] = group_ask(self.job, group)
        return ask

    def _properties(self, ask: GroupAsk) -> list[DistinctProperty]:
        assert self.job is not None
        if not ask.distinct_properties and not self._job_properties:
            return []
        group = self._group_properties.get(ask.name)
        if group is None:
            group = self._group_properties[ask.name] = [
                DistinctProperty(c, self.job, ask.name, self.ctx) for c in ask.distinct_properties]
        return [*self._job_properties, *group]

    def images(self, group: TaskGroup) -> tuple[tuple[str, ...], bool]:
        """The group's pot image attributes (none when the boost is off) and whether any
        candidate node holds one of them."""
        if not self.pot_images:
            return (), False
        cached = self._images.get(group.name)
        if cached is None or cached[0] is not group:
            images = group_images(group)
            cached = self._images[group.name] = (group, images,
                                                 any_holder(self.nodes, images))
        return cached[1], cached[2]

    # -- selection ----------------------------------------------------------------
    def select(self, group: TaskGroup, *, penalty_nodes: frozenset[str] = frozenset(),
               preferred: Node | None = None) -> RankedOption | None:
        """The best node for one more allocation of ``group`` (None if none fits).
        ``self.metrics`` tells what was looked at either way."""
        ask = self.ask(group)
        if preferred is not None:
            option = self._select_from([preferred], 0, ask, penalty_nodes, 1)[0]
            if option is not None:
                return option
        _, boosted = self.images(group)
        # As Nomad lifts the limit for affinities: every node is scored when one may be
        # boosted, or the nodes holding the image might never be looked at.
        limit = max(len(self.nodes), 1) if boosted else self.limit
        option, self.offset = self._select_from(self.nodes, self.offset, ask, penalty_nodes,
                                                limit)
        return option

    def select_on(self, node: Node, group: TaskGroup) -> RankedOption | None:
        """Whether ``group`` fits on ``node`` specifically (in-place updates,
        system jobs), leaving the shuffled node order alone."""
        return self._select_from([node], 0, self.ask(group), frozenset(), 1)[0]

    def _select_from(self, nodes: list[Node], offset: int, ask: GroupAsk,
                     penalty_nodes: frozenset[str], limit: int
                     ) -> tuple[RankedOption | None, int]:
        candidates, offset = self._rank(nodes, offset, ask, penalty_nodes, limit)
        for candidate in candidates:
            option = self._materialize(ask, candidate)
            if isinstance(option, RankedOption):
                return option, offset
            self.metrics.nodes_exhausted += 1
            dimension = f"network: {option}"
            self.metrics.dimension_exhausted[dimension] = (
                self.metrics.dimension_exhausted.get(dimension, 0) + 1)
        return None, offset

    def _rank(self, nodes: list[Node], offset: int, ask: GroupAsk,
              penalty_nodes: frozenset[str], limit: int) -> tuple[list[_Candidate], int]:
        """Visit nodes from ``offset`` until ``limit`` have been scored or all
        were seen; fills ``self.metrics``.  Kept as one flat loop: it runs for
        every candidate node of every placement."""
        ctx = self.ctx
        feasibility = self.feasibility
        assert feasibility is not None, "set_job() first"
        verdicts = feasibility.verdicts(ask)
        per_node = feasibility.per_node(ask)
        usages = ctx.usages
        build_usage = ctx.usage
        check = feasibility.check
        properties = self._properties(ask)
        job_key = (ask.namespace, ask.job_id)
        group_key = (ask.namespace, ask.job_id, ask.name)
        distinct_group = ask.distinct_hosts
        distinct_job = self.job_distinct_hosts
        score_anti_affinity = not self.system
        may_skip = not self.system
        desired = float(ask.count or 1)
        ask_cpu, ask_memory, ask_disk = ask.cpu, ask.memory_mb, ask.disk_mb
        # The common port ask -- a few dynamic ports on the group network -- is
        # checked inline; anything else goes through _port_problem().
        simple_ports = (ask.network is not None and not ask.static_ports
                        and not ask.task_static_ports and not ask.task_dynamic_port_count)
        other_ports = not simple_ports and (ask.network is not None or bool(
            ask.task_static_ports or ask.task_dynamic_port_count))
        dynamic_count = ask.dynamic_port_count
        images = self.images(ask.group)[0]
        total = len(nodes)

        visited = filtered = exhausted = 0
        constraint_filtered: dict[str, int] = {}
        class_filtered: dict[str, int] = {}
        dimension_exhausted: dict[str, int] = {}
        class_exhausted: dict[str, int] = {}
        check_distinct_hosts = distinct_group or distinct_job
        chosen: list[_Candidate] = []
        skipped: list[_Candidate] = []
        wanted = limit
        while wanted and visited < total:
            if offset >= total:
                offset = 0
            node = nodes[offset]
            offset += 1
            visited += 1
            node_id = node.id

            # Feasibility: cached per class or node, then proposal-dependent checks.
            verdict = verdicts.get(node_id if per_node else (node.computed_class or node_id))
            if verdict is None:
                verdict = check(ask, node)
            usage = usages.get(node_id)
            if not verdict and check_distinct_hosts:
                if usage is None:
                    usage = build_usage(node)
                if ((distinct_job and usage.by_job.get(job_key))
                        or (distinct_group and usage.by_group.get(group_key))):
                    verdict = DISTINCT_HOSTS
            if not verdict and properties:
                for prop in properties:
                    verdict = prop.problem(node)
                    if verdict:
                        break
            if verdict:
                filtered += 1
                constraint_filtered[verdict] = constraint_filtered.get(verdict, 0) + 1
                if node.node_class:
                    class_filtered[node.node_class] = class_filtered.get(node.node_class, 0) + 1
                continue

            # Fit against what the node already holds.
            if usage is None:
                usage = build_usage(node)
            facts = usage.facts
            cpu = usage.cpu + ask_cpu
            memory = usage.memory_mb + ask_memory
            # Nomad's order: ports first, then CPU, memory, disk (AllocsFit).
            dimension = ""
            if usage.collision:
                dimension = DIMENSION_PORT_COLLISION
            elif simple_ports:
                used = usage.ports.get(facts.host_address)
                taken = len(used) if used is not None else len(facts.reserved_ports)
                if taken + dynamic_count > facts.roomy_ports and not dynamic_ports_available(
                        usage.ports_on(facts.host_address), dynamic_count, (), facts.min_port,
                        facts.max_port):
                    dimension = "network: dynamic port selection failed"
            elif other_ports:
                dimension = self._port_problem(ask, usage)
            if dimension:
                pass
            elif cpu > facts.cpu:
                dimension = "cpu"
            elif memory > facts.memory_mb:
                dimension = "memory"
            elif usage.disk_mb + ask_disk > facts.disk_mb:
                dimension = "disk"
            if dimension:
                exhausted += 1
                dimension_exhausted[dimension] = dimension_exhausted.get(dimension, 0) + 1
                if node.node_class:
                    class_exhausted[node.node_class] = class_exhausted.get(node.node_class, 0) + 1
                continue

            # Score: bin packing (ScoreFitBinPack / 18), anti-affinity, penalty.
            fcpu = facts.cpu
            fmemory = facts.memory_mb
            fit = 20.0 - (10.0 ** (1.0 - cpu / fcpu if fcpu > 0 else 0.0)
                          + 10.0 ** (1.0 - memory / fmemory if fmemory > 0 else 0.0))
            binpack = (18.0 if fit > 18.0 else (fit if fit > 0.0 else 0.0)) / 18.0
            final = binpack
            anti_affinity = penalty = 0.0
            if score_anti_affinity:
                collisions = usage.by_group.get(group_key)
                if collisions:
                    anti_affinity = -(collisions + 1) / desired
            if penalty_nodes and node_id in penalty_nodes:
                penalty = -1.0
            pot_image = image_score(node.attributes, images) if images else 0.0
            if anti_affinity or penalty or pot_image:
                scorers = 1 + (anti_affinity != 0.0) + (penalty != 0.0) + (pot_image != 0.0)
                final = (binpack + anti_affinity + penalty + pot_image) / scorers
            candidate = (final, node, usage, binpack, anti_affinity, penalty, pot_image)
            if final <= SKIP_SCORE_THRESHOLD and may_skip and len(skipped) < MAX_SKIP:
                skipped.append(candidate)
                continue
            chosen.append(candidate)
            wanted -= 1
        # Ran out of nodes before the limit: fall back on the low scorers.
        while skipped and len(chosen) < limit:
            chosen.append(skipped.pop(0))
        if len(chosen) > 1:
            chosen.sort(key=_by_score)  # stable: ties keep the visiting order

        self.metrics = AllocMetric(
            nodes_evaluated=visited, nodes_filtered=filtered, class_filtered=class_filtered,
            constraint_filtered=constraint_filtered, nodes_exhausted=exhausted,
            class_exhausted=class_exhausted, dimension_exhausted=dimension_exhausted,
            score_meta_data=self._top_scores(chosen, bool(images)))
        return chosen, offset

    @staticmethod
    def _port_problem(ask: GroupAsk, usage: NodeUsage) -> str:
        """Why the node cannot give the ports asked for ("" if it can)."""
        facts = usage.facts
        static_values = tuple(value for value, _, _ in ask.static_ports)
        if ask.network is not None:
            used = usage.ports_on(facts.host_address)
            for value, label, may_collide in ask.static_ports:
                if value in used and not may_collide:
                    return f"network: reserved port collision {label}={value}"
            if not dynamic_ports_available(used, ask.dynamic_port_count, static_values,
                                           facts.min_port, facts.max_port):
                return "network: dynamic port selection failed"
        if ask.task_static_ports or ask.task_dynamic_port_count:
            if facts.task_network is None:
                return "network: no networks available"
            used = usage.ports_on(facts.task_address)
            same_address = ask.network is not None and facts.task_address == facts.host_address
            for value, label in ask.task_static_ports:
                if value in used or (same_address and value in static_values):
                    return f"network: reserved port collision {label}={value}"
            wanted = ask.task_dynamic_port_count + (ask.dynamic_port_count if same_address else 0)
            if not dynamic_ports_available(used, wanted, static_values, facts.min_port,
                                           facts.max_port):
                return "network: dynamic port selection failed"
        return ""

    @staticmethod
    def _top_scores(chosen: list[_Candidate], images: bool) -> list[NodeScoreMeta]:
        """The best few nodes' scores, best first (Nomad's ScoreMetaData);
        ``chosen`` is sorted already.  ``pot-image`` only for groups with pot images."""
        top = []
        for final, node, _, binpack, anti_affinity, penalty, pot_image in chosen[
                :MAX_RETAINED_NODE_SCORES]:
            scores = {SCORER_BINPACK: binpack, SCORER_ANTI_AFFINITY: anti_affinity,
                      SCORER_RESCHEDULE_PENALTY: penalty}
            if images:
                scores[SCORER_POT_IMAGE] = pot_image
            top.append(NodeScoreMeta(node_id=node.id, norm_score=final, scores=scores))
        return top

    def _materialize(self, ask: GroupAsk, candidate: _Candidate) -> RankedOption | str:
        """Resources and port offers on the chosen node, or why they cannot be had."""
        final, node, usage = candidate[0], candidate[1], candidate[2]
        facts = usage.facts
        rng = self.ctx.rng
        shared_networks: list[NetworkResource] = []
        shared_ports: list[PortMapping] = []
        offered: dict[str, set[int]] = {}
        if ask.network is not None:
            address = facts.host_address
            result = assign_group_ports(ask.network, address, usage.ports_on(address),
                                        facts.min_port, facts.max_port, rng)
            if isinstance(result, str):
                return result
            shared_ports, network = result
            shared_networks = [network]
            offered[address] = {p.value for p in shared_ports}
        tasks: dict[str, AllocatedTaskResources] = {}
        for task_ask in ask.tasks:
            resources = AllocatedTaskResources(
                cpu=AllocatedCpuResources(cpu_shares=task_ask.cpu),
                memory=AllocatedMemoryResources(memory_mb=task_ask.memory_mb))
            if task_ask.network is not None:
                address = facts.task_address
                taken = usage.ports_on(address) | offered.get(address, set())
                offer = assign_task_network(task_ask.network, facts.task_network, taken,
                                            facts.min_port, facts.max_port, rng)
                if isinstance(offer, str):
                    return offer
                resources.networks = [offer]
                offered.setdefault(address, set()).update(p.value for p in offer.ports())
            tasks[task_ask.task.name] = resources
        # The flat map Nomad kept before ScoreMetaData: the chosen node's scores.
        self.metrics.scores = {f"{node.id}.{SCORER_BINPACK}": candidate[3],
                               f"{node.id}.{SCORER_NORMALIZED}": final}
        return RankedOption(node=node, score=final, task_resources=tasks,
                            shared_networks=shared_networks, shared_ports=shared_ports,
                            pot_image=candidate[6])
