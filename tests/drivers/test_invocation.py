"""One start attempt's records: where its files go, what is persisted, the spec it runs."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from nomadjail.drivers.base import DriverError
from nomadjail.drivers.invocation import (
    RUNTIME_DIR,
    OutputDiversion,
    SupervisedCommand,
    Supervision,
    SupervisionPlan,
    build_spec,
    read_spec,
    read_status,
    state_field,
    write_spec,
)


def test_a_plan_names_one_file_per_purpose_under_the_runtime_dir(task_config) -> None:
    cfg = task_config({})
    plan = SupervisionPlan.for_task(cfg.task_dir, cfg.id)
    base = os.path.join(cfg.task_dir, RUNTIME_DIR, cfg.id.rsplit("/", 1)[1])
    assert plan.task_id == cfg.id
    assert (plan.spec_path, plan.status_path, plan.pid_path, plan.diverted_path,
            plan.log_path) == (f"{base}.spec.json", f"{base}.status.json",
                               f"{base}.pid.json", f"{base}.diverted.log",
                               f"{base}.supervisor.log")


def test_a_plan_survives_json_and_reads_records_without_a_diverted_path() -> None:
    plan = SupervisionPlan.for_task("/t", "a/web/1234")
    assert SupervisionPlan.from_state(plan.task_id,
                                      json.loads(json.dumps(plan.to_state()))) == plan
    old = {"spec_path": "/s", "status_path": "/st", "pid_path": "/p"}  # an older record
    assert SupervisionPlan.from_state("a/web/1", old).diverted_path == ""
    with pytest.raises(ValueError, match=r"supervision plan of 'a/web/1': missing or bad "
                                         r"'pid_path'"):
        SupervisionPlan.from_state("a/web/1", {"spec_path": "/s", "status_path": "/st"})


def test_a_supervision_keeps_the_raw_key_it_has_always_been_saved_under() -> None:
    supervision = Supervision(task_id="a/web/1", pid=42, started_at=7, diverted_path="/d",
                              process_state={"task_pid": 42, "supervisor_pid": 41})
    state = json.loads(json.dumps(supervision.to_state()))
    assert state["raw"] == {"task_pid": 42, "supervisor_pid": 41}
    assert Supervision.from_state(state) == supervision
    with pytest.raises(ValueError, match="supervision state: missing or bad 'raw'"):
        Supervision.from_state({"task_id": "a/web/1", "pid": 1, "started_at": 1,
                                "raw": "not a mapping"})


def test_state_field_names_what_is_wrong() -> None:
    assert state_field("thing", {"n": "3"}, "n", int) == 3
    with pytest.raises(ValueError, match=r"thing: missing or bad 'n' \(invalid literal"):
        state_field("thing", {"n": "three"}, "n", int)


def test_the_spec_says_how_to_run_the_command_and_where_its_output_goes(task_config,
                                                                        tmp_path) -> None:
    cfg = task_config({}, max_files=3, max_file_size_mb=2)
    plan = SupervisionPlan.for_task(cfg.task_dir, cfg.id)
    diversion = OutputDiversion(prefixes=("===> ",), start_line="go")
    spec = build_spec(plan, cfg, SupervisedCommand(
        executable="/bin/echo", args=("hi",), env={"A": "b"}, diversion=diversion,
        argv0="echo"))
    assert spec["executable"] == "/bin/echo" and spec["argv"] == ["echo", "hi"]
    assert (spec["env"], spec["cwd"], spec["user"]) == ({"A": "b"}, cfg.task_dir, "")
    assert spec["log_dir"] == os.path.dirname(cfg.stdout_path)
    assert (spec["stdout_name"], spec["stderr_name"]) == ("web.stdout", "web.stderr")
    assert (spec["max_files"], spec["max_file_size"]) == (3, 2 * 1024 * 1024)
    assert (spec["status_path"], spec["pid_path"]) == (plan.status_path, plan.pid_path)
    assert spec["divert"] == diversion.spec(plan.diverted_path)
    plain = build_spec(plan, cfg, SupervisedCommand(executable="/bin/true", cwd=str(tmp_path)))
    assert plain["argv"] == ["/bin/true"] and plain["cwd"] == str(tmp_path)
    assert "divert" not in plain


def test_the_spec_is_private_and_replaces_what_an_earlier_attempt_left(task_config) -> None:
    cfg = task_config({})
    plan = SupervisionPlan.for_task(cfg.task_dir, cfg.id)
    os.makedirs(os.path.dirname(plan.spec_path))
    for stale in (plan.status_path, plan.status_path + ".tmp", plan.pid_path):
        Path(stale).write_text("{}")
    write_spec(plan, {"env": {"SECRET": "x"}, "cwd": "/"})
    assert stat.S_IMODE(os.stat(plan.spec_path).st_mode) == 0o600
    assert read_spec(plan.spec_path) == {"env": {"SECRET": "x"}, "cwd": "/"}
    assert not any(os.path.exists(p) for p in (plan.status_path, plan.status_path + ".tmp",
                                               plan.pid_path))


def test_an_unwritable_spec_is_a_recoverable_driver_error(task_config) -> None:
    cfg = task_config({})
    plan = SupervisionPlan.for_task(cfg.task_dir, cfg.id)
    os.makedirs(plan.spec_path)  # a directory in the way
    with pytest.raises(DriverError, match="cannot write the task supervisor's spec") as err:
        write_spec(plan, {})
    assert err.value.recoverable


def test_read_status(tmp_path) -> None:
    path = tmp_path / "status.json"
    assert read_status(str(path)) is None  # not exited yet
    path.write_text(json.dumps({"exit_code": 137, "signal": 9, "finished_at": 1}) + "   ")
    result = read_status(str(path))
    assert result is not None and (result.exit_code, result.signal) == (137, 9)
    path.write_text("{not json")
    broken = read_status(str(path))
    assert broken is not None and broken.exit_code == -1
    assert broken.err.startswith(f"unreadable exit status {path}")
