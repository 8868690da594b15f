"""Time from `job run` (POST /v1/jobs) to the allocation running, raw_exec, dev agent.

Target: p50 <= 300 ms.  Prints p50/p90/p99/max over N jobs submitted one after
another; each job is one raw_exec task (`sleep 300`), watched with a Nomad
blocking query on its allocations, and purged afterwards.

    .venv/bin/python bench/run_to_running.py [--jobs 50]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from nomadjail.structs import Job, NetworkResource, Port, Resources, Task, TaskGroup, to_api
from nomadjail.testing import make_agent


def bench_job(job_id: str) -> dict:
    job = Job(id=job_id, datacenters=["*"], task_groups=[TaskGroup(
        name="g", count=1, networks=[NetworkResource(dynamic_ports=[Port(label="http")])],
        tasks=[Task(name="t", driver="raw_exec",
                    config={"command": "/bin/sleep", "args": ["300"]},
                    resources=Resources(cpu=20, memory_mb=16))])])
    return {"Job": to_api(job)}


def time_one(agent, job_id: str) -> float:
    start = time.perf_counter()
    resp = agent.request("POST", "/v1/jobs", bench_job(job_id))
    resp.raise_for_status()
    index = 0
    while True:
        r = agent.get(f"/v1/job/{job_id}/allocations", index=index, wait="10s")
        r.raise_for_status()
        if any(a["ClientStatus"] == "running" for a in r.json()):
            return (time.perf_counter() - start) * 1000
        index = int(r.headers["X-Nomad-Index"])


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        agent = make_agent(Path(tmp), config={"log_level": "WARN"}).start()
        try:
            time_one(agent, "warmup")
            samples = []
            for i in range(args.jobs):
                job_id = f"bench-{i}"
                samples.append(time_one(agent, job_id))
                agent.request("DELETE", f"/v1/job/{job_id}", purge="true").raise_for_status()
        finally:
            agent.stop()
    print(f"job run -> allocation running (raw_exec, dev agent, {len(samples)} jobs): "
          f"p50={statistics.median(samples):.0f}ms p90={percentile(samples, 90):.0f}ms "
          f"p99={percentile(samples, 99):.0f}ms max={max(samples):.0f}ms (target p50 <= 300ms)")


if __name__ == "__main__":
    main()
