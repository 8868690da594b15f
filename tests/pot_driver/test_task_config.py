"""The pot task config: the Go driver's keys, validated with errors naming each key."""

from __future__ import annotations

import pytest

from nomadjail.drivers.registry import validate_job_driver_configs
from nomadjail.pot_driver import parse_pot_config, register, validate_pot_config
from nomadjail.pot_driver.resolv_conf import parse_host_resolv_conf
from nomadjail.pot_driver.task_config import RESERVED_ATTRIBUTES, PathPair, PortMapping
from nomadjail.structs import DNSConfig, Job, NetworkResource, Port, Resources, Task, TaskGroup

BASE = {"image": "https://reg/", "pot": "nginx", "tag": "1.0"}


def test_full_config_parses() -> None:
    parsed = parse_pot_config({
        **BASE, "command": "nginx", "args": ["-g", "daemon off;"], "network_mode": "host",
        "port_map": [{"http": "80", "dns": "udp:53"}],
        "copy": ["local/a.conf:/etc/a.conf"], "mount": ["/data:/mnt/d:x"],
        "mount_read_only": ["/certs:/etc/certs"], "extra_hosts": ["db:10.0.0.5", "v6:fe80::1"],
        "attributes": ["mlock:YES", "exec_stop:/bin/sh -c 'x:y'"]})
    assert parsed.network_type == "inherit" and not parsed.exports_ports
    assert parsed.port_map == [PortMapping("http", 80), PortMapping("dns", 53, "udp")]
    # split on the FIRST colon only
    assert parsed.mount == [PathPair("/data", "/mnt/d:x")]
    assert parsed.attributes[1].value == "/bin/sh -c 'x:y'"
    assert parsed.extra_hosts == ["db:10.0.0.5", "v6:fe80::1"]


def test_alias_pots_take_their_addresses_and_export_nothing() -> None:
    parsed = parse_pot_config({**BASE, "network_mode": "alias", "ip": "em0|10.0.0.50",
                               "port_map": {"http": "8080"}})
    assert (parsed.network_type, parsed.addresses, parsed.exports_ports) == (
        "alias", ["em0|10.0.0.50"], False)
    both = parse_pot_config({**BASE, "network_mode": "alias", "ip": ["10.0.0.50", "fd00::50"]})
    assert both.addresses == ["10.0.0.50", "fd00::50"]
    later = parse_pot_config({**BASE, "network_mode": "alias", "ip": "${NOMAD_META_ip}"})
    assert later.addresses == ["${NOMAD_META_ip}"]  # checked again once interpolated
    assert parse_pot_config(BASE).exports_ports


def test_port_map_as_a_plain_map_and_as_list_of_maps() -> None:
    assert parse_pot_config({**BASE, "port_map": {"http": "80"}}).port_map == [
        PortMapping("http", 80)]
    assert parse_pot_config({**BASE, "port_map": [{"a": "1"}, {"b": 2}]}).port_map == [
        PortMapping("a", 1), PortMapping("b", 2)]


