"""The service_registrations table: indexes, no-op upserts, clean-up operations, snapshots."""

from __future__ import annotations

import dataclasses

from nomadjail.state import ServiceTable, StateStore, Table
from nomadjail.testing import mock_alloc, mock_job, mock_node, mock_service_registration


def two_allocs_on_two_nodes():
    job = mock_job(count=2)
    nodes = [mock_node(), mock_node()]
    allocs = [mock_alloc(job, nodes[i], index=i) for i in range(2)]
    return job, nodes, allocs


def test_upsert_stamps_indexes_and_feeds_every_index():
    _, nodes, allocs = two_allocs_on_two_nodes()
    web = [mock_service_registration(a, tags=["v1"]) for a in allocs]
    db = mock_service_registration(allocs[0], name="db", port_label="db", port=5432)
    table = ServiceTable().upserted([*web, db], 7)
    assert len(table) == 3
    assert {r.create_index for r in table} == {r.modify_index for r in table} == {7}
    assert [r.id for r in table.by_service("default", "web")] == sorted(r.id for r in web)
    assert table.by_service("other", "web") == []
    assert [r.service_name for r in table.of_alloc(allocs[0].id)] == ["db", "web"]
    assert [r.alloc_id for r in table.of_node(nodes[1].id)] == [allocs[1].id]
    assert table.get("default", db.id).port == 5432


def test_unchanged_upsert_returns_the_same_table_and_a_change_keeps_create_index():
    _, _, allocs = two_allocs_on_two_nodes()
    reg = mock_service_registration(allocs[0], tags=["a", "b"])
    table = ServiceTable().upserted([reg], 3)
    same = dataclasses.replace(reg, tags=["b", "a"])  # tags compare as a set, as in Nomad
    assert table.upserted([same], 4) is table
    moved = dataclasses.replace(reg, port=9090)
    updated = table.upserted([moved], 5)
    stored = updated.get("default", reg.id)
    assert (stored.create_index, stored.modify_index, stored.port) == (3, 5, 9090)
    assert table.get("default", reg.id).port == 8080  # the old table never changes


def test_a_registration_that_moves_to_another_name_leaves_its_old_index_entry():
    _, _, allocs = two_allocs_on_two_nodes()
    reg = mock_service_registration(allocs[0], name="old")
    table = ServiceTable().upserted([reg], 1)
    table = table.upserted([dataclasses.replace(reg, service_name="new")], 2)
    assert table.by_service("default", "old") == []
    assert [r.service_name for r in table.by_service("default", "new")] == ["new"]
    assert ("default", "old") not in table.by_name


def test_removal_by_key_alloc_and_node_cleans_every_index():
    _, nodes, allocs = two_allocs_on_two_nodes()
    regs = [mock_service_registration(a) for a in allocs]
    regs.append(mock_service_registration(allocs[0], name="db", port_label="db"))
    table = ServiceTable().upserted(regs, 1)
    assert table.without([("default", "missing")]) is table
    by_alloc = table.without_allocs([allocs[0].id])
    assert [r.alloc_id for r in by_alloc] == [allocs[1].id]
    assert allocs[0].id not in by_alloc.by_alloc and ("default", "db") not in by_alloc.by_name
    by_node = table.without_node(nodes[1].id)
    assert sorted(r.alloc_id for r in by_node) == [allocs[0].id, allocs[0].id]
    assert nodes[1].id not in by_node.by_node
    assert table.without_node("no-such-node") is table
    emptied = table.without([(r.namespace, r.id) for r in regs])
    assert len(emptied) == 0 and emptied == ServiceTable()


def test_wildcard_namespace_reads_every_namespace_sorted():
    _, _, allocs = two_allocs_on_two_nodes()
    mine = mock_service_registration(allocs[0])
    theirs = dataclasses.replace(mock_service_registration(allocs[1]), namespace="apps")
    table = ServiceTable().upserted([mine, theirs], 1)
    assert [r.namespace for r in table.by_service(None, "web")] == ["apps", "default"]
    assert [r.namespace for r in table.registrations()] == ["apps", "default"]
    assert [r.namespace for r in table.registrations("apps")] == ["apps"]


def test_rebuilt_table_equals_the_written_one():
    _, _, allocs = two_allocs_on_two_nodes()
    table = ServiceTable().upserted([mock_service_registration(a, tags=["x"])
                                     for a in allocs], 4)
    assert ServiceTable.of(table) == table


def test_store_writes_move_the_table_index_only_on_change():
    _, _, allocs = two_allocs_on_two_nodes()
    store = StateStore()
    reg = mock_service_registration(allocs[0])
    with store.txn(5) as txn:
        txn.put_service_registrations(txn.service_registrations.upserted([reg], 5))
    before = store.snapshot()
    assert store.index(Table.SERVICE_REGISTRATIONS) == 5
    with store.txn(6) as txn:
        txn.put_service_registrations(txn.service_registrations.upserted([reg], 6))
    assert store.index(Table.SERVICE_REGISTRATIONS) == 5  # nothing changed
    with store.txn(7) as txn:
        txn.put_service_registrations(txn.service_registrations.without_allocs([allocs[0].id]))
    assert store.index(Table.SERVICE_REGISTRATIONS) == 7
    assert len(store.service_registrations) == 0
    assert len(before.service_registrations) == 1  # a snapshot keeps its version
