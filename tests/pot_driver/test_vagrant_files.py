"""The Vagrant VM's files stay valid: its job and agent config load, its shell is clean.

The VM itself cannot run here; these checks keep what it would run correct.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from nomadjail.agent.config_file import load_config_file
from nomadjail.drivers.registry import validate_job_driver_configs
from nomadjail.jobspec import parse_job
from nomadjail.pot_driver import register, settings_from_plugin_config

REPO = Path(__file__).resolve().parents[2]
VAGRANT = REPO / "vagrant"


def test_the_example_job_is_a_valid_pot_job() -> None:
    register()
    path = VAGRANT / "jobs" / "hello-pot.nomad"
    job = parse_job(path.read_text(), str(path))
    job.canonicalize()
    job.validate()  # raises on any problem
    assert validate_job_driver_configs(job) == []
    task = job.task_groups[0].tasks[0]
    assert task.driver == "pot" and task.config["port_map"] == [{"http": "8080"}]


def test_the_agent_config_loads_with_the_pot_plugin() -> None:
    overlay = load_config_file(str(VAGRANT / "nomadjail.hcl"))
    settings = settings_from_plugin_config(overlay["plugins"]["pot"])
    assert settings.pot_bin == "/usr/local/bin/pot" and not settings.test_only_allow_any_os
    assert overlay["client"]["host_volumes"]["www"] == {"path": "/usr/local/www",
                                                        "read_only": True}


@pytest.mark.parametrize("path", sorted(VAGRANT.glob("*.sh")), ids=lambda p: p.name)
def test_provisioning_scripts_are_shellcheck_clean(path: Path) -> None:
    if not shutil.which("shellcheck"):
        pytest.fail("shellcheck is needed for this test: make test-deps")
    result = subprocess.run(["shellcheck", str(path)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_vagrantfile_runs_every_provisioning_script() -> None:
    vagrantfile = (REPO / "Vagrantfile").read_text()
    for script in sorted(VAGRANT.glob("*.sh")):
        assert f'path: "vagrant/{script.name}"' in vagrantfile
