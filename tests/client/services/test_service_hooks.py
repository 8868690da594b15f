"""A client's task and group services through its runners: registered once the task runs
(at the driver network's address for a pot with its own IP), deregistered before it is
killed, check_restart restarting the task, script checks reporting, and what happens
without Consul."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nomadjail.agent.config import ConsulSettings
from nomadjail.agent.consul import consul_client
from nomadjail.client.allocdir import AllocDir
from nomadjail.client.config import ClientConfig
from nomadjail.client.hooks import default_task_hooks
from nomadjail.client.services import (
    ConsulServiceProvider,
    PythonConsulAgent,
    ServiceProviders,
)
from nomadjail.client.state_db import FileStateDB
from nomadjail.client.task_runner import TaskRunner
from nomadjail.drivers.base import DriverNetwork, TaskConfig, TaskHandle
from nomadjail.drivers.mock import MockDriver
from nomadjail.drivers.raw_exec import RawExecDriver
from nomadjail.structs import SECOND, PortMapping, TaskEventType, TaskStateName
from nomadjail.structs.services import CheckRestart, Service, ServiceCheck
from nomadjail.testing import mock_alloc, mock_node, wait_for
from nomadjail.testing.fake_servers import alloc_for, one_task_job, wait_client_status

from ...doubles.consul import ConsulDouble

POT_IP = "127.0.0.5"


class PotLikeDriver(MockDriver):
    """The mock driver, giving its tasks their own IP as pot's alias mode does."""

    def start_task(self, cfg: TaskConfig) -> TaskHandle:
        handle = super().start_task(cfg)
        handle.network = DriverNetwork(ip=POT_IP, port_map={"http": 8080}, auto_advertise=True)
        return handle


@pytest.fixture
def consul() -> Iterator[ConsulDouble]:
    double = ConsulDouble().start()
    try:
        yield double
    finally:
        double.close()


def consul_providers(double: ConsulDouble) -> ServiceProviders:
    settings = ConsulSettings(enabled=True, address=double.address, timeout=2.0)
    provider = ConsulServiceProvider(PythonConsulAgent(consul_client(settings)),
                                     retry_min=0.1, retry_max=0.5)
    return ServiceProviders({"consul": provider})


def placed(servers, client, job, port: int = 25000):
    alloc = alloc_for(job, client)
    alloc.allocated_resources.shared.ports = [
        PortMapping(label="http", value=port, host_ip="127.0.0.1")]
    return servers.place(alloc)


def test_a_task_service_registers_at_the_pots_own_address_and_goes_before_the_kill(
        make_client, servers, consul):
    client = make_client(drivers={"mock_driver": PotLikeDriver()},
                         services=consul_providers(consul))
    client.start()
    job = one_task_job({"run_for": "300s"}, driver="mock_driver")
    job.task_groups[0].tasks[0].services = [Service(name="web", port_label="http",
                                                    tags=["pot"])]
    job.canonicalize()
    alloc = placed(servers, client, job)
    sid = f"_nomad-task-{alloc.id}-web-web-http"
    service = wait_for(lambda: consul.services.get(sid), timeout=15, message="registration")
    assert (service["Address"], service["Port"], service["Tags"]) == (POT_IP, 8080, ["pot"])
    servers.stop(alloc.id)
    wait_for(lambda: sid not in consul.services, timeout=15, message="deregistration")


def test_check_restart_restarts_a_task_whose_check_stays_critical(make_client, servers,
                                                                  consul):
    client = make_client(drivers={"raw_exec": RawExecDriver()},
                         services=consul_providers(consul))
    client.start()
    job = one_task_job({"command": "/bin/sleep", "args": ["300"]},
                       restart={"attempts": 3, "delay": 0, "mode": "fail"})
    job.task_groups[0].tasks[0].services = [Service(
        name="web", port_label="http", checks=[ServiceCheck(
            name="port", type="tcp", interval=SECOND, timeout=SECOND,
            check_restart=CheckRestart(limit=2, grace=0))])]
    job.canonicalize()
    alloc = placed(servers, client, job, port=1)  # nothing answers there

    def restart_reasons() -> list[str]:
        state = servers.task_state(alloc.id, "web")
        return [e.restart_reason for e in state.events
                if e.type == TaskEventType.RESTART_SIGNAL]
    reasons = wait_for(restart_reasons, timeout=20, message="a check_restart restart")
    assert reasons[0] == 'healthcheck: check "port" unhealthy'
    wait_for(lambda: servers.task_state(alloc.id, "web").restarts >= 1, timeout=20,
             message="the task restarted")


