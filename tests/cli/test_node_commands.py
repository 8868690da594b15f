"""``node status``, ``node drain``, ``node eligibility``, ``server members``, ``eval status``."""

from __future__ import annotations

import json

import pytest

from nomadjail.http.stubs import node_stub
from nomadjail.structs import (
    AllocMetric,
    DesiredTransition,
    DrainStrategy,
    Evaluation,
    NodeEvent,
    to_api,
)
from nomadjail.testing import mock_alloc, mock_job, mock_node

NOW = 1_700_000_000
TS = "2023-11-14T22:13:20Z"
NODE_ID = "f1e2d3c4-aaaa-bbbb-cccc-dddddddddddd"


@pytest.fixture
def node():
    node = mock_node(name="client-1", cpu=4000, memory_mb=8192)
    node.id = NODE_ID
    node.events = [NodeEvent(message="Node registered", subsystem="Cluster",
                             timestamp="2023-11-14T22:00:00Z")]
    return node


def test_node_list(run, fake, node):
    other = mock_node(name="client-2", datacenter="dc2")
    other.id = "0a1b2c3d-0000-0000-0000-000000000000"
    other.node_class, other.status, other.scheduling_eligibility = "gpu", "down", "ineligible"
    fake.on("GET", "/v1/nodes", [node_stub(node), node_stub(other)])
    result = run("node", "status")
    assert result.exit_code == 0
    assert result.output == (
        "ID        Node Pool  DC   Name      Class   Drain  Eligibility  Status\n"
        "f1e2d3c4  default    dc1  client-1  <none>  false  eligible     ready\n"
        "0a1b2c3d  default    dc2  client-2  gpu     false  ineligible   down\n")


def test_node_list_quiet_and_empty(run, fake, node):
    fake.on("GET", "/v1/nodes", [node_stub(node)])
    assert run("node", "status", "-quiet").output == NODE_ID + "\n"
    fake.on("GET", "/v1/nodes", [])
    assert run("node", "status").output == "No nodes registered\n"


def test_one_node(run, fake, node):
    job = mock_job(job_id="example", cpu=500, memory_mb=256)
    alloc = mock_alloc(job, node, client_status="running")
    alloc.id = "3b1e9f0e-0000-0000-0000-000000000000"
    alloc.create_time = alloc.modify_time = (NOW - 60) * 10**9
    fake.on("GET", "/v1/nodes", [node_stub(node)])
    fake.on("GET", f"/v1/node/{NODE_ID}", to_api(node))
    fake.on("GET", f"/v1/node/{NODE_ID}/allocations", [to_api(alloc)])
    result = run("node", "status", "f1e2")
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"ID              = {NODE_ID}\n"
        "Name            = client-1\n"
        "Node Pool       = default\n"
        "Class           = <none>\n"
        "DC              = dc1\n"
        "Drain           = false\n"
        "Eligibility     = eligible\n"
        "Status          = ready\n"
        "CSI Controllers = <none>\n"
        "CSI Drivers     = <none>\n"
        "Host Volumes    = <none>\n"
        "Host Networks   = <none>\n"
        "CSI Volumes     = <none>\n"
        "Driver Status   = mock_driver,raw_exec\n"
        "\n"
        "Node Events\n"
        "Time                  Subsystem  Message\n"
        "2023-11-14T22:00:00Z  Cluster    Node registered\n"
        "\n"
        "Allocated Resources\n"
        "CPU           Memory           Disk             Alloc Count\n"
        "500/4000 MHz  256 MiB/8.0 GiB  300 MiB/100 GiB  1\n"
        "\n"
        "Allocations\n"
        "ID        Node ID   Task Group  Version  Desired  Status   Created  Modified\n"
        "3b1e9f0e  f1e2d3c4  web         0        run      running  1m ago   1m ago\n")


