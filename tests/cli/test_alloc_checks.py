"""``alloc checks`` and the "Nomad Service Checks" section of ``alloc status``, against a
scripted API: Nomad's layout, ``-json``, and every way the arguments can be wrong."""

from __future__ import annotations

import json

from nomadjail.http.stubs import alloc_stub
from nomadjail.structs import to_api
from nomadjail.testing import mock_alloc, mock_job, mock_node

from .conftest import NOW

ALLOC_ID = "3b1e9f0e-aaaa-bbbb-cccc-dddddddddddd"
CHECK_HTTP = "4e1f" + "0" * 60
CHECK_TCP = "9a2b" + "1" * 60
CHECKS = {
    CHECK_HTTP: {"ID": CHECK_HTTP, "Mode": "healthiness", "Status": "failure",
                 "StatusCode": 503, "Output": "down for maintenance",
                 "Timestamp": int(NOW) - 5, "Group": "example.web[0]", "Task": "web",
                 "Service": "www", "Check": "alive"},
    CHECK_TCP: {"ID": CHECK_TCP, "Mode": "readiness", "Status": "success",
                "Output": "nomad: tcp ok", "Timestamp": int(NOW) - 3,
                "Group": "example.web[0]", "Service": "db", "Check": "port"},
}


def serve(fake, *, checks=None, status=200):
    job = mock_job(job_id="example", count=1)
    alloc = mock_alloc(job, mock_node(name="client-1"), client_status="running")
    alloc.id = ALLOC_ID
    fake.on("GET", "/v1/allocations", [alloc_stub(alloc)])
    fake.on("GET", f"/v1/allocation/{ALLOC_ID}", to_api(alloc))
    if status == 200:
        fake.on("GET", f"/v1/client/allocation/{ALLOC_ID}/checks",
                CHECKS if checks is None else checks)
    else:
        fake.on("GET", f"/v1/client/allocation/{ALLOC_ID}/checks", status=status,
                text=f'Unknown allocation "{ALLOC_ID}"')
    return alloc


def test_checks_are_listed_as_nomad_lists_them(run, fake):
    serve(fake)
    result = run("alloc", "checks", "3b1e")
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Status of 2 Nomad Service Checks\n"
        "\n"
        f"ID        = {CHECK_TCP}\n"
        "Name      = port\n"
        "Group     = example.web[0]\n"
        "Task      = (group)\n"
        "Service   = db\n"
        "Status    = success\n"
        "Mode      = readiness\n"
        "Timestamp = 2023-11-14T22:13:17Z\n"
        "Output    = nomad: tcp ok\n"
        "\n"
        f"ID         = {CHECK_HTTP}\n"
        "Name       = alive\n"
        "Group      = example.web[0]\n"
        "Task       = web\n"
        "Service    = www\n"
        "Status     = failure\n"
        "StatusCode = 503\n"
        "Mode       = healthiness\n"
        "Timestamp  = 2023-11-14T22:13:15Z\n"
        "Output     = down for maintenance\n"
        "\n")
    assert fake.last("GET", f"/v1/client/allocation/{ALLOC_ID}/checks").params == {
        "namespace": "default"}


def test_json_prints_the_results_by_check_id(run, fake):
    serve(fake)
    result = run("alloc", "checks", "-json", ALLOC_ID)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == CHECKS


def test_an_allocation_without_nomad_checks(run, fake):
    serve(fake, checks={})
    result = run("alloc", "checks", ALLOC_ID)
    assert (result.exit_code, result.output) == (0, "Status of 0 Nomad Service Checks\n\n")


def test_wrong_arguments_are_refused_saying_why(run, fake):
    serve(fake)
    none = run("alloc", "checks")
    assert none.exit_code == 1
    assert none.output == ("An allocation ID is required\n"
                           "For additional help try 'nomadjail alloc checks -help'\n")
    two = run("alloc", "checks", ALLOC_ID, "web")
    assert two.exit_code == 1
    assert two.output.startswith("This command takes one argument (allocation ID)\n")
    short = run("alloc", "checks", "3")
    assert (short.exit_code, short.output) == (
        1, "Alloc ID must contain at least two characters.\n")
    fake.on("GET", "/v1/allocations", [])
    missing = run("alloc", "checks", "ffff")
    assert missing.exit_code == 1
    assert missing.output == 'No allocation(s) with prefix or id "ffff" found\n'
    assert fake.paths().count(f"/v1/client/allocation/{ALLOC_ID}/checks") == 0


def test_a_client_that_cannot_answer_is_reported(run, fake):
    serve(fake, status=404)
    result = run("alloc", "checks", ALLOC_ID)
    assert result.exit_code == 1
    assert result.output == ("Error querying allocation checks: Unexpected response code: "
                             f'404 (Unknown allocation "{ALLOC_ID}")\n')


def test_alloc_status_has_a_nomad_service_checks_section(run, fake):
    serve(fake)
    result = run("alloc", "status", ALLOC_ID)
    assert result.exit_code == 0, result.output
    assert result.output.endswith(
        "\n"
        "Nomad Service Checks:\n"
        "Service  Task     Name   Mode         Status\n"
        "db       (group)  port   readiness    success\n"
        "www      web      alive  healthiness  failure\n")  # (the mock has no task states)


def test_alloc_status_leaves_the_section_out_without_checks_or_an_answer(run, fake):
    serve(fake, checks={})
    assert "Nomad Service Checks" not in run("alloc", "status", ALLOC_ID).output
    serve(fake, status=404)
    result = run("alloc", "status", ALLOC_ID)
    assert result.exit_code == 0 and "Nomad Service Checks" not in result.output