def test_a_script_check_runs_in_the_task_and_reports_its_status(make_client, servers, consul):
    client = make_client(drivers={"raw_exec": RawExecDriver()},
                         services=consul_providers(consul))
    client.start()
    job = one_task_job({"command": "/bin/sleep", "args": ["300"]})
    job.task_groups[0].tasks[0].services = [Service(name="web", checks=[ServiceCheck(
        name="probe", type="script", command="/bin/sh",
        args=["-c", "echo degraded in $NOMAD_TASK_NAME; exit 1"], interval=SECOND,
        timeout=SECOND)])]
    job.canonicalize()
    alloc = placed(servers, client, job)
    sid = f"_nomad-task-{alloc.id}-web-web-"

    def probe() -> dict | None:
        return next((c for c in consul.agent_checks().values() if c["ServiceID"] == sid),
                    None)
    wait_for(lambda: (probe() or {}).get("Status") == "warning", timeout=15,
             message="the script check's warning")
    assert probe()["Output"].strip() == "degraded in web"
    assert probe()["Type"] == "ttl"


def test_without_consul_a_service_is_reported_not_registered(make_client, servers):
    client = make_client(drivers={"raw_exec": RawExecDriver()})
    client.start()
    job = one_task_job({"command": "/bin/sleep", "args": ["300"]})
    job.task_groups[0].services = [Service(name="front", port_label="http")]
    job.canonicalize()
    alloc = placed(servers, client, job)

    def failed() -> list[str]:
        return [e.message for e in servers.task_state(alloc.id, "web").events
                if e.type == TaskEventType.HOOK_FAILED]
    [message] = wait_for(failed, timeout=15, message="the event")
    assert message == ("group_services: services front not registered: Consul is not "
                       "configured on this client (add a consul { address = ... } block to "
                       "the agent configuration)")
    wait_client_status(servers, alloc.id, "running")  # the task runs all the same


def test_a_restarted_client_registers_its_running_task_again_under_the_same_id(
        make_client, servers, consul):
    providers = consul_providers(consul)
    client = make_client(drivers={"raw_exec": RawExecDriver()}, services=providers)
    client.start()
    job = one_task_job({"command": "/bin/sleep", "args": ["300"]})
    job.task_groups[0].tasks[0].services = [Service(name="web", port_label="http")]
    job.canonicalize()
    alloc = placed(servers, client, job)
    sid = f"_nomad-task-{alloc.id}-web-web-http"
    wait_for(lambda: sid in consul.services, timeout=15, message="registration")
    client.shutdown()
    assert sid in consul.services  # the task runs on: so does its registration
    consul.deregister(sid)  # and Consul lost it meanwhile
    again = make_client(drivers={"raw_exec": RawExecDriver()},
                        services=consul_providers(consul))
    again.start()
    wait_for(lambda: sid in consul.services, timeout=15, message="registered again")
    assert [e for e in consul.events if e == ("register", sid)] == [("register", sid)] * 2


def test_prekill_hooks_run_while_the_task_still_runs(tmp_path):
    """The services hook deregisters in prekill: the task must still be running then."""
    seen: list[tuple[str, bool]] = []

    class Probe:
        name = "probe"

        def prekill(self, ctx) -> None:
            seen.append((runner.task_state().state, runner.handle() is not None))

    job = one_task_job({"run_for": "300s"}, driver="mock_driver")
    node = mock_node()
    alloc = mock_alloc(job, node)
    config = ClientConfig(node_name="n", data_dir=str(tmp_path / "data"), servers=[])
    runner = TaskRunner(alloc=alloc, task=job.task_groups[0].tasks[0],
                        alloc_dir=AllocDir(str(tmp_path / "alloc"), alloc.id),
                        driver=MockDriver(), node=lambda: node, config=config,
                        state_db=FileStateDB(str(tmp_path / "state")),
                        on_state_change=lambda: None,
                        hooks=[*default_task_hooks(), Probe()])
    runner.start()
    wait_for(lambda: runner.task_state().state == TaskStateName.RUNNING, timeout=10,
             message="the task running")
    runner.kill()
    assert seen == [(TaskStateName.RUNNING, True)]
    assert runner.task_state().state == TaskStateName.DEAD