def test_one_node_json_hides_the_secret(run, fake, node):
    fake.on("GET", "/v1/nodes", [node_stub(node)])
    fake.on("GET", f"/v1/node/{NODE_ID}", to_api(node))
    data = json.loads(run("node", "status", "-json", NODE_ID).output)
    assert data["ID"] == NODE_ID and data["SecretID"] == ""


def test_self_uses_the_agents_node(run, fake, node):
    fake.on("GET", "/v1/agent/self", {"stats": {"client": {"node_id": NODE_ID}}})
    fake.on("GET", "/v1/nodes", [node_stub(node)])
    fake.on("GET", f"/v1/node/{NODE_ID}", to_api(node))
    fake.on("GET", f"/v1/node/{NODE_ID}/allocations", [])
    result = run("node", "status", "-self", "-short")
    assert result.exit_code == 0
    assert f"ID              = {NODE_ID}\n" in result.output
    assert fake.last("GET", "/v1/nodes").params == {"prefix": NODE_ID}


def test_self_on_a_server_only_agent(run, fake):
    fake.on("GET", "/v1/agent/self", {"stats": {"nomad": {}}})
    result = run("node", "status", "-self")
    assert (result.exit_code, result.stderr) == (1, "Nomad not running in client mode\n")


def test_unknown_node(run, fake):
    fake.on("GET", "/v1/nodes", [])
    result = run("node", "status", "abcd")
    assert (result.exit_code, result.stderr) == (1, 'No node(s) with prefix "abcd" found\n')


def test_drain_enable_detach(run, fake, node):
    fake.on("GET", "/v1/nodes", [node_stub(node)])
    fake.on("GET", f"/v1/node/{NODE_ID}", to_api(node))
    fake.on("PUT", f"/v1/node/{NODE_ID}/drain", {"NodeModifyIndex": 5})
    result = run("node", "drain", "-enable", "-deadline", "30m", "-detach", "-yes",
                 "-m", "kernel upgrade", "f1e2")
    assert (result.exit_code, result.output) == (0, f'Node "{NODE_ID}" drain strategy set\n')
    body = fake.last("PUT", f"/v1/node/{NODE_ID}/drain").body
    assert body == {"NodeID": NODE_ID, "MarkEligible": True, "Meta": {"message": "kernel upgrade"},
                    "DrainSpec": {"Deadline": 30 * 60 * 10**9, "IgnoreSystemJobs": False}}


def test_drain_disable(run, fake, node):
    fake.on("GET", "/v1/nodes", [node_stub(node)])
    fake.on("GET", f"/v1/node/{NODE_ID}", to_api(node))
    fake.on("PUT", f"/v1/node/{NODE_ID}/drain", {})
    result = run("node", "drain", "-disable", "-keep-ineligible", NODE_ID)
    assert result.output == f'Node "{NODE_ID}" drain strategy unset\n'
    body = fake.last("PUT", f"/v1/node/{NODE_ID}/drain").body
    assert (body["DrainSpec"], body["MarkEligible"]) == (None, False)


def test_drain_disable_keeps_the_drains_metadata_and_adds_its_own(run, fake, node):
    from nomadjail.structs import DrainMetadata

    node.last_drain = DrainMetadata(status="draining", meta={"message": "kernel"})
    fake.on("GET", "/v1/nodes", [node_stub(node)])
    fake.on("GET", f"/v1/node/{NODE_ID}", to_api(node))
    fake.on("PUT", f"/v1/node/{NODE_ID}/drain", {})
    result = run("node", "drain", "-disable", "-m", "not today", "-meta", "ticket=42", NODE_ID)
    assert result.exit_code == 0
    assert fake.last("PUT", f"/v1/node/{NODE_ID}/drain").body["Meta"] == {
        "message": "kernel", "cancel_message": "not today", "ticket": "42"}


def lines_of(output: str, *needles: str) -> list[str]:
    """The output lines that contain one of ``needles``, timestamps cut off."""
    return [line.split(": ", 1)[1] for line in output.splitlines()
            if any(n in line for n in needles)]


