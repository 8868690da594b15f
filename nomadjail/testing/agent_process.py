"""Run a real ``nomadjail agent`` as a subprocess on free loopback ports.

Integration tests and benchmarks use it: it writes a config file with free
ports, starts ``python -m nomadjail agent``, waits until the API answers
(and, for a client, until the node is ready), and on ``stop()`` ends the
agent and every process started under its data dir, by PID.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import requests

from .processes import kill_processes_under
from .waiting import free_port, wait_for


@dataclass
class AgentProcess:
    data_dir: Path
    http_port: int
    rpc_port: int
    serf_port: int
    log_path: Path
    proc: subprocess.Popen | None = None
    extra_args: list[str] = field(default_factory=list)
    server: bool = True

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def rpc_address(self) -> str:
        return f"127.0.0.1:{self.rpc_port}"

    # -- HTTP helpers ----------------------------------------------------------------
    def get(self, path: str, **params: Any) -> requests.Response:
        return requests.get(self.address + path, params=params, timeout=30)

    def json(self, path: str, **params: Any) -> Any:
        resp = self.get(path, **params)
        resp.raise_for_status()
        return resp.json()

    def request(self, method: str, path: str, body: Any = None, **params: Any
                ) -> requests.Response:
        return requests.request(method, self.address + path, params=params,
                                data=None if body is None else json.dumps(body), timeout=30)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # -- lifecycle -------------------------------------------------------------------
    def start(self, *, wait_client: bool = True, timeout: float = 30.0) -> AgentProcess:
        cmd = [sys.executable, "-m", "nomadjail", "agent",
               f"-config={self.data_dir / 'agent.json'}", *self.extra_args]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        try:
            if self.server:
                wait_for(self._leader_known, timeout=timeout, interval=0.05,
                         message=f"agent on {self.address} to elect a leader")
            else:
                wait_for(self._healthy, timeout=timeout, interval=0.05,
                         message=f"client agent on {self.address} to answer")
            if wait_client and self.server:
                wait_for(self._node_ready, timeout=timeout, interval=0.05,
                         message=f"the client of {self.address} to be ready")
        except Exception:  # noqa: BLE001 - any failure to start is reported with the agent's log
            tail = "\n".join(self.log().splitlines()[-40:])
            self.stop()
            raise AssertionError(f"agent did not start; last log lines:\n{tail}") from None
        return self

    def _leader_known(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"agent exited with {self.proc.returncode}")
        return bool(self.json("/v1/status/leader"))

    def _healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"agent exited with {self.proc.returncode}")
        return self.get("/v1/agent/health").status_code == 200

    def _node_ready(self) -> bool:
        return any(n["Status"] == "ready" for n in self.json("/v1/nodes"))

    def pids(self) -> list[int]:
        """The gunicorn master and its worker(s)."""
        if self.proc is None:
            return []
        try:
            master = psutil.Process(self.proc.pid)
            return [master.pid, *(c.pid for c in master.children())]
        except psutil.NoSuchProcess:
            return []

    def worker_pid(self) -> int:
        return self.pids()[1]

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the agent, SIGKILL it after ``timeout``, then end every process
        still running from this agent's data dir (tasks, supervisors)."""
        self.stop_agent_only(timeout)
        self.kill_leftovers()

    def stop_agent_only(self, timeout: float = 20.0) -> None:
        """SIGTERM the agent (SIGKILL after ``timeout``); its tasks keep running, as
        they do when a Nomad client restarts."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)

    def kill(self) -> None:
        """SIGKILL the agent's master and worker at once (a crash)."""
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            self.proc.wait(5)

    def kill_leftovers(self) -> None:
        kill_processes_under(self.data_dir.resolve())

def make_agent(base: Path, *, dev: bool = True, server: bool = True, client: bool = True,
               config: dict[str, Any] | None = None, args: list[str] | None = None
               ) -> AgentProcess:
    """An agent (not started) with free ports and its data dir under ``base``."""
    base.mkdir(parents=True, exist_ok=True)
    agent = AgentProcess(data_dir=base, http_port=free_port(), rpc_port=free_port(),
                         serf_port=free_port(), log_path=base / "agent.log",
                         extra_args=list(args or []), server=server)
    settings: dict[str, Any] = {
        "bind_addr": "127.0.0.1",
        "data_dir": str(base / "data"),
        "ports": {"http": agent.http_port, "rpc": agent.rpc_port, "serf": agent.serf_port},
        "server": {"enabled": server},
        "client": {"enabled": client},
    }
    if "consul" not in (config or {}):
        # Without a consul block a client registers Consul services at 127.0.0.1:8500,
        # as Nomad's does: a test agent gets an address where nothing listens instead,
        # so no test depends on what runs on this machine's port 8500.
        settings["consul"] = {"address": f"127.0.0.1:{free_port()}", "auto_advertise": False,
                              "server_auto_join": False, "client_auto_join": False}
    for key, value in (config or {}).items():
        if isinstance(value, dict) and isinstance(settings.get(key), dict):
            settings[key] = {**settings[key], **value}
        else:
            settings[key] = value
    (base / "agent.json").write_text(json.dumps(settings, indent=2))
    if dev:
        agent.extra_args.insert(0, "-dev")
    return agent


def wait_alloc_status(agent: AgentProcess, alloc_id: str, status: str,
                      timeout: float = 20.0) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        alloc = agent.json(f"/v1/allocation/{alloc_id}")
        return alloc if alloc["ClientStatus"] == status else None

    alloc = wait_for(check, timeout=timeout, message=f"alloc {alloc_id[:8]} to be {status}")
    assert alloc is not None  # wait_for returns only a truthy value
    return alloc

