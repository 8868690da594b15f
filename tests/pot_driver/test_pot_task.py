"""What the client persists of a pot task: the keys are fixed, bad shapes say what is wrong."""

from __future__ import annotations

import dataclasses
import json

import pytest

from nomadjail.drivers.base import DriverNetwork, StartRecord, TaskHandle, TaskNotFound
from nomadjail.drivers.supervision import Supervision, SupervisionPlan
from nomadjail.pot_driver.pot_task import PotStart, PotTask

TASK_ID = "alloc/web/1a2b3c4d"


def supervision() -> Supervision:
    return Supervision(task_id=TASK_ID, pid=42, started_at=7, diverted_path="/t/d.log",
                       process_state={"task_pid": 42, "supervisor_pid": 41,
                                      "status_path": "/t/s.json"})


def test_a_handle_holds_the_pot_and_the_supervised_start() -> None:
    task = PotTask(task_id=TASK_ID, pot_name="web_1a2b3c4d_alloc", cwd="/t", env_path="/t/e",
                   supervision=supervision())
    handle = task.handle()
    assert (handle.driver, handle.task_id, handle.pid, handle.started_at) == (
        "pot", TASK_ID, 42, 7)
    assert sorted(handle.state) == ["cwd", "env_path", "pot_name", "supervised"]
    saved = TaskHandle(**json.loads(json.dumps(dataclasses.asdict(handle))))
    again = PotTask.from_handle(saved)
    assert (again.pot_name, again.cwd, again.env_path, again.supervision) == (
        task.pot_name, task.cwd, task.env_path, task.supervision)
    assert not again.exited.is_set() and again.result is None and not again.stop_forced


def test_an_unreadable_handle_is_not_found_with_its_reason() -> None:
    handle = PotTask(task_id=TASK_ID, pot_name="p", cwd="/t", env_path="/t/e",
                     supervision=supervision()).handle()
    handle.state["runner"] = handle.state.pop("supervised")  # another version's shape
    with pytest.raises(TaskNotFound, match="pot handle for .* is malformed: missing or bad "
                                           "'supervised'"):
        PotTask.from_handle(handle)


def test_a_start_record_names_the_pot_before_anything_runs() -> None:
    plan = SupervisionPlan.for_task("/t", TASK_ID)
    start = PotStart(task_id=TASK_ID, pot_name="web_1a2b3c4d_alloc", cwd="/t",
                     env_path="/t/e", plan=plan)
    record = start.record()
    assert sorted(record.state) == ["addresses", "cwd", "env_path", "network", "pot_name",
                                    "supervision"]
    saved = StartRecord(**json.loads(json.dumps(dataclasses.asdict(record))))
    assert PotStart.from_record(saved, "web_1a2b3c4d_alloc") == start
    saved.state["supervision"] = {"spec_path": "/x"}
    with pytest.raises(ValueError, match="pot start record for .* is malformed: missing or "
                                         "bad .*'status_path'"):
        PotStart.from_record(saved, "web_1a2b3c4d_alloc")


def test_an_alias_pots_network_is_kept_with_its_handle_and_start_record() -> None:
    network = DriverNetwork(ip="10.0.0.50", port_map={"http": 80}, auto_advertise=True)
    task = PotTask(task_id=TASK_ID, pot_name="p", cwd="/t", env_path="/t/e",
                   supervision=supervision(), network=network)
    handle = task.handle()
    assert handle.network == network
    assert PotTask.from_handle(handle).network == network

    plan = DriverNetwork(ip="", port_map={"http": 80}, auto_advertise=True)
    start = PotStart(task_id=TASK_ID, pot_name="p", cwd="/t", env_path="/t/e",
                     plan=SupervisionPlan.for_task("/t", TASK_ID), network=plan,
                     addresses=("em0|10.0.0.50",))
    saved = StartRecord(**json.loads(json.dumps(dataclasses.asdict(start.record()))))
    assert PotStart.from_record(saved, "p") == start


def test_a_start_record_from_before_alias_pots_has_no_network() -> None:
    record = PotStart(task_id=TASK_ID, pot_name="p", cwd="/t", env_path="/t/e",
                      plan=SupervisionPlan.for_task("/t", TASK_ID)).record()
    del record.state["network"], record.state["addresses"]
    again = PotStart.from_record(record, "p")
    assert (again.network, again.addresses) == (None, ())
    record.state["network"] = {"port_map": {"http": "eighty"}}
    with pytest.raises(ValueError, match="network port_map"):
        PotStart.from_record(record, "p")
