"""A dev agent whose worker dies stops, loudly, and takes its tasks with it (its
state was in memory: a restarted worker would silently come back empty)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil

from nomadjail.testing import wait_for

from .jobs import shell_job


def test_dev_worker_death_stops_the_agent_and_its_tasks(agent_factory) -> None:
    agent = agent_factory("dev")
    agent.start()
    resp = agent.request("POST", "/v1/jobs", shell_job(
        "orphan", 'echo $$ > "$NOMAD_TASK_DIR/pid"; exec sleep 300'))
    assert resp.status_code == 200, resp.text
    pid_file = wait_for(lambda: next(Path(agent.data_dir).glob("data/alloc/*/t/local/pid")),
                        timeout=20, message="the task's pid file")
    task_pid = int(wait_for(lambda: pid_file.read_text().strip(), message="task pid"))

    os.kill(agent.worker_pid(), signal.SIGKILL)

    assert agent.proc is not None
    assert agent.proc.wait(30) == 1
    assert "dev mode keeps all state in memory" in agent.log()
    wait_for(lambda: not psutil.pid_exists(task_pid) or psutil.Process(task_pid).status()
             == psutil.STATUS_ZOMBIE, timeout=10, message="the task ended")
