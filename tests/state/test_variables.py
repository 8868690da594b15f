"""The variables table's operations: Nomad's set, check-and-set and delete rules."""

from __future__ import annotations

from nomadjail.state import StateStore, Table
from nomadjail.structs.variables import VariableEncrypted, VarOp, VarOpResult


def sealed(path: str, data: str = "c2VhbGVk", namespace: str = "default") -> VariableEncrypted:
    return VariableEncrypted(namespace=namespace, path=path, data=data, key_id="k1",
                             create_time=100, modify_time=100)


def apply(store: StateStore, index: int, op: VarOp, var: VariableEncrypted, cas: int = 0):
    with store.txn(index) as txn:
        return txn.apply_variable(op, var, cas)


def test_set_keeps_create_index_and_time_and_stamps_modify_index() -> None:
    store = StateStore()
    first = apply(store, 5, VarOp.SET, sealed("a"))
    assert first.ok and first.written.create_index == first.written.modify_index == 5
    later = VariableEncrypted(**{
        "namespace": "default", "path": "a", "data": "bmV3", "key_id": "k1",
        "create_time": 999, "modify_time": 999})
    second = apply(store, 9, VarOp.SET, later)
    stored = store.variables.get("default", "a")
    assert (stored.create_index, stored.modify_index, stored.create_time, stored.modify_time,
            stored.data) == (5, 9, 100, 999, "bmV3")
    assert second.written.modify_index == 9
    assert store.index(Table.VARIABLES) == 9


def test_check_and_set_conflicts_change_nothing() -> None:
    store = StateStore()
    apply(store, 3, VarOp.CAS, sealed("a"), cas=0)
    must_not_exist = apply(store, 4, VarOp.CAS, sealed("a", "eA=="), cas=0)
    assert must_not_exist.result == VarOpResult.CONFLICT
    assert must_not_exist.conflict.modify_index == 3 and must_not_exist.conflict.data == "c2VhbGVk"
    wrong = apply(store, 5, VarOp.CAS, sealed("a", "eA=="), cas=2)
    assert wrong.result == VarOpResult.CONFLICT
    absent = apply(store, 6, VarOp.CAS, sealed("b"), cas=7)
    assert absent.result == VarOpResult.CONFLICT
    assert (absent.conflict.path, absent.conflict.data, absent.conflict.modify_index) == \
        ("b", "", 0)
    assert store.variables.get("default", "a").data == "c2VhbGVk"
    assert store.variables.get("default", "b") is None
    assert apply(store, 8, VarOp.CAS, sealed("a", "eQ=="), cas=3).ok


def test_delete_and_delete_cas() -> None:
    store = StateStore()
    assert apply(store, 2, VarOp.DELETE, sealed("gone")).ok  # nothing there: fine
    apply(store, 3, VarOp.SET, sealed("a"))
    assert apply(store, 4, VarOp.DELETE_CAS, sealed("a"), cas=2).result == VarOpResult.CONFLICT
    assert store.variables.get("default", "a") is not None
    assert apply(store, 5, VarOp.DELETE_CAS, sealed("a"), cas=3).ok
    assert store.variables.get("default", "a") is None


def test_lists_sort_by_namespace_and_path() -> None:
    store = StateStore()
    for i, (ns, path) in enumerate([("default", "b/x"), ("apps", "b/y"), ("default", "a"),
                                    ("default", "b/a")]):
        apply(store, i + 1, VarOp.SET, sealed(path, namespace=ns))
    assert [v.path for v in store.variables.listed("default", "b/")] == ["b/a", "b/x"]
    assert [(v.namespace, v.path) for v in store.variables.listed(None, "b/")] == [
        ("apps", "b/y"), ("default", "b/a"), ("default", "b/x")]