@pytest.fixture
def draining_alloc(node):
    """One allocation's life through a drain, as /v1/node/:id/allocations shows it."""
    job = mock_job(job_id="example")
    alloc = mock_alloc(job, node, client_status="running")
    alloc.id = "3b1e9f0e-0000-0000-0000-000000000000"
    migrating = to_api(alloc)
    migrating["DesiredTransition"] = to_api(DesiredTransition(migrate=True))
    stopping = dict(migrating, DesiredStatus="stop")
    stopped = dict(stopping, ClientStatus="complete")
    return alloc.id, [to_api(alloc), migrating, stopping, stopped]


def test_drain_monitor_reports_until_done(run, fake, node, draining_alloc):
    alloc_id, life = draining_alloc
    draining = to_api(node)
    draining["DrainStrategy"] = to_api(DrainStrategy(deadline=3600 * 10**9))
    fake.on("GET", "/v1/nodes", [node_stub(node)])
    fake.on("GET", f"/v1/node/{NODE_ID}", to_api(node), draining, draining, to_api(node))
    fake.on("PUT", f"/v1/node/{NODE_ID}/drain", {}, index=50)
    fake.on("GET", f"/v1/node/{NODE_ID}/allocations", *([a] for a in life))

    result = run("node", "drain", "-enable", "-yes", NODE_ID)

    assert result.exit_code == 0
    assert result.output.splitlines()[:2] == [
        f"{TS}: Ctrl-C to stop monitoring: will not cancel the node drain",
        f'{TS}: Node "{NODE_ID}" drain strategy set']
    assert all(line.startswith(f"{TS}: ") for line in result.output.splitlines())
    # The node and its allocations are watched side by side, as in Nomad: each
    # side's lines come in order, the two sides interleave as they happen.
    assert lines_of(result.output, "Alloc ", "All allocations") == [
        f'Alloc "{alloc_id}" marked for migration', f'Alloc "{alloc_id}" draining',
        f'Alloc "{alloc_id}" status running -> complete',
        f'All allocations on node "{NODE_ID}" have stopped']
    assert lines_of(result.output, "Drain complete") == [f"Drain complete for node {NODE_ID}"]
    first_alloc_read = [r for r in fake.requests if r.path.endswith("/allocations")][0]
    assert "index" not in first_alloc_read.params  # the first read sees what runs now
    node_reads = [r for r in fake.requests if r.path == f"/v1/node/{NODE_ID}"]
    assert node_reads[1].params["index"] == "50"  # from the drain write on


def test_drain_monitor_says_when_the_strategy_changes_or_the_node_goes_down(run, fake, node):
    first = to_api(node)
    first["DrainStrategy"] = to_api(DrainStrategy(
        deadline=3600 * 10**9, force_deadline="2023-11-14T23:13:20.5Z"))
    changed = dict(first, Status="down", DrainStrategy=to_api(DrainStrategy(
        deadline=7200 * 10**9, ignore_system_jobs=True,
        force_deadline="2023-11-15T00:13:20Z")))
    fake.on("GET", "/v1/nodes", [node_stub(node)])
    fake.on("GET", f"/v1/node/{NODE_ID}", first, first, changed, to_api(node))
    fake.on("GET", f"/v1/node/{NODE_ID}/allocations", [])

    result = run("node", "drain", "-monitor", NODE_ID)

    assert result.exit_code == 0
    assert lines_of(result.output, "Node ", "Drain complete", "Monitoring") == [
        f'Monitoring node "{NODE_ID}": Ctrl-C to detach monitoring',
        f'Node "{NODE_ID}" down',
        f'Node "{NODE_ID}" drain updated: drain ignoring system jobs and deadline at '
        "2023-11-15 00:13:20 +0000 UTC",
        f"Drain complete for node {NODE_ID}"]
    assert lines_of(result.output, "All allocations") == [
        f'All allocations on node "{NODE_ID}" have stopped']