@pytest.mark.parametrize(("config", "message"), [
    ({"image": "u", "tag": "1"}, "'pot' is required"),
    ({"image": "u", "pot": "p"}, "'tag' is required"),
    ({"pot": "p", "tag": "1"}, "'image' is required"),
    ({**BASE, "args": ["-x"]}, "'args' ['-x'] is set but 'command' is empty"),
    ({**BASE, "copy": ["nocolon"]}, 'copy[0] \'nocolon\': expected "host_path:pot_path" (no ":"'),
    ({**BASE, "mount": ["/a:relative"]}, "mount[0] '/a:relative': the path inside the pot "
                                         "'relative' must be absolute"),
    ({**BASE, "mount_read_only": ["/a:/x y"]}, "mounted paths cannot contain whitespace"),
    ({**BASE, "mount": ["/a:/"]}, "/ is not a valid mount point"),
    ({**BASE, "network_mode": "bridge"}, "network_mode 'bridge' is not supported; use one of "
                                         '"public-bridge", "host", "inherit"'),
    ({**BASE, "network_mode": "alias"}, 'network_mode "alias" needs \'ip\''),
    ({**BASE, "network_mode": "alias", "ip": "auto"}, "ip 'auto': \"auto\" is for bridged pots"),
    ({**BASE, "network_mode": "alias", "ip": "10.0.0.300"},
     "ip '10.0.0.300': '10.0.0.300' is not an IP address"),
    ({**BASE, "network_mode": "alias", "ip": ["10.0.0.5", "em 0|10.0.0.6"]},
     "ip[1] 'em 0|10.0.0.6': 'em 0' is not a network interface name"),
    ({**BASE, "network_mode": "alias", "ip": {"a": 1}}, "'ip' must be an address or a list"),
    ({**BASE, "ip": "10.0.0.5"}, "'ip' is only used with network_mode \"alias\" (a "
                                 "'public-bridge' pot gets its address from pot)"),
    ({**BASE, "network_mode": "host", "ip": "10.0.0.5"}, "shares the host's addresses"),
    ({**BASE, "port_map": [{"http": "eighty"}]}, "port_map label 'http': 'eighty' is not a port"),
    ({**BASE, "port_map": ["http=80"]}, "'port_map' must be a map of port labels"),
    ({**BASE, "extra_hosts": ["db:999.1.1.1"]}, "'999.1.1.1' is not an IP address"),
    ({**BASE, "attributes": ["mlok:YES"]}, "'mlok' is not a pot attribute"),
    ({**BASE, "comand": "x"}, "unknown key 'comand' in pot config; did you mean \"command\"?"),
    ({**BASE, "args": "not-a-list", "command": "x"}, "'args' must be a list of strings"),
    ({**BASE, "command": "a\nb"}, "'command' must be one line"),
])
def test_problems_name_the_key_and_quote_the_value(config: dict, message: str) -> None:
    problems = validate_pot_config(config)
    assert any(message in problem for problem in problems), problems


def test_every_problem_is_reported_at_once() -> None:
    problems = validate_pot_config({"args": ["x"], "copy": ["a"], "network_mode": "nat"})
    assert len(problems) == 6, problems


def test_interpolated_values_are_left_for_the_client() -> None:
    assert validate_pot_config({**BASE, "copy": ["${NOMAD_TASK_DIR}/a:${DEST}"],
                                "port_map": {"http": "${PORT}"}}) == []


def _job(task: Task, *, group_ports: list[str], task_ports: list[str] = ()) -> Job:
    task.resources = Resources(networks=[NetworkResource(
        dynamic_ports=[Port(label=label) for label in task_ports])]) if task_ports else None
    return Job(id="j", task_groups=[TaskGroup(name="g", tasks=[task], networks=[
        NetworkResource(dynamic_ports=[Port(label=label) for label in group_ports])])])


def test_submission_checks_port_map_labels_against_the_groups_ports() -> None:
    register()
    task = Task(name="web", driver="pot", config={**BASE, "port_map": [{"http": "80",
                                                                          "admin": "81"}]})
    problems = validate_job_driver_configs(_job(task, group_ports=["http"]))
    assert problems == ['Task "web" in group "g": driver "pot": port_map label "admin" is not '
                        'defined by any port of group "g" (network { port "admin" {} }) or of '
                        'the task\'s resources; defined ports: "http"']


def test_legacy_task_level_ports_count_and_bad_names_are_refused() -> None:
    register()
    task = Task(name="web", driver="pot", config={**BASE, "port_map": {"http": "80"}})
    assert validate_job_driver_configs(_job(task, group_ports=[], task_ports=["http"])) == []
    bad = Task(name="we b", driver="pot", config={**BASE, "tag": ""})
    problems = validate_job_driver_configs(_job(bad, group_ports=[]))
    assert any("'tag' is required" in p for p in problems)
    assert any("cannot be part of a pot name" in p for p in problems)


