"""The state store: versions, derived status and summaries, snapshots, watches."""

import asyncio
import threading

from nomadjail.state import StateStore, Table
from nomadjail.structs import AllocClientStatus, EvalStatus
from nomadjail.testing import mock_alloc, mock_eval, mock_job, mock_node


def seeded():
    store = StateStore()
    job, node = mock_job(count=2), mock_node()
    with store.txn(1) as txn:
        txn.upsert_node(node)
        txn.upsert_job(job)
        txn.upsert_evals([mock_eval(job)])
    return store, job, node


def test_objects_are_stamped_with_the_raft_index():
    store, job, node = seeded()
    stored = store.job_by_id("default", job.id)
    assert (stored.create_index, stored.modify_index, stored.job_modify_index) == (1, 1, 1)
    assert store.node_by_id(node.id).create_index == 1
    assert store.index(Table.JOBS) == 1 and store.index(Table.ALLOCS) == 0


def test_unchanged_resubmission_keeps_the_version():
    store, job, _ = seeded()
    with store.txn(2) as txn:
        txn.upsert_job(job)
    assert store.job_by_id("default", job.id).version == 0
    changed = job.copy()
    changed.task_groups[0].count = 5
    with store.txn(3) as txn:
        txn.upsert_job(changed)
    stored = store.job_by_id("default", job.id)
    assert stored.version == 1 and stored.job_modify_index == 3 and stored.create_index == 1
    assert [v.version for v in store.job_versions("default", job.id)] == [1, 0]


def test_job_status_and_summary_follow_allocations():
    store, job, node = seeded()
    assert store.job_by_id("default", job.id).status == "pending"
    allocs = [mock_alloc(job, node, index=i) for i in range(2)]
    with store.txn(2) as txn:
        txn.upsert_allocs(allocs)
    assert store.job_by_id("default", job.id).status == "running"
    assert store.job_summary("default", job.id).summary["web"].starting == 2
    update = [a.__class__(id=a.id, client_status=AllocClientStatus.COMPLETE) for a in allocs]
    with store.txn(3) as txn:
        txn.update_allocs_from_client(update)
        for ev in txn.evals_by_job("default", job.id):
            txn.upsert_evals([ev.__class__(**{**{s: getattr(ev, s) for s in ev.__slots__},
                                              "status": EvalStatus.COMPLETE})])
    assert store.job_summary("default", job.id).summary["web"].complete == 2
    assert store.job_by_id("default", job.id).status == "dead"


def test_client_update_does_not_touch_server_fields_and_vice_versa():
    store, job, node = seeded()
    alloc = mock_alloc(job, node)
    with store.txn(2) as txn:
        txn.upsert_allocs([alloc])
    with store.txn(3) as txn:
        txn.update_allocs_from_client([alloc.__class__(id=alloc.id, client_status="running",
                                                       desired_status="stop")])
    stored = store.alloc_by_id(alloc.id)
    assert stored.client_status == "running" and stored.desired_status == "run"
    stop = alloc.__class__(**{s: getattr(stored, s) for s in stored.__slots__})
    stop.desired_status, stop.client_status, stop.job = "stop", "pending", None
    with store.txn(4) as txn:
        txn.upsert_allocs([stop])
    stored = store.alloc_by_id(alloc.id)
    assert stored.desired_status == "stop" and stored.client_status == "running"
    assert stored.job is not None and stored.create_index == 2 and stored.modify_index == 4


def test_snapshots_do_not_see_later_writes():
    store, job, node = seeded()
    snap = store.snapshot()
    with store.txn(2) as txn:
        txn.upsert_allocs([mock_alloc(job, node)])
        txn.delete_node(node.id)
    assert snap.allocs_by_job("default", job.id) == [] and snap.node_by_id(node.id)
    assert len(store.allocs_by_job("default", job.id)) == 1 and not store.node_by_id(node.id)
    assert store.allocs_by_node(node.id)  # the index still points at the allocation


def test_failed_transaction_changes_nothing():
    store, job, _ = seeded()
    try:
        with store.txn(2) as txn:
            txn.delete_job("default", job.id)
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert store.job_by_id("default", job.id) and store.latest_index == 1


def test_wait_for_wakes_threads_on_the_right_table():
    store, job, node = seeded()
    result = {}

    def waiter():
        result["snap"] = store.wait_for(1, [Table.ALLOCS], timeout=5)

    thread = threading.Thread(target=waiter)
    thread.start()
    with store.txn(2) as txn:  # touches nodes only: the waiter keeps waiting
        txn.update_node(node.id, status="down")
    with store.txn(3) as txn:
        txn.upsert_allocs([mock_alloc(job, node)])
    thread.join(5)
    assert result["snap"].index(Table.ALLOCS) == 3


def test_wait_for_times_out_with_the_old_index():
    store, _, _ = seeded()
    snap = store.wait_for(1, [Table.ALLOCS], timeout=0.05)
    assert snap.index(Table.ALLOCS) == 0


def test_async_waiters_are_woken_from_a_writer_thread():
    store, job, node = seeded()

    async def main():
        loop = asyncio.get_running_loop()
        waits = [asyncio.create_task(store.wait_for_async(1, [Table.ALLOCS], timeout=5))
                 for _ in range(50)]
        await asyncio.sleep(0)
        await loop.run_in_executor(None, write)
        return await asyncio.gather(*waits)

    def write():
        with store.txn(2) as txn:
            txn.upsert_allocs([mock_alloc(job, node)])

    snaps = asyncio.run(main())
    assert all(s.index(Table.ALLOCS) == 2 for s in snaps)
