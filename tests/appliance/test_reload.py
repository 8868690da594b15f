"""`service nomadjail reload` (SIGHUP to the agent): the config files are read again
and the agent comes back with them and with its state; a broken file changes nothing."""

from __future__ import annotations

import json
import signal

from nomadjail.testing import make_agent, wait_for

JOB = {"Job": {"ID": "kept", "Name": "kept", "Type": "batch", "Datacenters": ["*"],
               "TaskGroups": [{"Name": "g", "Count": 1, "Tasks": [{
                   "Name": "t", "Driver": "raw_exec",
                   "Config": {"command": "/bin/true"}}]}]}}


def ui_enabled(agent) -> bool:
    return agent.json("/v1/agent/self")["config"]["UI"]["Enabled"]


def test_sighup_reloads_the_config_and_keeps_the_state(tmp_path):
    agent = make_agent(tmp_path / "agent", dev=False, client=False)
    agent.start(wait_client=False)
    try:
        assert agent.request("PUT", "/v1/jobs", JOB).status_code == 200
        assert ui_enabled(agent) is True
        worker = agent.worker_pid()
        config_path = agent.data_dir / "agent.json"
        settings = json.loads(config_path.read_text())

        config_path.write_text(json.dumps({**settings, "ui": {"enabled": False}}))
        agent.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: agent.worker_pid() != worker and not ui_enabled(agent), timeout=60,
                 message="the agent back with the UI off")
        assert agent.get("/ui/").status_code == 404
        assert [j["ID"] for j in agent.json("/v1/jobs")] == ["kept"]  # state kept
        assert agent.proc.poll() is None and len(agent.pids()) == 2  # one worker

        config_path.write_text("{ not json")
        worker = agent.worker_pid()
        agent.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload: keeping the running configuration" in agent.log(),
                 timeout=30, message="the broken file reported")
        wait_for(lambda: agent.worker_pid() != worker and agent.get(
            "/v1/status/leader").json(), timeout=60, message="the agent back")
        assert ui_enabled(agent) is False  # the last good configuration
    finally:
        agent.stop()
