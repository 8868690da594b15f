"""``alloc status``, ``alloc logs`` and ``alloc stop``."""

from __future__ import annotations

import base64
import json

import pytest

from nomadjail.http.stubs import alloc_stub
from nomadjail.structs import (
    AllocMetric,
    Evaluation,
    NetworkResource,
    Port,
    Task,
    TaskEvent,
    TaskState,
    rfc3339,
    to_api,
)
from nomadjail.testing import mock_alloc, mock_job, mock_node

NOW = 1_700_000_000
TS = "2023-11-14T22:13:20Z"
ALLOC_ID = "3b1e9f0e-aaaa-bbbb-cccc-dddddddddddd"
NODE_ID = "6e1b8b8a-aaaa-bbbb-cccc-dddddddddddd"
EVAL_ID = "a0b7d7f4-aaaa-bbbb-cccc-dddddddddddd"


@pytest.fixture
def alloc():
    job = mock_job(job_id="example", count=1, cpu=500, memory_mb=256)
    job.version = 2
    node = mock_node(name="client-1")
    node.id = NODE_ID
    alloc = mock_alloc(job, node, client_status="running")
    alloc.id, alloc.eval_id = ALLOC_ID, EVAL_ID
    alloc.client_description = "Tasks are running"
    alloc.create_time = (NOW - 300) * 10**9
    alloc.modify_time = (NOW - 240) * 10**9
    alloc.allocated_resources.tasks["web"].networks = [NetworkResource(
        ip="127.0.0.1", dynamic_ports=[Port(label="http", value=23456)])]
    started = (NOW - 250) * 10**9
    alloc.task_states = {"web": TaskState(
        state="running", started_at=rfc3339(started), events=[
            TaskEvent(type="Received", time=(NOW - 260) * 10**9),
            TaskEvent(type="Task Setup", time=(NOW - 255) * 10**9,
                      message="Building Task Directory"),
            TaskEvent(type="Started", time=started)])}
    return alloc


def serve(fake, alloc):
    fake.on("GET", "/v1/allocations", [alloc_stub(alloc)])
    fake.on("GET", f"/v1/allocation/{alloc.id}", to_api(alloc))


def test_status_shows_nomads_layout_with_recent_events(run, fake, alloc):
    serve(fake, alloc)

    result = run("alloc", "status", "3b1e")

    assert result.exit_code == 0, result.output
    assert result.output == (
        "ID                  = 3b1e9f0e-aaaa-bbbb-cccc-dddddddddddd\n"
        "Eval ID             = a0b7d7f4\n"
        "Name                = example.web[0]\n"
        "Node ID             = 6e1b8b8a\n"
        "Node Name           = client-1\n"
        "Job ID              = example\n"
        "Job Version         = 2\n"
        "Client Status       = running\n"
        "Client Description  = Tasks are running\n"
        "Desired Status      = run\n"
        "Desired Description = <none>\n"
        "Created             = 5m ago\n"
        "Modified            = 4m ago\n"
        "\n"
        'Task "web" is "running"\n'
        "Task Resources:\n"
        "CPU      Memory   Disk     Addresses\n"
        "500 MHz  256 MiB  300 MiB  http: 127.0.0.1:23456\n"
        "\n"
        "Task Events:\n"
        "Started At     = 2023-11-14T22:09:10Z\n"
        "Finished At    = N/A\n"
        "Total Restarts = 0\n"
        "Last Restart   = N/A\n"
        "\n"
        "Recent Events:\n"
        "Time                  Type        Description\n"
        "2023-11-14T22:09:10Z  Started     Task started by client\n"
        "2023-11-14T22:09:05Z  Task Setup  Building Task Directory\n"
        "2023-11-14T22:09:00Z  Received    Task received by client\n")
    assert fake.last("GET", "/v1/allocations").params == {"prefix": "3b1e"}


def test_status_verbose_adds_placement_metrics(run, fake, alloc):
    alloc.metrics = AllocMetric(nodes_evaluated=3, nodes_filtered=1, allocation_time=12_000,
                                scores={"binpack": 0.5})
    serve(fake, alloc)
    result = run("alloc", "status", "-verbose", ALLOC_ID)
    assert "Evaluated Nodes     = 3\n" in result.output
    assert "Allocation Time     = 12µs\n" in result.output
    assert "Created             = 2023-11-14T22:08:20Z\n" in result.output
    assert result.output.endswith('\nPlacement Metrics\n  * Score "binpack" = 0.500000\n')


