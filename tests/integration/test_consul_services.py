"""Services end to end: a real agent process registers its jobs' services with Consul
(the double, which runs their checks), deployments wait for those checks, Consul going
away and coming back, and a client killed with ``kill -9`` that restarts without
duplicating or forgetting anything."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from nomadjail.structs import (
    SECOND,
    Job,
    NetworkResource,
    Port,
    Resources,
    RestartPolicy,
    Task,
    TaskGroup,
    UpdateStrategy,
    to_api,
)
from nomadjail.structs.services import Service, ServiceCheck
from nomadjail.testing import AgentProcess, make_agent, wait_for

from ..doubles.consul import ConsulDouble
from ..doubles.web import HealthEndpoint

HTTP_SERVER = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "${NOMAD_PORT_http}"]


def service_job(job_id: str, services: list[Service], *, count: int = 1,
                command: list[str] | None = None, update: UpdateStrategy | None = None,
                check_restart_policy: RestartPolicy | None = None) -> dict[str, Any]:
    """A raw_exec job whose group has a dynamic ``http`` port and ``services``; its task
    serves HTTP on it (or runs ``command``)."""
    argv = command or HTTP_SERVER
    job = Job(id=job_id, datacenters=["*"], update=update, task_groups=[TaskGroup(
        name="web", count=count, services=services, restart_policy=check_restart_policy,
        networks=[NetworkResource(dynamic_ports=[Port(label="http")])],
        tasks=[Task(name="server", driver="raw_exec",
                    config={"command": argv[0], "args": argv[1:]},
                    kill_timeout=2 * SECOND, resources=Resources(cpu=20, memory_mb=32))])])
    return {"Job": to_api(job)}


def http_check(**kwargs: Any) -> ServiceCheck:
    return ServiceCheck(**{"name": "alive", "type": "http", "path": "/", "interval": SECOND,
                           "timeout": SECOND, **kwargs})


def submit(agent: AgentProcess, body: dict[str, Any]) -> dict[str, Any]:
    answer = agent.request("POST", "/v1/jobs", body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def allocs(agent: AgentProcess, job_id: str, status: str = "running") -> list[dict[str, Any]]:
    return [a for a in agent.json(f"/v1/job/{job_id}/allocations")
            if a["ClientStatus"] == status and a["DesiredStatus"] == "run"]


def task_services(double: ConsulDouble) -> dict[str, dict[str, Any]]:
    return {sid: s for sid, s in double.services.items() if sid.startswith("_nomad-task-")}


@pytest.fixture(scope="module")
def consul() -> Iterator[ConsulDouble]:
    double = ConsulDouble().start()
    try:
        yield double
    finally:
        double.close()


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory,
          consul: ConsulDouble) -> Iterator[AgentProcess]:
    process = make_agent(tmp_path_factory.mktemp("consul-agent"), config={
        "consul": {"address": consul.address, "auto_advertise": False},
        "client": {"network_interface": "lo"}})
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def purge(agent: AgentProcess) -> Iterator[Any]:
    created: list[str] = []
    yield created.append
    for job_id in created:
        agent.request("DELETE", f"/v1/job/{job_id}", purge="true")


def test_a_group_service_registers_passes_its_check_and_goes_with_job_stop(agent, consul,
                                                                          purge):
    purge("www")
    submit(agent, service_job("www", [Service(
        name="www", port_label="http", tags=["traefik.enable=true", "web"],
        checks=[http_check()])]))
    alloc = wait_for(lambda: (allocs(agent, "www") or [None])[0], timeout=20,
                     message="the allocation running")
    full = agent.json(f"/v1/allocation/{alloc['ID']}")
    port = full["AllocatedResources"]["Shared"]["Ports"][0]["Value"]
    sid = f"_nomad-task-{alloc['ID']}-group-web-www-http"
    service = wait_for(lambda: task_services(consul).get(sid), timeout=20,
                       message="the service in Consul")
    assert (service["Service"], service["Address"], service["Port"], service["Tags"]) == (
        "www", "127.0.0.1", port, ["traefik.enable=true", "web"])
    [check] = [c for c in consul.agent_checks().values() if c["ServiceID"] == sid]
    assert check["Name"] == "alive" and check["Type"] == "http"
    wait_for(lambda: consul.check_status(check["CheckID"]) == "passing", timeout=20,
             message="the check to pass (the double probes the task's HTTP server)")
    assert [entry["Service"]["ID"] for entry in consul.health("www", passing=True)] == [sid]

    answer = agent.request("DELETE", "/v1/job/www")
    assert answer.status_code == 200, answer.text
    wait_for(lambda: sid not in consul.services, timeout=20,
             message="the service gone after job stop")
    assert check["CheckID"] not in consul.agent_checks()


def test_a_deployment_is_healthy_only_once_its_check_passes(agent, consul, purge):
    purge("gated")
    endpoint = HealthEndpoint()
    endpoint.status = 500
    try:
        submit(agent, service_job(
            "gated", [Service(name="gated", port_label=str(endpoint.port),
                              checks=[http_check(path="/health")])],
            command=["/bin/sleep", "300"],
            update=UpdateStrategy(max_parallel=1, health_check="checks",
                                  min_healthy_time=SECOND // 2, healthy_deadline=60 * SECOND)))
        alloc = wait_for(lambda: (allocs(agent, "gated") or [None])[0], timeout=20,
                         message="the allocation running")
        # The check has failed a few times while the task ran past min_healthy_time...
        wait_for(lambda: endpoint.hits >= 3, timeout=20, message="three failed probes")
        current = agent.json(f"/v1/allocation/{alloc['ID']}")
        assert (current.get("DeploymentStatus") or {}).get("Healthy") is None
        # ... and once it passes, the allocation is healthy and the deployment done.
        endpoint.status = 200
        wait_for(lambda: (agent.json(f"/v1/allocation/{alloc['ID']}").get("DeploymentStatus")
                          or {}).get("Healthy") is True, timeout=20,
                 message="the allocation healthy")
        wait_for(lambda: agent.json("/v1/job/gated/deployment")["Status"] == "successful",
                 timeout=20, message="the deployment successful")
    finally:
        endpoint.close()


def test_a_deployment_whose_check_never_passes_fails(agent, consul, purge):
    purge("doomed")
    endpoint = HealthEndpoint()
    endpoint.status = 503
    try:
        submit(agent, service_job(
            "doomed", [Service(name="doomed", port_label=str(endpoint.port),
                               checks=[http_check(path="/health")])],
            command=["/bin/sleep", "300"],
            update=UpdateStrategy(max_parallel=1, health_check="checks",
                                  min_healthy_time=SECOND // 2, healthy_deadline=8 * SECOND,
                                  progress_deadline=0)))
        alloc = wait_for(lambda: (allocs(agent, "doomed") or [None])[0], timeout=20,
                         message="the allocation running")
        wait_for(lambda: (agent.json(f"/v1/allocation/{alloc['ID']}").get("DeploymentStatus")
                          or {}).get("Healthy") is False, timeout=20,
                 message="the allocation unhealthy at its deadline")
        deployment = wait_for(lambda: (lambda d: d if d["Status"] == "failed" else None)(
            agent.json("/v1/job/doomed/deployment")), timeout=20, message="a failed deployment")
        assert deployment["StatusDescription"] == "Failed due to unhealthy allocations"
        events = agent.json(f"/v1/allocation/{alloc['ID']}")["TaskStates"]["server"]["Events"]
        unhealthy = [e for e in events if e["Type"] == "Alloc Unhealthy"]
        assert unhealthy and unhealthy[0]["DisplayMessage"] == (
            "Services not healthy by deadline: doomed")
    finally:
        endpoint.close()


def test_consul_down_is_a_task_event_and_the_service_registers_once_it_is_back(agent, consul,
                                                                               purge):
    purge("patient")
    consul.stop()
    try:
        submit(agent, service_job("patient", [Service(name="patient", port_label="http")],
                                  command=["/bin/sleep", "300"]))
        alloc = wait_for(lambda: (allocs(agent, "patient") or [None])[0], timeout=20,
                         message="the allocation running")

        def events() -> list[dict[str, Any]]:
            current = agent.json(f"/v1/allocation/{alloc['ID']}")
            return current["TaskStates"]["server"]["Events"]
        failed = wait_for(lambda: [e for e in events() if e["Type"] == "Task hook failed"],
                          timeout=20, message="the task told Consul is unreachable")
        assert "cannot register services with Consul at" in failed[0]["DisplayMessage"]
        assert allocs(agent, "patient")  # the task runs on
    finally:
        consul.start()
    sid = f"_nomad-task-{alloc['ID']}-group-web-patient-http"
    wait_for(lambda: sid in consul.services, timeout=40, message="registered once Consul is back")
    wait_for(lambda: [e for e in events() if e["Type"] == "Task hook message"], timeout=20,
             message="the task told the services are registered")


def test_a_killed_client_restarts_with_exactly_its_20_services(agent_factory):
    consul = ConsulDouble().start()
    try:
        agent = agent_factory("kill9", dev=False, config={
            "consul": {"address": consul.address, "auto_advertise": False},
            "client": {"network_interface": "lo"},
            "plugin": {"raw_exec": {"config": {"enabled": True}}}})
        agent.start()
        submit(agent, service_job("twenty", [Service(name="twenty", port_label="http")],
                                  count=20, command=["/bin/sleep", "300"]))
        wait_for(lambda: len(task_services(consul)) == 20, timeout=60,
                 message="20 registrations")
        before = set(task_services(consul))
        running = {a["ID"] for a in wait_for(
            lambda: (lambda found: found if len(found) == 20 else None)(allocs(agent, "twenty")),
            timeout=30, message="20 allocations running")}
        node_id = agent.json("/v1/nodes")[0]["ID"]
        agent.kill()
        # While the client is down an allocation of this node that no longer exists is
        # still registered (its task and its runner are gone).
        stale = f"_nomad-task-{uuid.uuid4()}-group-web-twenty-http"
        consul.register({"ID": stale, "Name": "twenty", "Port": 1,
                         "Meta": {"external-source": "nomad", "nomadjail-node-id": node_id}})
        registered = len([e for e in consul.events if e[0] == "register"])
        agent.start()
        wait_for(lambda: stale not in consul.services, timeout=30,
                 message="the dead allocation's service removed")
        wait_for(lambda: set(task_services(consul)) == before, timeout=30,
                 message="exactly the 20 services of the running allocations")
        wait_for(lambda: {a["ID"] for a in allocs(agent, "twenty")} == running, timeout=30,
                 message="the same 20 allocations running (re-attached)")
        # Nothing was registered twice: the same 20 IDs, re-registered at most once each.
        again = [sid for kind, sid in consul.events[registered:] if kind == "register"]
        assert len(again) == len(set(again)) and set(again) <= before
    finally:
        consul.close()
