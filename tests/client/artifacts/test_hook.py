"""The artifact prestart hook: events, interpolation, once per task, and a failed
download following the restart policy in a real task runner."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from nomadjail.client.artifacts.hook import ArtifactHook
from nomadjail.client.hooks import EnvHook, HookError, TaskDirHook
from nomadjail.structs import TaskEventType
from nomadjail.structs.artifact import TaskArtifact
from nomadjail.structs.task_events import display_message
from nomadjail.testing import wait_for
from nomadjail.testing.fake_servers import alloc_for, one_task_job, wait_client_status

from ...doubles.files import FileServer
from .archives import Entry, tar_bytes

BUNDLE = tar_bytes([Entry("bundle/motd", b"served by loopback\n")])


@pytest.fixture
def web() -> Iterator[FileServer]:
    server = FileServer()
    server.files["/bundle.tgz"] = BUNDLE
    server.files["/v7/tool"] = b"tool v7\n"
    yield server
    server.close()


def prepared(hook_context, artifacts: list[TaskArtifact]):  # noqa: ANN001, ANN201 - fixture
    ctx = hook_context()
    ctx.task.artifacts = artifacts
    for artifact in artifacts:
        artifact.canonicalize()
    TaskDirHook().prestart(ctx)
    EnvHook().prestart(ctx)
    return ctx


def test_downloads_once_with_nomads_event(hook_context, emitted, web: FileServer) -> None:
    ctx = prepared(hook_context, [TaskArtifact(getter_source=web.url("/bundle.tgz"))])
    hook = ArtifactHook()
    hook.prestart(ctx)
    local = Path(ctx.task_dir.local_dir)
    assert (local / "bundle/motd").read_text() == "served by loopback\n"
    downloads = [e for e in emitted if e.type == TaskEventType.DOWNLOADING_ARTIFACTS]
    assert len(downloads) == 1
    assert display_message(downloads[0]) == "Client is downloading artifacts"
    # a second attempt (a restart) fetches nothing and says nothing
    hook.prestart(ctx)
    assert web.hits("/bundle.tgz") == 1
    assert [e.type for e in emitted].count(TaskEventType.DOWNLOADING_ARTIFACTS) == 1


def test_source_destination_options_and_headers_are_interpolated(
        hook_context, web: FileServer) -> None:
    ctx = hook_context()
    ctx.task.meta["version"] = "v7"
    digest = hashlib.sha256(b"tool v7\n").hexdigest()
    ctx = prepared(lambda: ctx, [TaskArtifact(
        getter_source=web.url("/${NOMAD_META_version}/tool"),
        relative_dest="local/${NOMAD_ALLOC_ID}/${node.unique.name}",
        getter_options={"checksum": "sha256:${NOMAD_META_sum}"},
        getter_headers={"X-Alloc": "${NOMAD_ALLOC_ID}", "X-Dc": "${node.datacenter}"})])
    ctx.task.meta["sum"] = digest
    EnvHook().prestart(ctx)
    ArtifactHook().prestart(ctx)
    landed = Path(ctx.task_dir.local_dir, ctx.alloc.id, ctx.node.name, "tool")
    assert landed.read_text() == "tool v7\n"
    headers = web.requests[-1].headers
    assert headers["X-Alloc"] == ctx.alloc.id
    assert headers["X-Dc"] == ctx.node.datacenter


def test_a_failure_is_a_recoverable_error_with_nomads_event(hook_context, emitted,
                                                            web: FileServer) -> None:
    good = TaskArtifact(getter_source=web.url("/bundle.tgz"))
    bad = TaskArtifact(getter_source=web.url("/bundle.tgz"), relative_dest="local/again",
                       getter_options={"checksum": "md5:" + "0" * 32})
    ctx = prepared(hook_context, [good, bad])
    with pytest.raises(HookError) as err:
        ArtifactHook().prestart(ctx)
    assert err.value.recoverable
    event = err.value.event
    assert event is not None and event.type == TaskEventType.ARTIFACT_DOWNLOAD_FAILED
    assert event.download_error.startswith(
        f'failed to download artifact "{bad.getter_source}": Checksums did not match for '
        "bundle.tgz.")
    assert event.details["download_error"] == event.download_error
    # the good one is recorded: the next attempt fetches only the bad one
    hits = web.hits("/bundle.tgz")
    with pytest.raises(HookError):
        ArtifactHook().prestart(ctx)
    assert web.hits("/bundle.tgz") == hits + 1


def test_a_destination_outside_the_allocation_is_refused(hook_context, tmp_path: Path,
                                                         web: FileServer) -> None:
    ctx = prepared(hook_context, [TaskArtifact(getter_source=web.url("/bundle.tgz"),
                                               relative_dest="../../../escape")])
    with pytest.raises(HookError) as err:
        ArtifactHook().prestart(ctx)
    assert "artifact destination path escapes alloc directory" in str(err.value)
    assert not list(tmp_path.rglob("escape"))


def test_a_task_cats_its_artifact_and_a_bad_one_fails_by_the_restart_policy(
        make_client, servers, web: FileServer) -> None:
    client = make_client()
    client.start()
    good = one_task_job({"command": "/bin/cat", "args": ["local/bundle/motd"]},
                        job_type="batch")
    good.task_groups[0].tasks[0].artifacts = [TaskArtifact(
        getter_source=web.url("/bundle.tgz"),
        getter_options={"checksum": "sha256:" + hashlib.sha256(BUNDLE).hexdigest()})]
    good.canonicalize()
    alloc = servers.place(alloc_for(good, client))
    wait_client_status(servers, alloc.id, "complete")
    assert servers.event_types(alloc.id, "web") == [
        TaskEventType.RECEIVED, TaskEventType.SETUP, TaskEventType.DOWNLOADING_ARTIFACTS,
        TaskEventType.STARTED, TaskEventType.TERMINATED]
    logs = Path(client.alloc_dir(alloc.id), "alloc", "logs", "web.stdout.0")
    assert logs.read_text() == "served by loopback\n"

    bad = one_task_job({"command": "/bin/true"}, job_type="batch",
                       restart={"attempts": 1, "delay": 10_000_000, "mode": "fail"})
    bad.task_groups[0].tasks[0].artifacts = [TaskArtifact(
        getter_source=web.url("/bundle.tgz?checksum=sha256:" + "0" * 64))]
    bad.canonicalize()
    failed = servers.place(alloc_for(bad, client))
    wait_client_status(servers, failed.id, "failed")
    state = servers.task_state(failed.id, "web")
    types = [e.type for e in state.events]
    assert types.count(TaskEventType.ARTIFACT_DOWNLOAD_FAILED) == 2  # first try + 1 restart
    assert TaskEventType.STARTED not in types
    assert types[-1] == TaskEventType.NOT_RESTARTING
    failure = next(e for e in state.events if e.type == TaskEventType.ARTIFACT_DOWNLOAD_FAILED)
    assert "Checksums did not match for bundle.tgz" in failure.display_message
    assert state.failed


def test_stopping_the_allocation_ends_a_stalled_download(make_client, servers,
                                                         web: FileServer) -> None:
    web.stall("/stalled.tgz")
    client = make_client()
    client.start()
    job = one_task_job({"command": "/bin/true"}, job_type="batch")
    job.task_groups[0].tasks[0].artifacts = [TaskArtifact(getter_source=web.url("/stalled.tgz"))]
    job.canonicalize()
    alloc = servers.place(alloc_for(job, client))
    wait_for(lambda: TaskEventType.DOWNLOADING_ARTIFACTS in servers.event_types(alloc.id, "web"),
             message="the download to begin")
    servers.stop(alloc.id)
    # the server stalls for 30 s: the task is dead well before that, never started
    wait_for(lambda: servers.task_state(alloc.id, "web").state == "dead", timeout=15,
             message=f"the task to be dead: {servers.task_state(alloc.id, 'web')}")
    assert TaskEventType.STARTED not in servers.event_types(alloc.id, "web")


def test_a_restarted_task_does_not_download_again(make_client, servers,
                                                  web: FileServer) -> None:
    client = make_client()
    client.start()
    job = one_task_job({"command": "/bin/sh", "args": ["-c", "cat local/bundle/motd; exit 1"]},
                       job_type="batch",
                       restart={"attempts": 2, "delay": 10_000_000, "mode": "fail"})
    job.task_groups[0].tasks[0].artifacts = [TaskArtifact(getter_source=web.url("/bundle.tgz"))]
    job.canonicalize()
    alloc = servers.place(alloc_for(job, client))
    wait_client_status(servers, alloc.id, "failed")
    types = servers.event_types(alloc.id, "web")
    assert types.count(TaskEventType.STARTED) == 3  # the first run and two restarts
    assert types.count(TaskEventType.DOWNLOADING_ARTIFACTS) == 1
    assert web.hits("/bundle.tgz") == 1


def test_a_restarted_client_does_not_download_again(make_client, servers,
                                                    web: FileServer) -> None:
    first = make_client()
    first.start()
    job = one_task_job({"command": "/bin/sh", "args": ["-c", "exec sleep 300"]})
    job.task_groups[0].tasks[0].artifacts = [TaskArtifact(getter_source=web.url("/bundle.tgz"))]
    job.canonicalize()
    alloc = servers.place(alloc_for(job, first))
    wait_client_status(servers, alloc.id, "running")
    first.shutdown()
    second = make_client()
    second.start()
    wait_for(lambda: second.alloc_runner(alloc.id) is not None, message="alloc restored")
    updates_before = len(servers.updates)
    wait_for(lambda: len(servers.updates) > updates_before, message="status re-reported")
    assert servers.client_status(alloc.id) == "running"
    servers.stop(alloc.id)
    wait_client_status(servers, alloc.id, "complete")
    # the restored runner went through its prestart hooks: the artifact was recorded
    assert web.hits("/bundle.tgz") == 1
    assert servers.event_types(alloc.id, "web").count(
        TaskEventType.DOWNLOADING_ARTIFACTS) == 1
