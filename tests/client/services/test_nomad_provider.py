"""The Nomad provider against in-memory servers (``FakeServers``): what is registered
(IDs, the node's address, canary tags), removal, retrying while no server answers and
what the task is told, refusals, a restarted client's cleanup, check results feeding
health and check_restart."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nomadjail.client.services import NomadServiceProvider, WorkloadServices
from nomadjail.structs import (
    SECOND,
    BadRequest,
    PortMapping,
    ServiceRegistration,
    TaskEvent,
    TaskEventType,
)
from nomadjail.structs.services import CheckRestart, Service, ServiceCheck
from nomadjail.testing import wait_for
from nomadjail.testing.fake_servers import FakeServers

from ...doubles.web import HealthEndpoint


class Recorder:
    """Collects a workload's task events and check_restart restarts."""

    def __init__(self) -> None:
        self.events: list[TaskEvent] = []
        self.restarts: list[TaskEvent] = []
        self.lock = threading.Lock()

    def emit(self, event: TaskEvent) -> None:
        with self.lock:
            self.events.append(event)

    def restart_for_check(self, event: TaskEvent) -> None:
        with self.lock:
            self.restarts.append(event)

    def messages(self, kind: str) -> list[str]:
        with self.lock:
            return [e.message or e.display_message for e in self.events if e.type == kind]


@pytest.fixture
def servers() -> FakeServers:
    return FakeServers()


@pytest.fixture
def web() -> Iterator[HealthEndpoint]:
    endpoint = HealthEndpoint()
    try:
        yield endpoint
    finally:
        endpoint.close()


@pytest.fixture
def providers(servers: FakeServers, tmp_path: Path
              ) -> Iterator[Callable[..., NomadServiceProvider]]:
    made: list[NomadServiceProvider] = []

    def make(*, rpc: Any = None, restored: list[str] | None = None, start: bool = True,
             **kwargs: Any) -> NomadServiceProvider:
        provider = NomadServiceProvider(
            rpc or servers, state_dir=str(tmp_path),
            node_address=lambda: "192.0.2.10",
            **{"retry_min": 0.05, "retry_max": 0.2, **kwargs})
        if restored is not None:
            provider.restored(restored)
        if start:
            provider.start("node-1")
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.shutdown()


def workload(port: int, *, alloc_id: str = "", name: str = "web", port_label: str = "http",
             checks: tuple[ServiceCheck, ...] = (), recorder: Recorder | None = None,
             canary: bool = False, task: str = "") -> WorkloadServices:
    return WorkloadServices(
        alloc_id=alloc_id or str(uuid.uuid4()), job_id="shop", group="web", task=task,
        namespace="default", node_id="node-1", datacenter="dc1", alloc_name="shop.web[0]",
        services=[Service(name=name, port_label=port_label, tags=["v1"],
                          canary_tags=["canary"], provider="nomad", address_mode="auto",
                          task_name=task, checks=list(checks))],
        ports=[PortMapping(label="http", value=port, host_ip="127.0.0.1")], canary=canary,
        events=recorder.emit if recorder else None, restarter=recorder)


def http_check(**kwargs: Any) -> ServiceCheck:
    return ServiceCheck(**{"name": "alive", "type": "http", "path": "/health",
                           "interval": SECOND, "timeout": SECOND,
                           "on_update": "require_healthy", **kwargs})


def registered(servers: FakeServers) -> dict[str, ServiceRegistration]:
    with servers.cond:
        return {reg_id: reg for (_, reg_id), reg in servers.services.items()}


def test_a_workload_is_registered_with_the_servers_and_removed(servers, providers):
    provider = providers()
    work = workload(25000)
    provider.register_workload(work)
    sid = f"_nomad-task-{work.alloc_id}-group-web-web-http"
    reg = wait_for(lambda: registered(servers).get(sid), timeout=10,
                   message="the registration")
    assert (reg.service_name, reg.address, reg.port, reg.tags, reg.node_id, reg.job_id,
            reg.alloc_id, reg.namespace, reg.datacenter) == (
        "web", "127.0.0.1", 25000, ["v1"], "node-1", "shop", work.alloc_id, "default", "dc1")
    provider.register_workload(work)  # the same workload again: the same ID
    wait_for(lambda: len(servers.service_upserts) >= 1, timeout=10, message="an upsert")
    assert list(registered(servers)) == [sid]

    provider.remove_workload(work)
    wait_for(lambda: sid not in registered(servers), timeout=10, message="the removal")
    assert provider.recorded() == {}


def test_canaries_register_their_canary_tags_and_a_numeric_port_the_node_address(
        servers, providers):
    provider = providers()
    canary = workload(25001, canary=True)
    numeric = workload(0, port_label="8080", name="api")
    provider.register_workload(canary)
    provider.register_workload(numeric)
    wait_for(lambda: len(registered(servers)) == 2, timeout=10, message="both registered")
    by_name = {reg.service_name: reg for reg in registered(servers).values()}
    assert by_name["web"].tags == ["canary"]
    # Consul would take "" as its agent's address; Nomad's servers need one.
    assert (by_name["api"].address, by_name["api"].port) == ("192.0.2.10", 8080)


def test_an_update_that_renames_a_service_removes_the_old_instance(servers, providers):
    provider = providers()
    old = workload(25002)
    provider.register_workload(old)
    old_id = f"_nomad-task-{old.alloc_id}-group-web-web-http"
    wait_for(lambda: old_id in registered(servers), timeout=10, message="registered")
    new = workload(25002, alloc_id=old.alloc_id, name="www")
    provider.update_workload(old, new)
    new_id = f"_nomad-task-{old.alloc_id}-group-web-www-http"
    wait_for(lambda: list(registered(servers)) == [new_id], timeout=10,
             message="only the renamed instance")


