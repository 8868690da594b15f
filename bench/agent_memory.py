"""Agent memory: RSS of a dev agent idle, and with 1,000 running allocations.

The allocations use the mock driver (no real processes), so the figure is the
agent's own cost per allocation: state store, scheduler output, client alloc
and task runners.  RSS is the gunicorn worker (which owns the agent) plus
the master.

    .venv/bin/python bench/agent_memory.py [--allocs 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import psutil

from nomadjail.structs import EphemeralDisk, Job, Resources, Task, TaskGroup, to_api
from nomadjail.testing import make_agent, wait_for


def rss_mb(pids: list[int]) -> float:
    return sum(psutil.Process(pid).memory_info().rss for pid in pids) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--allocs", type=int, default=1000)
    args = parser.parse_args()
    # Small disk asks: the default 300 MB ephemeral disk x 1,000 would exhaust the node.
    job = Job(id="memory", datacenters=["*"], task_groups=[TaskGroup(
        name="g", count=args.allocs, ephemeral_disk=EphemeralDisk(size_mb=10), tasks=[Task(
            name="t", driver="mock_driver", config={"run_for": "1h"},
            resources=Resources(cpu=1, memory_mb=10))])])
    with tempfile.TemporaryDirectory(prefix="bench-mem-") as tmp:
        agent = make_agent(Path(tmp), config={
            "log_level": "WARN", "plugin": {"mock_driver": {"config": {}}},
            "client": {"reserved": {"cpu": 0}}}).start()
        try:
            time.sleep(2)  # settle: first heartbeats and fingerprint done
            idle = rss_mb(agent.pids())
            started = time.monotonic()
            agent.request("POST", "/v1/jobs", {"Job": to_api(job)}).raise_for_status()
            wait_for(lambda: agent.json("/v1/job/memory/summary")["Summary"]["g"]["Running"]
                     == args.allocs, timeout=300, interval=0.5,
                     message=f"{args.allocs} allocations running")
            elapsed = time.monotonic() - started
            loaded = rss_mb(agent.pids())
            threads = sum(psutil.Process(pid).num_threads() for pid in agent.pids())
        finally:
            agent.stop()
    print(f"agent RSS idle={idle:.0f}MB with {args.allocs} running allocations={loaded:.0f}MB "
          f"(+{(loaded - idle) / args.allocs * 1024:.0f}KB per allocation; {threads} threads; "
          f"all running after {elapsed:.1f}s)")


if __name__ == "__main__":
    main()
