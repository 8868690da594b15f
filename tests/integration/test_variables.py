"""Nomad Variables on a real agent process: the CLI round trip, and encryption at rest --
after a variable with a distinctive secret was written, nothing in the data dir (raft
journal, snapshot, client state) holds the secret, and a restarted agent still opens it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nomadjail.testing import AgentProcess, make_agent, wait_for

SECRET = "plaintext-canary-7f3a9c1e"
ENCRYPT = "Zm9yLXRoZS12YXJpYWJsZS10ZXN0cy0zMi1ieXRlcyE="  # base64 of 32 bytes


def cli(agent: AgentProcess, *args: str, input: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NOMAD_ADDR": agent.address}
    return subprocess.run([sys.executable, "-m", "nomadjail", *args], env=env, input=input,
                          capture_output=True, text=True, timeout=60)


def files_holding(root: Path, needle: bytes) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if needle in path.read_bytes():
                    found.append(str(path.relative_to(root)))
            except OSError:
                continue
    return found


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    agent = make_agent(tmp_path_factory.mktemp("vars"), dev=False, client=False,
                       config={"server": {"enabled": True, "encrypt": ENCRYPT}})
    agent.start(wait_client=False)
    try:
        yield agent
    finally:
        agent.stop()


CHILD = """
import pathlib, sys, time
here = pathlib.Path(sys.argv[1])
(here / "started").write_text("yes")
deadline = time.monotonic() + 30
while not (here / "go").exists() and time.monotonic() < deadline:
    time.sleep(0.02)
sys.exit(int(sys.argv[2]))
"""


def test_var_lock_holds_the_lock_while_its_child_runs(agent: AgentProcess,
                                                      tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "NOMAD_ADDR": agent.address}
    with subprocess.Popen(
            [sys.executable, "-m", "nomadjail", "var", "lock", "-ttl=10s", "-shell=false",
             "locks/leader", sys.executable, str(script), str(tmp_path), "0"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as holder:
        try:
            wait_for(lambda: (tmp_path / "started").exists(), timeout=30,
                     message="the child to run under the lock")
            held = agent.json("/v1/var/locks/leader")
            assert held["Lock"]["ID"] and held["Lock"]["TTL"] == "10s"
            other = cli(agent, "var", "lock", "-early-return", "locks/leader", "true")
            assert other.returncode == 0  # gave up at once: held by someone else (as Nomad)
            locked = cli(agent, "var", "put", "-force", "locks/leader", "k=v")
            assert locked.returncode == 1
            (tmp_path / "go").write_text("")
            _, err = holder.communicate(timeout=30)
            assert holder.returncode == 0, err
        finally:
            if holder.poll() is None:
                holder.kill()
                holder.communicate(timeout=5)
    assert agent.json("/v1/var/locks/leader").get("Lock") is None  # released

    failing = cli(agent, "var", "lock", "-shell=false", "locks/leader", sys.executable, "-c",
                  "import sys; sys.exit(3)")
    assert failing.returncode == 1 and "exit status 3" in failing.stderr
    assert agent.json("/v1/var/locks/leader").get("Lock") is None
    assert cli(agent, "var", "purge", "locks/leader").returncode == 0


def test_cli_round_trip_and_no_plaintext_at_rest(agent: AgentProcess) -> None:
    data_dir = agent.data_dir / "data"

    put = cli(agent, "var", "put", "-out=json", "app/db", "user=admin", f"password={SECRET}")
    assert put.returncode == 0, put.stderr
    stored = json.loads(put.stdout)
    assert stored["Items"] == {"password": SECRET, "user": "admin"}

    got = cli(agent, "var", "get", "-item=password", "app/db")
    assert got.returncode == 0 and got.stdout == SECRET
    listed = cli(agent, "var", "list")
    assert listed.returncode == 0 and "app/db" in listed.stdout and SECRET not in listed.stdout
    conflict = cli(agent, "var", "put", "app/db", "password=other")
    assert conflict.returncode == 1 and "Check-and-Set conflict" in conflict.stderr
    keys = cli(agent, "operator", "root", "keyring", "list")
    assert keys.returncode == 0 and "active" in keys.stdout

    # The journal holds the write (its path is there) but never the secret.
    assert files_holding(data_dir, b"app/db"), "the raft journal should hold the write"
    assert files_holding(data_dir, SECRET.encode()) == []

    agent.stop_agent_only()  # SIGTERM: raft writes its final snapshot
    snapshot = data_dir / "server" / "raft" / "snapshot.json"
    assert b'"Variables"' in snapshot.read_bytes() and b"app/db" in snapshot.read_bytes()
    assert files_holding(data_dir, SECRET.encode()) == []

    agent.start(wait_client=False)
    again = cli(agent, "var", "get", "-item=password", "app/db")
    assert again.returncode == 0, again.stderr
    assert again.stdout == SECRET
    purged = cli(agent, "var", "purge", "app/db")
    assert purged.returncode == 0 and purged.stdout == 'Successfully purged variable "app/db"!\n'
    assert cli(agent, "var", "get", "app/db").returncode == 1
