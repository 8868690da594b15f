"""Placements per second of the service scheduler.

One service job with count=1000 is scheduled onto 1,000 and 5,000 in-memory
nodes (mock_node: 4 GHz, 8 GiB, one dynamic port per allocation).  Only
``Harness.process(eval)`` is timed -- reconcile, feasibility, ranking, port
offers, building allocations, and submitting the plan to the harness (which
re-checks every node with allocs_fit and commits through the state store,
like the server's plan applier).  Setup is not timed.  Best of 3 runs.

    .venv/bin/python bench/scheduler_placements.py [--profile] [--nodes 1000,5000]

Prints, per cluster size: placements/s for the whole process(eval) by wall
clock (the figure to compare with the 5,000/s target) and by this process's
CPU time (less disturbed by other load on the machine), for the scheduler
alone (time inside submit_plan excluded), and how many nodes each placement
looked at.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import random
import time
from typing import Any, NamedTuple

from nomadjail.structs import SECOND
from nomadjail.testing import mock_eval, mock_job, mock_node
from nomadjail.testing.scheduler_harness import Harness

COUNT = 1000
RUNS = 3
NOW = 1_700_000_000 * SECOND


class TimedHarness(Harness):
    """Harness that keeps the time spent applying plans apart."""

    def __init__(self) -> None:
        super().__init__(now=NOW)
        self.apply_seconds = 0.0

    def submit_plan(self, plan: Any) -> Any:
        started = time.perf_counter()
        try:
            return super().submit_plan(plan)
        finally:
            self.apply_seconds += time.perf_counter() - started


class Run(NamedTuple):
    wall: float  # seconds for process(eval)
    cpu: float  # CPU seconds of this process during it
    apply: float  # wall seconds inside submit_plan
    evaluated: float  # nodes evaluated per placement


def one_run(node_count: int, profile: cProfile.Profile | None = None) -> Run:
    harness = TimedHarness()
    harness.upsert_nodes(mock_node() for _ in range(node_count))
    job = harness.upsert_job(mock_job(count=COUNT))
    evaluation = mock_eval(job)
    gc.collect()  # garbage from setup and earlier runs is not the scheduler's cost
    if profile is not None:
        profile.enable()
    started, started_cpu = time.perf_counter(), time.process_time()
    harness.process(evaluation, rng=random.Random(7))
    elapsed, elapsed_cpu = time.perf_counter() - started, time.process_time() - started_cpu
    if profile is not None:
        profile.disable()
    placed = harness.placed_allocs()
    assert len(placed) == COUNT, f"placed {len(placed)} of {COUNT}"
    evaluated = sum(a.metrics.nodes_evaluated for a in placed if a.metrics) / len(placed)
    return Run(elapsed, elapsed_cpu, harness.apply_seconds, evaluated)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="1000,5000",
                        help="comma-separated cluster sizes (default 1000,5000)")
    parser.add_argument("--profile", action="store_true",
                        help="print the top functions (cProfile) of one run per size")
    args = parser.parse_args()
    one_run(1000)  # warm-up: first-use costs (imports, codec tables) are not placements
    for node_count in (int(n) for n in args.nodes.split(",")):
        runs = [one_run(node_count) for _ in range(RUNS)]
        best = min(runs, key=lambda r: r.wall)
        best_cpu = min(r.cpu for r in runs)
        best_scheduler = min(r.wall - r.apply for r in runs)
        print(f"nodes={node_count} count={COUNT} placements/s={COUNT / best.wall:.0f} "
              f"(best of {RUNS}; by CPU time {COUNT / best_cpu:.0f}/s; "
              f"scheduler alone {COUNT / best_scheduler:.0f}/s, "
              f"plan apply {best.apply * 1000:.0f} ms) "
              f"nodes evaluated/placement={best.evaluated:.1f}")
        if args.profile:
            profile = cProfile.Profile()
            one_run(node_count, profile)
            pstats.Stats(profile).sort_stats("tottime").print_stats(20)


if __name__ == "__main__":
    main()