def test_drain_monitor_without_a_drain(run, fake, node):
    fake.on("GET", "/v1/nodes", [node_stub(node)])
    fake.on("GET", f"/v1/node/{NODE_ID}", to_api(node))
    result = run("node", "drain", "-monitor", NODE_ID)
    assert (result.exit_code, result.stderr) == (0, "No drain strategy set\n")


def test_drain_monitor_stops_at_the_first_error(run, fake, node, draining_alloc):
    _, life = draining_alloc
    draining = to_api(node)
    draining["DrainStrategy"] = to_api(DrainStrategy(deadline=3600 * 10**9))
    fake.on("GET", "/v1/nodes", [node_stub(node)])
    fake.on("GET", f"/v1/node/{NODE_ID}", draining)  # a drain that never ends
    calls = []

    def allocations(req):
        calls.append(req)
        if len(calls) == 1:
            return fake.Answer(body=[life[0]])
        return fake.Answer(status=500, raw=b"state store exploded")

    fake.handle("GET", f"/v1/node/{NODE_ID}/allocations", allocations)
    result = run("node", "drain", "-monitor", NODE_ID)
    assert result.exit_code == 0  # as Nomad: the monitor reports, the command is done
    assert lines_of(result.stderr, "Error") == [
        "Error monitoring allocations: Unexpected response code: 500 (state store exploded)"]


def test_drain_monitor_with_ignore_system_does_not_wait_for_system_allocations(
        run, fake, node):
    from nomadjail.testing import mock_system_job

    system = mock_alloc(mock_system_job(job_id="agent"), node, client_status="running")
    draining = to_api(node)
    draining["DrainStrategy"] = to_api(DrainStrategy(deadline=-10**9, ignore_system_jobs=True))
    fake.on("GET", "/v1/nodes", [node_stub(node)])
    fake.on("GET", f"/v1/node/{NODE_ID}", draining, to_api(node))
    fake.on("GET", f"/v1/node/{NODE_ID}/allocations", [to_api(system)])
    result = run("node", "drain", "-monitor", "-ignore-system", NODE_ID)
    assert lines_of(result.output, "All allocations") == [
        f'All allocations on node "{NODE_ID}" have stopped']


def test_drain_needs_enable_or_disable(run):
    result = run("node", "drain", NODE_ID)
    assert result.exit_code == 1
    assert result.stderr == ("Either the '-enable' or '-disable' flag must be set, unless using "
                             "'-monitor'\nFor additional help try 'nomadjail node drain -help'\n")


def test_drain_rejects_bad_deadline(run, fake, node):
    result = run("node", "drain", "-enable", "-deadline=soon", NODE_ID)
    assert result.exit_code == 1
    assert result.stderr.startswith('Failed to parse deadline "soon"')


def test_eligibility(run, fake, node):
    fake.on("GET", "/v1/nodes", [node_stub(node)])
    fake.on("GET", f"/v1/node/{NODE_ID}", to_api(node))
    fake.on("PUT", f"/v1/node/{NODE_ID}/eligibility", {"NodeModifyIndex": 9})
    result = run("node", "eligibility", "-disable", NODE_ID)
    assert result.output == (f'Node "{NODE_ID}" scheduling eligibility set: ineligible for '
                             "scheduling\n")
    assert fake.last("PUT", f"/v1/node/{NODE_ID}/eligibility").body == {
        "NodeID": NODE_ID, "Eligibility": "ineligible"}
    both = run("node", "eligibility", "-enable", "-disable", NODE_ID)
    assert both.exit_code == 1


def member(name, addr, leader_port="4647", status="alive"):
    return {"Name": name, "Addr": addr, "Port": 4648, "Status": status, "ProtocolCur": 2,
            "Tags": {"region": "global", "dc": "dc1", "build": "0.1.0", "raft_vsn": "3",
                     "port": leader_port, "role": "nomad"}}


