"""``service list``, ``service info`` and ``service delete``: Nomad's output and exit codes."""

from __future__ import annotations

import json

import pytest

from nomadjail.structs import ServiceRegistration, to_api

ALLOC_A = "3b1e9f0e-1111-2222-3333-444444444444"
ALLOC_B = "7c2d0a1f-1111-2222-3333-444444444444"
NODE = "f1e2d3c4-aaaa-bbbb-cccc-dddddddddddd"


def registration(alloc_id: str, *, job: str = "web", port: int = 8080,
                 address: str = "10.0.0.7", tags: tuple[str, ...] = ("v1", "public"),
                 namespace: str = "default") -> dict:
    return to_api(ServiceRegistration(
        id=f"_nomad-task-{alloc_id}-nginx-web-http", service_name="web", namespace=namespace,
        node_id=NODE, datacenter="dc1", job_id=job, alloc_id=alloc_id, tags=list(tags),
        address=address, port=port, create_index=10, modify_index=10))


LIST = [{"Namespace": "default", "Services": [
    {"ServiceName": "web", "Tags": ["v1", "public"]},
    {"ServiceName": "db", "Tags": []}]}]


def test_list(run, fake):
    fake.on("GET", "/v1/services", LIST)
    result = run("service", "list")
    assert result.exit_code == 0
    assert result.output == ("Service Name  Tags\n"
                             "db            []\n"
                             "web           [public,v1]\n")


def test_list_all_namespaces_adds_a_column(run, fake):
    fake.on("GET", "/v1/services", [
        {"Namespace": "platform", "Services": [{"ServiceName": "cache", "Tags": []}]},
        *LIST])
    result = run("service", "list", "-namespace=*")
    assert result.exit_code == 0
    assert result.output == ("Service Name  Namespace  Tags\n"
                             "db            default    []\n"
                             "web           default    [public,v1]\n"
                             "cache         platform   []\n")
    assert fake.last("GET", "/v1/services").params["namespace"] == "*"


def test_list_empty_json_and_errors(run, fake):
    fake.on("GET", "/v1/services", [])
    empty = run("service", "list")
    assert (empty.exit_code, empty.output) == (0, "No service registrations found\n")
    fake.on("GET", "/v1/services", LIST)
    assert json.loads(run("service", "list", "-json").output) == LIST
    extra = run("service", "list", "web")
    assert extra.exit_code == 1
    assert "This command takes no arguments" in extra.output
    fake.on("GET", "/v1/services", status=500, text="No cluster leader")
    failed = run("service", "list")
    assert failed.exit_code == 1
    assert failed.output == ("Error listing service registrations: Unexpected response "
                             "code: 500 (No cluster leader)\n")


def test_info_table_sorted_by_job(run, fake):
    fake.on("GET", "/v1/services", [{"Namespace": "default",
                                     "Services": [{"ServiceName": "web", "Tags": []}]}])
    fake.on("GET", "/v1/service/web", [registration(ALLOC_B, job="web-b", port=9090),
                                       registration(ALLOC_A, address="fd00::7")])
    result = run("service", "info", "web")
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Job ID  Address         Tags         Node ID   Alloc ID\n"
        "web     [fd00::7]:8080  [v1,public]  f1e2d3c4  3b1e9f0e\n"
        "web-b   10.0.0.7:9090   [v1,public]  f1e2d3c4  7c2d0a1f\n")
    assert fake.last("GET", "/v1/services").params["prefix"] == "web"


def test_info_verbose(run, fake):
    fake.on("GET", "/v1/services", [{"Namespace": "default",
                                     "Services": [{"ServiceName": "web", "Tags": []}]}])
    fake.on("GET", "/v1/service/web", [registration(ALLOC_A)])
    result = run("service", "info", "-verbose", "web")
    assert result.exit_code == 0
    assert result.output == (
        f"ID           = _nomad-task-{ALLOC_A}-nginx-web-http\n"
        "Service Name = web\n"
        "Namespace    = default\n"
        "Job ID       = web\n"
        f"Alloc ID     = {ALLOC_A}\n"
        f"Node ID      = {NODE}\n"
        "Datacenter   = dc1\n"
        "Address      = 10.0.0.7:8080\n"
        "Tags         = [v1,public]\n"
        "\n")