def test_while_no_server_answers_it_retries_and_tells_the_task(servers, providers):
    servers.unavailable = True
    recorder = Recorder()
    provider = providers()
    work = workload(25003, recorder=recorder)
    provider.register_workload(work)
    wait_for(lambda: recorder.messages(TaskEventType.HOOK_FAILED), timeout=10,
             message="the task told registration is failing")
    [failed] = recorder.messages(TaskEventType.HOOK_FAILED)
    assert "cannot register services with Nomad (retrying in the background)" in failed
    assert registered(servers) == {}
    servers.unavailable = False
    wait_for(lambda: len(registered(servers)) == 1, timeout=10, message="registered after all")
    wait_for(lambda: recorder.messages(TaskEventType.HOOK_MESSAGE), timeout=10,
             message="the task told it is registered")
    assert recorder.messages(TaskEventType.HOOK_MESSAGE) == [
        "nomad_services: services registered with Nomad: web"]
    assert len(recorder.messages(TaskEventType.HOOK_FAILED)) == 1  # told once


class Refusing:
    """Servers that refuse every registration (as for an unspecified address)."""

    def __init__(self) -> None:
        self.calls = 0

    def upsert_service_registrations(self, services: list[ServiceRegistration]) -> int:
        self.calls += 1
        raise BadRequest("Services[0]: invalid service registration address '0.0.0.0'")

    def delete_service_registration(self, reg_id: str, namespace: str = "default") -> int:
        return 1


def test_a_refused_registration_is_told_and_not_retried(providers):
    refusing = Refusing()
    recorder = Recorder()
    provider = providers(rpc=refusing)
    provider.register_workload(workload(25004, recorder=recorder))
    wait_for(lambda: recorder.messages(TaskEventType.HOOK_FAILED), timeout=10,
             message="the refusal told")
    assert "invalid service registration address" in \
        recorder.messages(TaskEventType.HOOK_FAILED)[0]
    provider.register_workload(workload(25005))  # another pass happens ...
    wait_for(lambda: refusing.calls >= 2, timeout=10, message="the second workload sent")
    assert refusing.calls == 2  # ... and the refused one is not sent again
    assert provider.recorded() == {}


def test_a_restarted_client_deletes_what_it_did_not_restore(servers, providers):
    first = providers()
    kept, gone = workload(25006), workload(25007)
    first.register_workload(kept)
    first.register_workload(gone)
    wait_for(lambda: len(registered(servers)) == 2, timeout=10, message="both registered")
    first.shutdown()  # a client stopping (or killed): the registrations stay
    assert len(registered(servers)) == 2

    second = providers(restored=[kept.alloc_id], start=False)
    second.register_workload(kept)  # the restored task registers again
    second.start("node-1")
    kept_id = f"_nomad-task-{kept.alloc_id}-group-web-web-http"
    wait_for(lambda: list(registered(servers)) == [kept_id], timeout=10,
             message="the allocation not restored gone, the restored one kept")
    assert list(second.recorded()) == [kept_id]


def test_after_probation_unclaimed_instances_of_restored_allocations_go(servers, providers):
    first = providers()
    dead = workload(25008, task="server")
    first.register_workload(dead)
    wait_for(lambda: len(registered(servers)) == 1, timeout=10, message="registered")
    first.shutdown()
    # Restored, but its task died meanwhile: nothing registers it again.
    providers(restored=[dead.alloc_id], probation=0.3)
    wait_for(lambda: registered(servers) == {}, timeout=10,
             message="the unclaimed instance gone after probation")


def test_check_results_feed_health_and_check_restart(servers, providers, web):
    recorder = Recorder()
    provider = providers()
    check = http_check(check_restart=CheckRestart(limit=2, grace=0))
    work = workload(web.port, checks=(check,), recorder=recorder)
    provider.register_workload(work)
    [state] = provider.alloc_checks(work.alloc_id).checks()
    assert (state.name, state.status) == ("alive", "")  # pending: not run yet
    assert len(state.check_id) == 64  # Nomad's check IDs: a bare SHA-256 digest
    wait_for(lambda: provider.alloc_checks(work.alloc_id).checks()[0].status == "passing",
             timeout=10, message="the check passing")
    [result] = provider.check_results(work.alloc_id).values()
    assert (result.group, result.service, result.check, result.status) == (
        "shop.web[0]", "web", "alive", "success")

    web.status = 500
    wait_for(lambda: recorder.restarts, timeout=15,
             message="check_restart restarting the task")
    assert recorder.restarts[0].restart_reason == 'healthcheck: check "alive" unhealthy'
    provider.remove_workload(work)
    assert provider.check_results(work.alloc_id) == {}
    assert provider.alloc_checks(work.alloc_id).checks() == []


def test_nothing_is_sent_before_the_node_is_registered(servers, providers):
    provider = providers(node_ready=False)
    work = workload(25009)
    provider.register_workload(work)
    assert servers.service_upserts == []  # the servers would refuse: no node secret yet
    provider.node_registered()
    wait_for(lambda: len(registered(servers)) == 1, timeout=10, message="sent once registered")


def test_an_unreadable_record_is_reported_and_replaced(servers, providers, tmp_path, caplog):
    (tmp_path / "nomad_services.json").write_text("{not json")
    provider = providers()
    assert provider.recorded() == {}
    assert "cannot read" in caplog.text and "nomad_services.json" in caplog.text
    work = workload(25011)
    provider.register_workload(work)
    wait_for(lambda: len(registered(servers)) == 1, timeout=10, message="registered")
    assert list(json.loads((tmp_path / "nomad_services.json").read_text())["Registrations"]
                ) == [f"_nomad-task-{work.alloc_id}-group-web-web-http"]