def test_status_short(run, fake, alloc):
    serve(fake, alloc)
    result = run("alloc", "status", "-short", ALLOC_ID)
    assert result.output == (
        f"ID       = {ALLOC_ID}\n"
        "Name     = example.web[0]\n"
        "Created  = 5m ago\n"
        "Modified = 4m ago\n"
        "\n"
        "Tasks\n"
        "Name  State    Last Event  Time                  Lifecycle\n"
        "web   running  Started     2023-11-14T22:09:10Z  main\n")


def test_status_terminated_task_explains_itself(run, fake, alloc):
    alloc.task_states["web"].events.append(TaskEvent(type="Terminated",
                                                     time=(NOW - 10) * 10**9, exit_code=3,
                                                     signal=9))
    serve(fake, alloc)
    result = run("alloc", "status", ALLOC_ID)
    assert "2023-11-14T22:13:10Z  Terminated  Exit Code: 3, Signal: 9\n" in result.output


def test_status_prefix_matching_several_allocations_lists_them(run, fake, alloc):
    other = mock_alloc(alloc.job, mock_node())
    other.id = "3b1e0000-0000-0000-0000-000000000000"
    other.node_id = NODE_ID
    other.create_time = other.modify_time = alloc.create_time
    fake.on("GET", "/v1/allocations", [alloc_stub(alloc), alloc_stub(other)])
    result = run("alloc", "status", "3b1e")
    assert result.exit_code == 0
    assert result.output.startswith("Prefix matched multiple allocations\n\nID        Node ID")


def test_status_of_unknown_allocation(run, fake):
    fake.on("GET", "/v1/allocations", [])
    result = run("alloc", "status", "deadbeef")
    assert result.exit_code == 1
    assert result.stderr == 'No allocation(s) with prefix or id "deadbeef" found\n'
    short = run("alloc", "status", "d")
    assert short.stderr == "Identifier must contain at least two characters.\n"


def test_status_json(run, fake, alloc):
    serve(fake, alloc)
    result = run("alloc", "status", "-json", ALLOC_ID)
    assert json.loads(result.output)["ID"] == ALLOC_ID


def frames(*chunks: bytes) -> bytes:
    return b"".join(json.dumps({"File": "alloc/logs/web.stdout.0", "Offset": 0,
                                "Data": base64.b64encode(c).decode()}).encode() + b"\n"
                    for c in chunks)


def test_logs_print_the_tasks_stdout(run, fake, alloc):
    serve(fake, alloc)
    fake.stream(f"/v1/client/fs/logs/{ALLOC_ID}", [frames(b"hello\n", b"world\n")])
    result = run("alloc", "logs", ALLOC_ID)
    assert (result.exit_code, result.output) == (0, "hello\nworld\n")
    params = fake.last("GET", f"/v1/client/fs/logs/{ALLOC_ID}").params
    assert params == {"task": "web", "type": "stdout", "origin": "start", "offset": "0",
                      "follow": "false", "plain": "false", "namespace": "default"}


def test_logs_stderr_of_a_named_task(run, fake, alloc):
    serve(fake, alloc)
    fake.stream(f"/v1/client/fs/logs/{ALLOC_ID}", [frames(b"oops\n")])
    result = run("logs", "-stderr", ALLOC_ID, "web")
    assert result.output == "oops\n"
    assert fake.last("GET", f"/v1/client/fs/logs/{ALLOC_ID}").params["type"] == "stderr"


def test_logs_tail_n_shows_the_last_lines(run, fake, alloc):
    serve(fake, alloc)
    fake.stream(f"/v1/client/fs/logs/{ALLOC_ID}", [frames(b"1\n2\n3\n", b"4\n5\n")])
    result = run("alloc", "logs", "-tail", "-n", "2", ALLOC_ID)
    assert result.output == "4\n5\n"
    params = fake.last("GET", f"/v1/client/fs/logs/{ALLOC_ID}").params
    assert (params["origin"], params["offset"]) == ("end", "240")


