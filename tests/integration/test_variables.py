"""Nomad Variables on a real agent process: the CLI round trip, and encryption at rest --
after a variable with a distinctive secret was written, nothing in the data dir (raft
journal, snapshot, client state) holds the secret, and a restarted agent still opens it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from nomadjail.testing import AgentProcess

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


def test_cli_round_trip_and_no_plaintext_at_rest(agent_factory) -> None:
    agent = agent_factory("vars", dev=False, client=False,
                          config={"server": {"enabled": True, "encrypt": ENCRYPT}})
    agent.start(wait_client=False)
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
