"""A job's versions, stability and derived status (state/jobs.py), without a store."""

from nomadjail.state import JOB_TRACKED_VERSIONS, StateStore
from nomadjail.state.jobs import (
    add_version,
    job_status,
    stamp_version,
    summarize,
    with_queued,
    with_stability,
)
from nomadjail.structs import AllocClientStatus, JobStatus
from nomadjail.testing import mock_alloc, mock_eval, mock_job, mock_node


def test_a_new_version_only_when_the_spec_changed():
    job = mock_job()
    first = stamp_version(job, None, 5, submit_time=100)
    assert (first.version, first.create_index, first.job_modify_index, first.submit_time) == (
        0, 5, 5, 100)
    assert job.create_index != 5  # the caller's job is not changed

    first.stable = True
    again = stamp_version(job, first, 7, submit_time=200)
    assert (again.version, again.job_modify_index, again.submit_time, again.stable) == (
        0, 5, 100, True)
    assert again.modify_index == 7

    changed = job.copy()
    changed.task_groups[0].count += 1
    second = stamp_version(changed, first, 9, submit_time=300)
    assert (second.version, second.create_index, second.job_modify_index, second.stable) == (
        1, 5, 9, False)


def test_the_history_keeps_the_newest_versions_newest_first():
    versions: tuple = ()
    job = mock_job()
    for number in range(JOB_TRACKED_VERSIONS + 2):
        job = job.copy()
        job.version = number
        versions = add_version(versions, job)
    assert [v.version for v in versions] == list(range(JOB_TRACKED_VERSIONS + 1, 1, -1))
    restamped = versions[2].copy()
    assert [v.version for v in add_version(versions, restamped)][:2] == [restamped.version,
                                                                        versions[0].version]


def test_stability_changes_only_a_kept_version_that_differs():
    job = mock_job()
    job.version = 3
    versions = (job,)
    marked = with_stability(versions, 3, True, index=11)
    assert marked is not None and marked.stable and marked.modify_index == 11
    assert not job.stable
    assert with_stability((marked,), 3, True, index=12) is None
    assert with_stability(versions, 2, True, index=12) is None  # collected already


def test_status_and_summary_follow_evals_and_allocations():
    store = StateStore()
    job = mock_job(count=2)
    with store.txn(1) as txn:
        txn.upsert_job(job)
        assert job_status(txn, job) == JobStatus.PENDING  # registered, nothing evaluated
        txn.upsert_evals([mock_eval(job)])
        assert job_status(txn, job) == JobStatus.PENDING
        node = mock_node()
        txn.upsert_allocs([mock_alloc(job, node, client_status=AllocClientStatus.RUNNING),
                           mock_alloc(job, node, client_status=AllocClientStatus.FAILED)])
    snap = store.snapshot()
    assert job_status(snap, job) == JobStatus.RUNNING
    summary = summarize(snap, job, None, index=4)
    group = summary.summary[job.task_groups[0].name]
    assert (group.running, group.failed, group.starting) == (1, 1, 0)
    assert summary.create_index == 4
    queued = with_queued(summary, {job.task_groups[0].name: 3, "gone": 1}, index=5)
    assert queued.summary[job.task_groups[0].name].queued == 3 and "gone" not in queued.summary
    assert summarize(snap, job, queued, index=6).summary[job.task_groups[0].name].queued == 3

    stopped = job.copy()
    stopped.stop = True
    assert job_status(StateStore().snapshot(), stopped) == JobStatus.DEAD
    assert job_status(StateStore().snapshot(), job, evals_deleted=True) == JobStatus.DEAD