def test_info_json_and_prefix(run, fake):
    fake.on("GET", "/v1/services", [{"Namespace": "default",
                                     "Services": [{"ServiceName": "web", "Tags": []}]}])
    fake.on("GET", "/v1/service/web", [registration(ALLOC_A)])
    result = run("service", "info", "-json", "we")  # a unique prefix names the service
    assert result.exit_code == 0
    assert json.loads(result.output) == [registration(ALLOC_A)]


def test_info_prefix_matching_several_services(run, fake):
    fake.on("GET", "/v1/services", [{"Namespace": "default", "Services": [
        {"ServiceName": "web-a", "Tags": []}, {"ServiceName": "web-b", "Tags": ["x"]}]}])
    result = run("service", "info", "web")
    assert result.exit_code == 1
    assert result.output == ("Prefix matched multiple services\n\n"
                             "Service Name  Tags\n"
                             "web-a         []\n"
                             "web-b         [x]\n")
    fake.on("GET", "/v1/service/web-a", [registration(ALLOC_A)])
    exact = run("service", "info", "web-a")  # an exact name wins over longer ones
    assert exact.exit_code == 0 and "3b1e9f0e" in exact.output


def test_info_exact_name_in_one_of_several_namespaces(run, fake):
    fake.on("GET", "/v1/services", [
        {"Namespace": "apps", "Services": [{"ServiceName": "web", "Tags": []}]},
        {"Namespace": "default", "Services": [{"ServiceName": "web-2", "Tags": []}]}])
    fake.on("GET", "/v1/service/web", [registration(ALLOC_A, namespace="apps")])
    result = run("service", "info", "-namespace=*", "web")
    assert result.exit_code == 0, result.output
    assert fake.last("GET", "/v1/service/web").params["namespace"] == "*"


def test_info_nothing_matches(run, fake):
    fake.on("GET", "/v1/services", [])
    result = run("service", "info", "nope")
    assert result.exit_code == 1
    assert result.output == ('Error listing service registrations: No service registrations '
                             'with prefix "nope" found\n')


def test_info_passes_paging_and_says_when_nothing_is_registered(run, fake):
    fake.on("GET", "/v1/services", [{"Namespace": "default",
                                     "Services": [{"ServiceName": "web", "Tags": []}]}])
    fake.on("GET", "/v1/service/web", [])
    result = run("service", "info", "-per-page=2", "-page-token=default.x", "web")
    assert (result.exit_code, result.output) == (0, "No service registrations found\n")
    params = fake.last("GET", "/v1/service/web").params
    assert (params["per_page"], params["next_token"]) == ("2", "default.x")


@pytest.mark.parametrize("args", [(), ("a", "b")])
def test_info_takes_one_argument(run, args):
    result = run("service", "info", *args)
    assert result.exit_code == 1
    assert "This command takes one argument: <service_name>" in result.output


def test_delete(run, fake):
    path = f"/v1/service/web/_nomad-task-{ALLOC_A}-nginx-web-http"
    fake.on("DELETE", path, None)
    result = run("service", "delete", "web", f"_nomad-task-{ALLOC_A}-nginx-web-http")
    assert (result.exit_code, result.output) == (0, "Successfully deleted service "
                                                    "registration\n")
    fake.on("DELETE", path, status=404, text="service registration 'x' not found")
    failed = run("service", "delete", "web", f"_nomad-task-{ALLOC_A}-nginx-web-http")
    assert failed.exit_code == 1
    assert failed.output == ("Error deleting service registration: Unexpected response "
                             "code: 404 (service registration 'x' not found)\n")
    usage = run("service", "delete", "web")
    assert usage.exit_code == 1
    assert "This command takes two arguments: <service_name> and <service_id>" in usage.output