@pytest.mark.parametrize("attribute", ["persistent", "no-rc-script", "prunable",
                                       "localhost-tunnel", "no-etc-hosts", "no-tmpfs",
                                       "start-at-boot", "early-start-at-boot"])
def test_attributes_the_driver_relies_on_are_refused(attribute: str) -> None:
    problems = validate_pot_config({**BASE, "attributes": [f"{attribute}:YES"]})
    assert problems == [f"attributes[0] '{attribute}:YES': the pot driver sets {attribute!r} "
                        f"itself and relies on it: {RESERVED_ATTRIBUTES[attribute]}"]


@pytest.mark.parametrize(("entry", "message"), [
    ("mlock:maybe", "'mlock' is a boolean attribute: 'maybe' is not one of yes, true, on, no, "
                    "false, off (any case)"),
    ("children:-1", "'children' takes a whole number (digits only), got '-1'"),
    ("stop_timeout:10s", "'stop_timeout' takes a whole number (digits only), got '10s'"),
    ("sysvshm:yes", "'sysvshm' must be one of new, inherit, disable, got 'yes'"),
])
def test_attribute_values_are_type_checked_at_submission(entry: str, message: str) -> None:
    register()
    task = Task(name="web", driver="pot", config={**BASE, "attributes": [entry]})
    problems = validate_job_driver_configs(_job(task, group_ports=[]))
    assert len(problems) == 1 and problems[0].endswith(f"attributes[0] {entry!r}: {message}")


def test_good_attribute_values_pass() -> None:
    parsed = parse_pot_config({**BASE, "attributes": [
        "mlock:on", "raw_sockets:False", "children:0", "sysvsem:inherit",
        "exec_stop:/bin/sh -c 'stop now'", "devfs_ruleset:${NOMAD_META_ruleset}"]})
    assert [a.name for a in parsed.attributes] == ["mlock", "raw_sockets", "children", "sysvsem",
                                                   "exec_stop", "devfs_ruleset"]


def test_the_groups_dns_block_is_checked_at_submission() -> None:
    register()
    task = Task(name="web", driver="pot", config=dict(BASE))
    job = _job(task, group_ports=[])
    job.task_groups[0].networks[0].dns = DNSConfig(
        servers=["10.0.0.1", "dns.local", "10.0.0.2", "10.0.0.3"], searches=["a b"],
        options=["ndots:1;x"])
    problems = validate_job_driver_configs(job)
    assert problems == [
        f'Task "web" in group "g": driver "pot": group "g" network {problem}' for problem in [
            "dns: 4 servers ['10.0.0.1', 'dns.local', '10.0.0.2', '10.0.0.3'], but a pot's "
            "resolver uses at most 3",
            "dns.servers[1] 'dns.local' is not an IP address",
            "dns.searches[0] 'a b' must be one word without '#' or ';'",
            "dns.options[0] 'ndots:1;x' must be one word without '#' or ';'"]]
    job.task_groups[0].networks[0].dns = DNSConfig(servers=["10.0.0.1"], searches=["consul"],
                                                   options=["ndots:2"])
    assert validate_job_driver_configs(job) == []


def test_the_hosts_resolv_conf_is_read_as_nomad_reads_it() -> None:
    host = parse_host_resolv_conf(
        "nameserver 10.0.0.1\nnameserver 10.0.0.2 # primary\nnameserver fd00::1\n"
        "nameserver 10.0.0.4\nsearch a.example b.example\ndomain c.example ; old\n"
        "options ndots:2\n; options ignored\noptions rotate\n")
    # FreeBSD's resolver uses the first 3 servers; the last search/domain line wins
    assert host == DNSConfig(servers=["10.0.0.1", "10.0.0.2", "fd00::1"],
                             searches=["c.example"], options=["ndots:2", "rotate"])
