"""Creating and configuring a pot before `pot start`: command lines first, then the steps."""

from __future__ import annotations

import dataclasses
import os

import pytest

from nomadjail.drivers.base import DriverError, PortMapping, TaskResources
from nomadjail.pot_driver.pot_cli import PotCLI
from nomadjail.pot_driver.pots import PotRoot
from nomadjail.pot_driver.prepare import exports, plan_setup, run_setup
from nomadjail.pot_driver.resolv_conf import ResolvConfFile
from nomadjail.pot_driver.task_config import parse_pot_config

from .double import PotDouble


def with_ports(cfg, *ports: PortMapping):
    return dataclasses.replace(cfg, resources=TaskResources(ports=list(ports)))


def test_exports_come_from_the_allocated_ports(task_config) -> None:
    cfg = with_ports(task_config({"command": "/bin/app", "port_map": {"http": "80"}}),
                     PortMapping(label="http", value=23000))
    assert exports(cfg, parse_pot_config(cfg.config)) == ["80:23000"]
    legacy = task_config({"command": "/bin/app", "port_map": {"http": "80"}},
                         env={"NOMAD_HOST_PORT_http": "24000"})
    assert exports(legacy, parse_pot_config(legacy.config)) == ["80:24000"]
    host = task_config({"command": "/bin/app", "network_mode": "host",
                        "port_map": {"http": "80"}})
    assert exports(host, parse_pot_config(host.config)) == []  # inherit: nothing to export
    missing = task_config({"command": "/bin/app", "port_map": {"http": "80"}})
    with pytest.raises(DriverError, match='port_map label "http": no port with that label '
                                          "was allocated to task 'web'"):
        exports(missing, parse_pot_config(missing.config))


def test_the_command_lines_are_made_before_any_pot_command(task_config) -> None:
    cfg = task_config({"command": "/bin/app", "args": ["-v"]}, env={"K": "v"})
    setup = plan_setup(cfg, parse_pot_config(cfg.config), "web_x", ResolvConfFile())
    assert setup.prepare[0] == "prepare" and "-d" not in setup.prepare
    assert setup.prepare[setup.prepare.index("-c") + 1] == '"/bin/app -v"'
    assert setup.set_env[:3] == ["set-env", "-p", "web_x"] and "K=v" in setup.set_env
    with pytest.raises(DriverError, match="contains"):  # pot would split the path
        plan_setup(cfg, parse_pot_config(cfg.config), "web_x",
                   ResolvConfFile(path="/my allocs/x.resolv.conf", text="nameserver 1.1.1.1\n"))


def test_a_prepare_that_silently_failed_fails_the_setup_and_leaves_no_file(
        pot_double: PotDouble, task_config) -> None:
    cfg = task_config({"image": "https://r/", "pot": "nginx", "tag": "1.0",
                       "command": "/bin/app"})
    config = parse_pot_config(cfg.config)
    resolv = ResolvConfFile(path=os.path.join(cfg.task_dir, ".pot", "x.resolv.conf"),
                            text="nameserver 10.0.0.53\n")
    name = f"web_{cfg.id.rsplit('/', 1)[1]}_{cfg.alloc_id}"
    setup = plan_setup(cfg, config, name, resolv)
    pot_double.set_faults(clone=True)
    with pytest.raises(DriverError, match="pot prepare did not create the pot"):
        run_setup(PotCLI(str(pot_double.bin)), cfg, config, setup, prepare_timeout=30,
                  root=PotRoot())
    assert not os.path.exists(resolv.path)  # removed whatever prepare did
    assert pot_double.commands() == ["prepare", "ls"]


def test_the_jobs_resolv_conf_wins_over_the_images(pot_double: PotDouble, task_config) -> None:
    pot_double.set_faults(image_resolv_conf="nameserver 192.0.2.1\n")
    cfg = dataclasses.replace(
        task_config({"image": "https://r/", "pot": "nginx", "tag": "1.0",
                     "command": "/bin/app"}),
        resources=TaskResources(memory_mb=64, cores=1))
    config = parse_pot_config(cfg.config)
    text = "nameserver 10.0.0.53\n"
    name = f"web_{cfg.id.rsplit('/', 1)[1]}_{cfg.alloc_id}"
    setup = plan_setup(cfg, config, name, ResolvConfFile(
        path=os.path.join(cfg.task_dir, ".pot", "x.resolv.conf"), text=text))
    run_setup(PotCLI(str(pot_double.bin)), cfg, config, setup, prepare_timeout=30,
              root=PotRoot())
    conf = pot_double.root / "jails" / name / "conf"
    assert (conf / "resolv.conf").read_text() == text
    assert pot_double.commands() == ["prepare", "ls", "config", "set-env", "set-rss"]
