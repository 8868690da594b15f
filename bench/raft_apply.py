"""Raft apply latency on a single server: p50 / p99 of ``Raft.apply``.

Prints one line per case: in memory and with a data dir (journal on disk),
for an empty message (the raft round trip alone) and a job registration
(JSON encode + decode + state store write).  Run:

    .venv/bin/python bench/raft_apply.py [--count N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from nomadjail.server import messages as m
from nomadjail.server.fsm import FSM, MsgType
from nomadjail.server.raft import Raft
from nomadjail.state import StateStore
from nomadjail.testing import free_port, mock_eval, mock_job


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(data_dir: str | None, count: int) -> dict[str, list[float]]:
    raft = Raft(FSM(StateStore()), bind=f"127.0.0.1:{free_port()}", data_dir=data_dir)
    started = time.perf_counter()
    raft.start()
    if not raft.wait_for_leader(10):
        raise SystemExit("no leader within 10 s")
    election = time.perf_counter() - started
    job = mock_job(count=3)
    cases: dict[str, tuple[MsgType, list[str]]] = {
        "barrier": (MsgType.BARRIER, ["{}"] * count),
        "job register": (MsgType.JOB_REGISTER, [
            m.encode(m.JobRegisterRequest(job=job, eval=mock_eval(job))) for _ in range(count)]),
    }
    results: dict[str, list[float]] = {"election": [election]}
    try:
        for name, (msg_type, payloads) in cases.items():
            for payload in payloads[:20]:  # warm up
                raft.apply(msg_type, payload)
            samples = []
            for payload in payloads:
                t0 = time.perf_counter()
                raft.apply(msg_type, payload)
                samples.append(time.perf_counter() - t0)
            results[name] = samples
    finally:
        raft.shutdown()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="applies per case")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="raft-bench-") as tmp:
        for label, data_dir in (("in-memory", None), ("data_dir", tmp)):
            results = measure(data_dir, args.count)
            print(f"{label:9}  leader elected in {results.pop('election')[0] * 1000:6.1f} ms")
            for name, samples in results.items():
                print(f"{label:9}  {name:12}  p50 {percentile(samples, 0.5) * 1000:6.2f} ms  "
                      f"p99 {percentile(samples, 0.99) * 1000:6.2f} ms  "
                      f"mean {statistics.fmean(samples) * 1000:6.2f} ms  (n={len(samples)})")


if __name__ == "__main__":
    main()