def test_logs_tail_c_reads_bytes_from_the_end(run, fake, alloc):
    serve(fake, alloc)
    fake.stream(f"/v1/client/fs/logs/{ALLOC_ID}", [frames(b"3\n4\n5\n")])
    result = run("alloc", "logs", "-tail", "-c=6", ALLOC_ID)
    assert result.output == "3\n4\n5\n"
    params = fake.last("GET", f"/v1/client/fs/logs/{ALLOC_ID}").params
    assert (params["origin"], params["offset"]) == ("end", "6")


def test_logs_follow_streams_stdout_and_stderr(run, fake, alloc):
    serve(fake, alloc)
    fake.handle("GET", f"/v1/client/fs/logs/{ALLOC_ID}", lambda request: fake.Answer(
        chunks=[frames(request.params["type"][3:].encode() + b"\n")]))
    result = run("alloc", "logs", "-f", ALLOC_ID)
    assert result.exit_code == 0
    assert (result.stdout, result.stderr) == ("out\n", "err\n")
    kinds = {r.params["type"]: r.params for r in fake.requests if "logs" in r.path}
    assert set(kinds) == {"stdout", "stderr"}
    assert all(p["follow"] == "true" and p["origin"] == "end" for p in kinds.values())


def test_logs_need_a_task_when_the_group_has_several(run, fake, alloc):
    alloc.job.task_groups[0].tasks.append(Task(name="sidecar", driver="raw_exec"))
    serve(fake, alloc)
    result = run("alloc", "logs", ALLOC_ID)
    assert result.exit_code == 1
    assert result.stderr == ('Failed to validate task: Allocation "3b1e9f0e" is running the '
                             "following tasks:\n  * web\n  * sidecar\n\nPlease specify the "
                             "task.\n")


def test_logs_unknown_task_flag(run, fake, alloc):
    serve(fake, alloc)
    result = run("alloc", "logs", "-task", "db", ALLOC_ID)
    assert result.exit_code == 1
    assert result.stderr == "Failed to validate task: Could not find task named: db, found:\nweb\n"


def test_logs_error_from_the_client(run, fake, alloc):
    serve(fake, alloc)
    fake.on("GET", f"/v1/client/fs/logs/{ALLOC_ID}", status=500, text="no such file")
    result = run("alloc", "logs", ALLOC_ID)
    assert result.exit_code == 1
    assert result.stderr == ("Failed to read stdout file: error reading file: Unexpected "
                             "response code: 500 (no such file)\n")


def test_stop_monitors_the_replacement_evaluation(run, fake, alloc):
    serve(fake, alloc)
    fake.on("PUT", f"/v1/allocation/{ALLOC_ID}/stop", {"EvalID": EVAL_ID, "Index": 40})
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}",
            to_api(Evaluation(id=EVAL_ID, job_id="example", type="service", status="complete",
                              triggered_by="alloc-stop", create_index=40)))
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}/allocations", [])
    result = run("alloc", "stop", ALLOC_ID)
    assert result.exit_code == 0
    assert result.output.endswith(
        f'==> {TS}: Evaluation "a0b7d7f4" finished with status "complete"\n')
    assert fake.last("PUT", f"/v1/allocation/{ALLOC_ID}/stop").params == {"namespace": "default"}


def test_stop_detach(run, fake, alloc):
    serve(fake, alloc)
    fake.on("PUT", f"/v1/allocation/{ALLOC_ID}/stop", {"EvalID": EVAL_ID})
    result = run("alloc", "stop", "-detach", ALLOC_ID)
    assert (result.exit_code, result.output) == (0, EVAL_ID + "\n")


def test_status_with_live_usage(run, fake, alloc):
    serve(fake, alloc)
    fake.on("GET", f"/v1/client/allocation/{ALLOC_ID}/stats", {"Tasks": {"web": {
        "ResourceUsage": {
            "MemoryStats": {"RSS": 31457280, "Measured": ["RSS", "Swap"], "Swap": 0},
            "CpuStats": {"TotalTicks": 12.7, "Percent": 1.5, "Measured": ["Percent"]}}}}})
    result = run("alloc", "status", "-stats", ALLOC_ID)
    assert ("CPU         Memory          Disk     Addresses\n"
            "12/500 MHz  30 MiB/256 MiB  300 MiB  http: 127.0.0.1:23456\n"
            "\n"
            "Memory Stats\n"
            "RSS     Swap\n"
            "30 MiB  0 B\n"
            "\n"
            "CPU Stats\n"
            "Percent\n"
            "1.50%\n") in result.output
