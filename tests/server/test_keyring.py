"""The keyring's sealing rules, on an FSM applied in process (no raft): what is stored is
never the cleartext, a sealed value opens only at its own path, key material is wrapped
when the servers share an ``encrypt`` key, and snapshots carry keys and variables."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nomadjail.server import messages as m
from nomadjail.server.fsm import FSM
from nomadjail.server.keyring import Keyring, KeyringError, key_encryption_key
from nomadjail.server.variables_endpoint import WorkloadIdentity
from nomadjail.state import StateStore
from nomadjail.structs import Conflict
from nomadjail.structs.keyring import KeyWrapping, RootKeyState
from nomadjail.structs.variables import VariableEncrypted, VarOp

SECRET = "keyring-canary-0c4b"


class Cluster:
    """One FSM and a keyring writing through it, as a server's Raft.apply would."""

    def __init__(self, encrypt: str | None = None):
        self.fsm = FSM(StateStore())
        self.keyring = Keyring(self.fsm.store, self.apply, kek=key_encryption_key(encrypt),
                               clock=lambda: 1_700_000_000_000_000_000)

    def apply(self, request: Any) -> tuple[int, Any]:
        index, result = self.fsm.apply_indexed(m.message_type_of(request), m.encode(request))
        if isinstance(result, Exception):
            raise result
        return index, result

    def put(self, path: str, items: dict[str, str]) -> VariableEncrypted:
        key_id, data = self.keyring.seal_with_active("default", path, items)
        self.apply(m.VarApplyStateRequest(op=VarOp.SET, var=VariableEncrypted(
            namespace="default", path=path, data=data, key_id=key_id)))
        stored = self.fsm.store.variables.get("default", path)
        assert stored is not None
        return stored


def test_sealed_values_hold_no_cleartext_and_open_only_at_their_path() -> None:
    cluster = Cluster()
    stored = cluster.put("a/b", {"password": SECRET})
    assert SECRET not in stored.data and SECRET not in cluster.fsm.snapshot_json()
    assert cluster.keyring.open(stored) == {"password": SECRET}
    moved = VariableEncrypted(namespace="default", path="a/c", data=stored.data,
                              key_id=stored.key_id)
    with pytest.raises(KeyringError, match="cannot be opened"):
        cluster.keyring.open(moved)


def test_key_material_is_wrapped_with_the_encrypt_key() -> None:
    plain, wrapped = Cluster(), Cluster(encrypt="c2hhcmVkLWdvc3NpcC1rZXk=")
    for cluster in (plain, wrapped):
        cluster.put("x", {"k": "v"})
    [plain_key] = plain.fsm.store.root_keys()
    [wrapped_key] = wrapped.fsm.store.root_keys()
    assert plain_key.wrapping == KeyWrapping.NONE
    assert wrapped_key.wrapping == KeyWrapping.AES256_GCM

    # Another server with the same encrypt key opens it; one with another key does not.
    snapshot = json.loads(wrapped.fsm.snapshot_json())
    same, other = Cluster(encrypt="c2hhcmVkLWdvc3NpcC1rZXk="), Cluster(encrypt="b3RoZXI=")
    for replica in (same, other):
        replica.fsm.restore(snapshot)
    stored = same.fsm.store.variables.get("default", "x")
    assert stored is not None and same.keyring.open(stored) == {"k": "v"}
    with pytest.raises(KeyringError, match="does not open with this server's `encrypt` key"):
        other.keyring.open(stored)
    without = Cluster()
    without.fsm.restore(snapshot)
    with pytest.raises(KeyringError, match="no `encrypt` key configured"):
        without.keyring.open(stored)


def test_snapshots_carry_keys_and_variables() -> None:
    cluster = Cluster()
    cluster.put("p", {"k": "v"})
    cluster.keyring.rotate()
    replica = Cluster()
    replica.fsm.restore(json.loads(cluster.fsm.snapshot_json()))
    assert [k.meta for k in replica.fsm.store.root_keys()] == \
        [k.meta for k in cluster.fsm.store.root_keys()]
    stored = replica.fsm.store.variables.get("default", "p")
    assert stored is not None and replica.keyring.open(stored) == {"k": "v"}


def test_full_rotation_reseals_and_the_fsm_refuses_to_drop_a_used_key() -> None:
    cluster = Cluster()
    first = cluster.put("p", {"k": "v"}).key_id
    cluster.keyring.rotate()
    with pytest.raises(Conflict, match="in use by variables"):
        cluster.apply(m.RootKeyDeleteRequest(key_id=first))
    new = cluster.keyring.rotate(full=True)
    stored = cluster.fsm.store.variables.get("default", "p")
    assert stored is not None and stored.key_id == new.key_id
    assert cluster.keyring.open(stored) == {"k": "v"}
    states = {k.meta.key_id: k.meta.state for k in cluster.fsm.store.root_keys()}
    assert states[first] == RootKeyState.DEPRECATED and states[new.key_id] == "active"
    with pytest.raises(Conflict, match="active root key"):
        cluster.apply(m.RootKeyDeleteRequest(key_id=new.key_id))
    cluster.keyring.remove(first)
    assert cluster.fsm.store.root_key(first) is None


@pytest.mark.parametrize(("path", "allowed"), [
    ("nomad/jobs", True), ("nomad/jobs/web", True), ("nomad/jobs/web/g", True),
    ("nomad/jobs/web/g/t", True), ("nomad", False), ("nomad/jobs/web2", False),
    ("nomad/jobs/web/g/t/x", False), ("nomad/jobs/web/other", False), ("web", False),
])
def test_workload_paths(path: str, allowed: bool) -> None:
    who = WorkloadIdentity(namespace="default", job_id="web", group="g", task="t")
    assert who.may_read(path) is allowed


def test_an_unnamed_task_reads_the_task_level_of_its_groups_tasks() -> None:
    who = WorkloadIdentity(namespace="default", job_id="web", group="g", task="",
                           group_tasks=frozenset({"t", "u"}))
    assert who.may_read("nomad/jobs/web/g/t") and who.may_read("nomad/jobs/web/g/u")
    assert not who.may_read("nomad/jobs/web/g/v") and who.may_read("nomad/jobs/web/g")
