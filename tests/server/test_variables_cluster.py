"""Variables in a three-server cluster (in process, real raft on loopback, data dirs on
disk): the root key made by the leader reaches every server, so a variable written
through a follower opens everywhere, also on a restarted server; no data dir ever holds
its items in the clear."""

from __future__ import annotations

from pathlib import Path

from nomadjail.structs.variables import Variable
from nomadjail.testing import free_port, wait_for

SECRET = "cluster-canary-51d0e2b8"


def holding(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_a_variable_written_on_a_follower_opens_on_every_server(make_server, fake_scheduler,
                                                                tmp_path: Path) -> None:
    binds = [f"127.0.0.1:{free_port()}" for _ in range(3)]
    dirs = [tmp_path / f"server{i}" for i in range(3)]

    def start(i: int, wait: bool = False):
        return make_server(raft_bind=binds[i], raft_peers=[b for b in binds if b != binds[i]],
                           bootstrap_expect=3, data_dir=str(dirs[i]), wait=wait,
                           num_schedulers=0, **fake_scheduler)

    servers = [start(i) for i in range(3)]
    wait_for(lambda: sum(s.is_leader() for s in servers) == 1, timeout=20,
             message="exactly one leader")
    follower = next(s for s in servers if not s.is_leader())
    key = wait_for(lambda: follower.keyring.active_key(), timeout=10,
                   message="the leader's first root key on a follower")

    result = follower.variables.apply(Variable(path="team/db", items={"password": SECRET}))
    assert result.output is not None and result.output.items == {"password": SECRET}
    for server in servers:
        sealed = wait_for(lambda s=server: s.state.variables.get("default", "team/db"),
                          timeout=10, message="the variable on every server")
        assert sealed.key_id == key.key_id and SECRET not in sealed.data
        assert server.variables.opened(sealed).items == {"password": SECRET}

    restarted_index = 0 if servers[0] is not follower else 1
    servers[restarted_index].shutdown()
    assert holding(dirs[restarted_index], b"team/db"), "its journal or snapshot holds the write"
    restarted = start(restarted_index)
    sealed = wait_for(lambda: restarted.state.variables.get("default", "team/db"), timeout=20,
                      message="the restarted server to replay the variable")
    assert restarted.variables.opened(sealed).items == {"password": SECRET}

    for server in servers:
        server.shutdown()
    restarted.shutdown()
    for data_dir in dirs:
        assert holding(data_dir, SECRET.encode()) == [], data_dir
