"""The Consul provider against a Consul agent (the double; a real one too when
``CONSUL_HTTP_ADDR`` is set): registrations, the sync loop's repairs, a restarted
client's cleanup, Consul going away and coming back, check statuses, check_restart."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator

import pytest

from nomadjail.agent.config import ConsulSettings
from nomadjail.agent.consul import consul_client
from nomadjail.client.services import (
    ConsulServiceProvider,
    PythonConsulAgent,
    WorkloadServices,
)
from nomadjail.structs import SECOND, PortMapping, TaskEvent, TaskEventType
from nomadjail.structs.services import CheckRestart, Service, ServiceCheck
from nomadjail.testing import wait_for

from ...doubles.consul import ConsulDouble, ConsulTarget, consul_target
from ...doubles.web import HealthEndpoint


@pytest.fixture(params=["double", "real"])
def consul(request: pytest.FixtureRequest) -> Iterator[ConsulTarget]:
    with consul_target(request.param) as target:
        yield target


@pytest.fixture
def web() -> Iterator[HealthEndpoint]:
    endpoint = HealthEndpoint()
    try:
        yield endpoint
    finally:
        endpoint.close()


@pytest.fixture
def providers() -> Iterator[Callable[..., ConsulServiceProvider]]:
    made: list[ConsulServiceProvider] = []

    def make(target: ConsulTarget | str, *, node_id: str = "", start: bool = True,
             restored: list[str] | None = None, token: str = "",
             **kwargs: object) -> ConsulServiceProvider:
        address = target if isinstance(target, str) else target.address
        settings = ConsulSettings(enabled=True, address=address, timeout=2.0,
                                  token=token or getattr(target, "token", ""))
        provider = ConsulServiceProvider(
            PythonConsulAgent(consul_client(settings), address),
            **{"retry_min": 0.1, "retry_max": 0.5, "sync_interval": 0.5, **kwargs})
        if restored is not None:
            provider.restored(restored)
        if start:
            provider.start(node_id or str(uuid.uuid4()))
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.shutdown()


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

    def types(self) -> list[str]:
        with self.lock:
            return [e.type for e in self.events]


def workload(port: int, *, alloc_id: str = "", name: str = "web", tags=("v1",),
             checks=(), recorder: Recorder | None = None, canary: bool = False,
             task: str = "") -> WorkloadServices:
    return WorkloadServices(
        alloc_id=alloc_id or str(uuid.uuid4()), job_id="shop", group="web", task=task,
        namespace="default", node_id="n", datacenter="dc1",
        services=[Service(name=name, port_label="http", tags=list(tags), canary_tags=["canary"],
                          provider="consul", address_mode="host", checks=list(checks))],
        ports=[PortMapping(label="http", value=port, host_ip="127.0.0.1")], canary=canary,
        events=recorder.emit if recorder else None,
        restarter=recorder)


def http_check(**kwargs):
    return ServiceCheck(**{"name": "alive", "type": "http", "path": "/health",
                           "interval": SECOND, "timeout": SECOND, "on_update":
                           "require_healthy", **kwargs})


def test_a_workload_is_registered_with_its_check_which_goes_passing(consul, web, providers):
    provider = providers(consul)
    work = workload(web.port, checks=[http_check()])
    provider.register_workload(work)
    sid = f"_nomad-task-{work.alloc_id}-group-web-web-http"
    wait_for(lambda: sid in consul.task_services(), timeout=10, message="the registration")
    service = consul.task_services()[sid]
    assert (service["Service"], service["Port"], service["Tags"]) == ("web", web.port, ["v1"])
    assert service["Meta"]["external-source"] == "nomad"
    [check] = consul.checks_of(sid)
    assert check["Name"] == "alive"
    wait_for(lambda: consul.checks_of(sid)[0]["Status"] == "passing", timeout=10,
             message="the check to pass")

    def passing() -> bool:
        found = provider.alloc_checks(work.alloc_id)
        return found is not None and [c.status for c in found.checks()] == ["passing"]
    wait_for(passing, timeout=10, message="the provider to see it passing")

    provider.remove_workload(work)
    wait_for(lambda: sid not in consul.task_services(), timeout=10, message="deregistration")
    assert consul.checks_of(sid) == []


def test_an_update_changes_the_registration_in_place(consul, web, providers):
    provider = providers(consul)
    canary = workload(web.port, canary=True)
    provider.register_workload(canary)
    sid = f"_nomad-task-{canary.alloc_id}-group-web-web-http"
    wait_for(lambda: consul.task_services().get(sid, {}).get("Tags") == ["canary"],
             timeout=10, message="canary tags")
    promoted = workload(web.port, alloc_id=canary.alloc_id)
    provider.update_workload(canary, promoted)
    wait_for(lambda: consul.task_services().get(sid, {}).get("Tags") == ["v1"], timeout=10,
             message="the promoted tags")
    assert [s for s in consul.task_services() if canary.alloc_id in s] == [sid]


def test_the_sync_loop_repairs_what_someone_removed_from_consul(consul, web, providers):
    provider = providers(consul)
    work = workload(web.port, checks=[http_check()])
    provider.register_workload(work)
    sid = f"_nomad-task-{work.alloc_id}-group-web-web-http"
    wait_for(lambda: sid in consul.task_services(), timeout=10, message="the registration")
    consul.put(f"/v1/agent/service/deregister/{sid}")
    wait_for(lambda: sid in consul.task_services() and len(consul.checks_of(sid)) == 1,
             timeout=10, message="the periodic sync to register it again")


def test_a_restarted_client_neither_duplicates_nor_keeps_dead_allocations(consul, web,
                                                                          providers):
    node = str(uuid.uuid4())
    before = providers(consul, node_id=node)
    alive, dead = workload(web.port), workload(web.port, name="old")
    others = workload(web.port, name="theirs")  # another client's, on the same Consul
    stranger = providers(consul)
    stranger.register_workload(others)
    for work in (alive, dead):
        before.register_workload(work)
    wait_for(lambda: len(consul.task_services()) == 3, timeout=10, message="3 services")
    before.shutdown()  # what a kill -9 leaves: everything still registered

    after = providers(consul, node_id=node, start=False, restored=[alive.alloc_id],
                      probation=600)
    after.register_workload(workload(web.port, alloc_id=alive.alloc_id))
    after.start(node)

    def services() -> list[str]:
        return sorted(consul.task_services())
    wait_for(lambda: len(services()) == 2, timeout=10, message="the dead alloc's service gone")
    assert services() == sorted([f"_nomad-task-{alive.alloc_id}-group-web-web-http",
                                 f"_nomad-task-{others.alloc_id}-group-web-theirs-http"])


def test_consul_down_is_retried_told_to_the_task_and_registered_once_back(web, providers):
    double = ConsulDouble()  # not started: the port is closed
    try:
        recorder = Recorder()
        provider = providers(double.address)
        work = workload(web.port, recorder=recorder)
        provider.register_workload(work)
        wait_for(lambda: TaskEventType.HOOK_FAILED in recorder.types(), timeout=10,
                 message="the task told registration is failing")
        failed = recorder.events[0]
        assert "cannot register services with Consul at" in failed.message
        assert "retrying" in failed.message
        assert provider.failures >= 1
        double.start()
        sid = f"_nomad-task-{work.alloc_id}-group-web-web-http"
        wait_for(lambda: sid in double.services, timeout=10, message="registered once up")
        wait_for(lambda: TaskEventType.HOOK_MESSAGE in recorder.types(), timeout=10,
                 message="the task told it is registered")
        assert recorder.types().count(TaskEventType.HOOK_FAILED) == 1  # told once
        assert [e for e in double.events if e[1] == sid] == [("register", sid)]
    finally:
        double.close()


def test_the_configured_token_is_sent():
    double = ConsulDouble(required_token="s3cret").start()
    try:
        settings = ConsulSettings(enabled=True, address=double.address, token="s3cret")
        provider = ConsulServiceProvider(PythonConsulAgent(consul_client(settings)),
                                         retry_min=0.1, retry_max=0.2)
        provider.start("node")
        work = workload(1234)
        provider.register_workload(work)
        wait_for(lambda: len(double.services) == 1, timeout=10, message="the registration")
        provider.shutdown()
    finally:
        double.close()


def test_check_restart_restarts_the_task_after_limit_unhealthy_results(consul, providers):
    recorder = Recorder()
    provider = providers(consul)
    closed = HealthEndpoint()
    closed.status = 500
    try:
        work = workload(closed.port, recorder=recorder, task="web", checks=[http_check(
            name="alive", check_restart=CheckRestart(limit=2, grace=0))])
        provider.register_workload(work)
        wait_for(lambda: recorder.restarts, timeout=15, message="a check_restart restart")
    finally:
        closed.close()
    [event] = recorder.restarts
    assert event.type == TaskEventType.RESTART_SIGNAL
    assert event.restart_reason == 'healthcheck: check "alive" unhealthy'


def test_a_registration_consul_refuses_does_not_hold_up_the_others(web, providers):
    double = ConsulDouble().start()
    try:
        recorder = Recorder()
        provider = providers(double.address)
        good = workload(web.port)
        bad = workload(web.port, name="bad", recorder=recorder,
                       checks=[http_check(interval=0)])  # Consul refuses it (400)
        provider.register_workload(bad)
        provider.register_workload(good)
        wait_for(lambda: f"_nomad-task-{good.alloc_id}-group-web-web-http" in double.services,
                 timeout=10, message="the good one registered")
        wait_for(lambda: TaskEventType.HOOK_FAILED in recorder.types(), timeout=10,
                 message="the bad one's task told why")
        assert "Interval must be > 0" in recorder.events[0].message
        assert not [sid for sid in double.services if bad.alloc_id in sid]
    finally:
        double.close()
