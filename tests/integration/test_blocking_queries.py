"""Nomad blocking queries: ?index=N&wait=D answers on change or on timeout."""

from __future__ import annotations

import threading
import time

from nomadjail.testing import AgentProcess

from .jobs import FOREVER, shell_job


def test_list_blocks_until_a_change(dev_agent: AgentProcess) -> None:
    first = dev_agent.get("/v1/jobs")
    index = int(first.headers["X-Nomad-Index"])
    assert first.headers["X-Nomad-KnownLeader"] == "true"
    result = {}

    def poll() -> None:
        resp = dev_agent.get("/v1/jobs", index=index, wait="30s")
        result["index"] = int(resp.headers["X-Nomad-Index"])
        result["ids"] = [j["ID"] for j in resp.json()]

    waiter = threading.Thread(target=poll)
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive(), "the query answered before anything changed"
    dev_agent.request("POST", "/v1/jobs", shell_job("blocker", FOREVER))
    waiter.join(10)
    assert not waiter.is_alive()
    assert result["index"] > index and "blocker" in result["ids"]
    dev_agent.request("DELETE", "/v1/job/blocker", purge="true")


def test_query_times_out_with_the_same_index(dev_agent: AgentProcess) -> None:
    index = int(dev_agent.get("/v1/nodes").headers["X-Nomad-Index"])
    started = time.monotonic()
    resp = dev_agent.get("/v1/nodes", index=index, wait="1s")
    assert resp.status_code == 200
    assert int(resp.headers["X-Nomad-Index"]) == index
    assert time.monotonic() - started >= 1.0  # it did wait (lower bound only)


def test_single_object_blocks_on_its_table(dev_agent: AgentProcess) -> None:
    """A client following one job sees every change, each with a higher index."""
    dev_agent.request("POST", "/v1/jobs", shell_job("watched", FOREVER))
    job = dev_agent.get("/v1/job/watched")
    index = int(job.headers["X-Nomad-Index"])
    seen: list[int] = []
    counts: list[int] = []

    def follow() -> None:
        nonlocal index
        while True:
            resp = dev_agent.get("/v1/job/watched", index=index, wait="30s")
            new_index = int(resp.headers["X-Nomad-Index"])
            seen.append(new_index)
            if new_index <= index:
                return  # a timeout: nothing changed for 30s
            index = new_index
            counts.append(resp.json()["TaskGroups"][0]["Count"])
            if counts[-1] == 2:
                return

    waiter = threading.Thread(target=follow)
    waiter.start()
    dev_agent.request("POST", "/v1/jobs", shell_job("watched", FOREVER, count=2))
    waiter.join(20)
    assert not waiter.is_alive()
    assert counts and counts[-1] == 2, "the follower saw the update, not a timeout"
    assert seen == sorted(set(seen)), "every answer carried a higher index"
    dev_agent.request("DELETE", "/v1/job/watched", purge="true")