def test_server_members(run, fake):
    fake.on("GET", "/v1/agent/members", {
        "ServerName": "b.global", "ServerRegion": "global", "ServerDC": "dc1",
        "Members": [member("b.global", "10.0.0.2"), member("a.global", "10.0.0.1")]})
    fake.on("GET", "/v1/status/leader", "10.0.0.2:4647")
    result = run("server", "members")
    assert result.exit_code == 0
    assert result.output == (
        "Name      Address   Port  Status  Leader  Raft Version  Build  Datacenter  Region\n"
        "a.global  10.0.0.1  4648  alive   false   3             0.1.0  dc1         global\n"
        "b.global  10.0.0.2  4648  alive   true    3             0.1.0  dc1         global\n")
    assert fake.last("GET", "/v1/status/leader").params == {"region": "global"}


def test_server_members_without_a_leader_warns(run, fake):
    fake.on("GET", "/v1/agent/members", {"Members": [member("a.global", "10.0.0.1")]})
    fake.on("GET", "/v1/status/leader", status=500, text="No cluster leader")
    result = run("server", "members")
    assert result.exit_code == 1
    assert "a.global  10.0.0.1  4648  alive   false" in result.output
    assert result.stderr == ('Error determining leaders: Region "global": Unexpected response '
                             "code: 500 (No cluster leader)\n")


EVAL_ID = "a0b7d7f4-aaaa-bbbb-cccc-dddddddddddd"


def test_eval_status_with_failed_placements(run, fake):
    evaluation = Evaluation(
        id=EVAL_ID, namespace="default", priority=50, type="service",
        triggered_by="job-register", job_id="example", status="complete",
        blocked_eval="5ab1ce02-0000-0000-0000-000000000000",
        failed_tg_allocs={"web": AllocMetric(nodes_evaluated=0)},
        create_time=(NOW - 30) * 10**9, modify_time=(NOW - 29) * 10**9)
    fake.on("GET", "/v1/evaluations", [to_api(evaluation)])
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}", to_api(evaluation))
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}/allocations", [])
    result = run("eval", "status", "a0b7")
    assert result.exit_code == 0
    assert result.output == (
        "ID                 = a0b7d7f4\n"
        "Create Time        = 30s ago\n"
        "Modify Time        = 29s ago\n"
        "Status             = complete\n"
        "Status Description = complete\n"
        "Type               = service\n"
        "TriggeredBy        = job-register\n"
        "Job ID             = example\n"
        "Namespace          = default\n"
        "Priority           = 50\n"
        "Placement Failures = true\n"
        "Previous Eval      = <none>\n"
        "Next Eval          = <none>\n"
        "Blocked Eval       = 5ab1ce02\n"
        "\n"
        "Failed Placements\n"
        'Task Group "web" (failed to place 1 allocation):\n'
        "  * No nodes were eligible for evaluation\n"
        "\n"
        'Evaluation "5ab1ce02" waiting for additional capacity to place remainder\n')
    assert fake.last("GET", "/v1/evaluations").params == {"prefix": "a0b7"}


def test_eval_status_prefix_matching_several(run, fake):
    first = Evaluation(id="a0b7d7f4-0000-0000-0000-000000000000", job_id="x", status="complete",
                       priority=50, triggered_by="job-register", namespace="default")
    second = Evaluation(id="a0b70000-0000-0000-0000-000000000000", job_id="y", status="pending",
                        priority=50, triggered_by="node-update", namespace="default")
    fake.on("GET", "/v1/evaluations", [to_api(first), to_api(second)])
    result = run("eval", "status", "a0b7")
    assert result.exit_code == 1
    assert result.stderr == (
        "Prefix matched multiple evaluations\n\n"
        "ID        Priority  Triggered By  Job ID  Namespace  Node ID  Status    "
        "Placement Failures\n"
        "a0b7d7f4  50        job-register  x       default    <none>   complete  false\n"
        "a0b70000  50        node-update   y       default    <none>   pending   false\n")
