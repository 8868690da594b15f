"""`nomadjail flavour cook` end to end, in a temp jail root with sysrc/service stand-ins.

The cook runs as the rc script would run it (the CLI, in a subprocess); the
stand-in ``service`` starts a real agent from the rendered config, on a
127.0.0.x address and free ports, registering with a Consul API double.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from nomadjail.agent.addresses import url_host
from nomadjail.agent.config_file import load_config_paths
from nomadjail.testing import free_port, wait_for

from .standins import calls, read_rc_conf

IP = "127.0.0.2"
KEY_32 = "x5Y/Lk3zsH4QnV0mYWJpbWbZ3wOCVvXJkdqZ3Fv7sB0="
GOOD_JOB = '''job "{name}" {{
  datacenters = ["*"]
  group "g" {{
    task "t" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sleep"
        args    = ["300"]
      }}
    }}
  }}
}}
'''


def pot_environment_file(root: Path, variables: dict[str, str]) -> None:
    """What `pot start` writes: set-env variables as `export "NAME=value"`, then
    `pot info -E`'s lines."""
    path = root / "tmp/environment.sh"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f'export "{name}={value}"' for name, value in variables.items()]
    lines += ["export _POT_NAME=nomadjail-server_1",
              f"export _POT_IP={variables.get('IP', IP)}"]
    path.write_text("\n".join(lines) + "\n")


def run_cook(jail, ports: dict[str, int], *extra: str, wait: float = 60
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nomadjail", "flavour", "cook", f"-root={jail.root}",
         f"-wait={wait}", f"-http-port={ports['http']}", f"-rpc-port={ports['rpc']}",
         f"-serf-port={ports['serf']}", *extra],
        env=jail.env(), capture_output=True, text=True, timeout=wait + 60)


def free_port_on(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def free_ports(ip: str = IP) -> dict[str, int]:
    return {name: free_port_on(ip) for name in ("http", "rpc", "serf")}


def api(ports: dict[str, int], path: str, ip: str = IP) -> requests.Response:
    return requests.get(f"http://{url_host(ip)}:{ports['http']}{path}", timeout=10)


def job_versions(ports: dict[str, int], ip: str = IP) -> dict[str, int]:
    return {j["ID"]: api(ports, f"/v1/job/{j['ID']}", ip).json()["Version"]
            for j in api(ports, "/v1/jobs", ip).json()}


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


def service_calls(root: Path) -> list[list[str]]:
    return [c for c in calls(root) if c[0] == "service" and c[-1] != "status"]


def sysrc_writes(root: Path) -> list[list[str]]:
    return [c for c in calls(root) if c[0] == "sysrc" and any("=" in a for a in c[1:])]


def test_cook_configures_starts_imports_and_a_second_run_changes_nothing(jail_root,
                                                                         consul_double):
    root = jail_root.root
    jobs = root / "root/nomadjobs"
    jobs.mkdir(parents=True)
    (jobs / "a-web.nomad").write_text(GOOD_JOB.format(name="web"))
    (jobs / "b-broken.nomad").write_text('job "broken" {\n  group "g" {\n    count = \n')
    (jobs / "c-batch.nomad").write_text(GOOD_JOB.format(name="worker"))
    pot_environment_file(root, {
        "NODENAME": "jail1", "DATACENTER": "lab", "IP": IP, "REGION": "eu",
        "CONSULSERVERS": consul_double.address, "GOSSIPKEY": KEY_32, "IMPORTJOBS": "1",
        "RAFTMULTIPLIER": "2"})
    ports = free_ports()

    first = run_cook(jail_root, ports)
    assert first.returncode == 0, first.stderr

    # The config: where the cook said, private, and what the agent's loader reads.
    config_file = root / "usr/local/etc/nomadjail/server.hcl"
    assert config_file.stat().st_mode & 0o777 == 0o600
    (overlay,) = load_config_paths([str(config_file)])
    assert (overlay["name"], overlay["datacenter"], overlay["region"], overlay["bind_addr"]) \
        == ("jail1", "lab", "eu", IP)
    assert overlay["server"]["encrypt"] == KEY_32
    assert overlay["server"]["raft_multiplier"] == 2
    assert overlay["data_dir"] == str(root / "var/db/nomadjail")

    # rc.conf, through sysrc.
    rc = read_rc_conf(root)
    assert rc["nomadjail_enable"] == "YES"
    assert rc["nomadjail_args"] == f"-config={root / 'usr/local/etc/nomadjail'}"
    assert service_calls(root) == [["service", "nomadjail", "start"]]
    first_writes = sysrc_writes(root)
    assert len(first_writes) == 2

    # The agent serves the API on the configured address, with a leader.
    agent = api(ports, "/v1/agent/self").json()["config"]
    assert (agent["NodeName"], agent["Datacenter"], agent["Region"]) == ("jail1", "lab", "eu")
    assert api(ports, "/v1/status/leader").json() == f"{IP}:{ports['rpc']}"
    assert api(ports, "/ui/").status_code == 200  # UI on by default

    # IMPORTJOBS: the two good files are jobs, the broken one is reported by name.
    assert job_versions(ports) == {"web": 0, "worker": 0}
    assert "b-broken.nomad: not imported" in first.stderr
    assert "b-broken.nomad:3" in first.stderr  # the parse error's location
    assert "job 'web' registered" in first.stderr and "job 'worker' registered" in first.stderr
    cook_log = (root / "var/log/cook.log").read_text()
    assert "b-broken.nomad: not imported" in cook_log
    # No GOSSIPKEY warning: a key was given.
    assert "GOSSIPKEY is not set" not in first.stderr

    # Consul: the server registered itself with potluck's tags.
    http_id = "_nomad-server-jail1-http"
    wait_for(lambda: http_id in consul_double.services, timeout=20,
             message="the server's registration in Consul")
    http = consul_double.services[http_id]
    assert (http["Service"], http["Address"], http["Port"]) == ("nomad", IP, ports["http"])
    assert {"_app=nomadserver", "_service=nomad", "_hostname=jail1.lab.consul"} <= set(
        http["Tags"])
    assert consul_double.catalog("nomad", "serf")[0]["ServicePort"] == ports["serf"]

    # A second start: seasoned, so the cook does nothing at all.
    mtime = config_file.stat().st_mtime_ns
    before = calls(root)
    second = run_cook(jail_root, ports)
    assert second.returncode == 0, second.stderr
    assert "already seasoned" in second.stderr
    assert calls(root) == before
    assert config_file.stat().st_mtime_ns == mtime

    # Cooking again by force changes nothing either: same file, no rc.conf write,
    # no restart, no new job versions.
    evals = {e["ID"] for e in api(ports, "/v1/evaluations").json()}
    forced = run_cook(jail_root, ports, "-force")
    assert forced.returncode == 0, forced.stderr
    assert config_file.stat().st_mtime_ns == mtime
    assert sysrc_writes(root) == first_writes  # read, found right, not written
    assert service_calls(root) == [["service", "nomadjail", "start"]]
    assert "job 'web' unchanged" in forced.stderr and "job 'worker' unchanged" in forced.stderr
    assert job_versions(ports) == {"web": 0, "worker": 0}
    assert {e["ID"] for e in api(ports, "/v1/evaluations").json()} == evals  # not an eval

    # Stopping the service deregisters it from Consul.
    stop = subprocess.run(["service", "nomadjail", "stop"], env=jail_root.env(),
                          capture_output=True, text=True, timeout=60)
    assert stop.returncode == 0, stop.stderr
    ids = {"_nomad-server-jail1-http", "_nomad-server-jail1-rpc", "_nomad-server-jail1-serf"}
    assert {sid for event, sid in consul_double.events if event == "register"} == ids
    assert {sid for event, sid in consul_double.events if event == "deregister"} == ids
    assert consul_double.services == {}


def test_disableui_and_remotelog_reach_the_running_agent(jail_root, consul_double, rsyslog):
    root = jail_root.root
    pot_environment_file(root, {
        "NODENAME": "jail2", "DATACENTER": "dc1", "IP": IP, "BOOTSTRAP": "1",
        "CONSULSERVERS": consul_double.address, "DISABLEUI": "x",
        "REMOTELOG": f"127.0.0.1:{rsyslog.port}"})
    ports = free_ports()
    result = run_cook(jail_root, ports)
    assert result.returncode == 0, result.stderr
    # No GOSSIPKEY: the default key, with a loud warning.
    assert "GOSSIPKEY is not set" in result.stderr and "!!!" in result.stderr

    assert api(ports, "/ui/").status_code == 404
    assert api(ports, "/").status_code == 404
    assert api(ports, "/v1/jobs").status_code == 200  # the API is untouched
    assert api(ports, "/v1/agent/self").json()["config"]["UI"]["Enabled"] is False

    # The agent's own log lines arrive in rsyslog: facility local5, app nomadjail.
    lines = wait_for(lambda: [line for line in rsyslog.lines()
                              if line.startswith("local5|") and "|nomadjail|" in line],
                     timeout=20, message="the agent's log lines in rsyslog")
    assert any("agent: started" in line for line in lines), lines


def test_invalid_variables_stop_the_cook_before_anything_is_written(jail_root):
    root = jail_root.root
    pot_environment_file(root, {"NODENAME": "jail3", "DATACENTER": "dc1", "IP": "10.0.0.300",
                                "CONSULSERVERS": "10.0.0.2, 10.0.0.3", "BOOTSTRAP": "2"})
    result = run_cook(jail_root, free_ports(), wait=5)
    assert result.returncode == 1
    assert "IP='10.0.0.300': must be an IPv4 or IPv6 address" in result.stderr
    assert "CONSULSERVERS='10.0.0.2, 10.0.0.3': must be a comma-separated list" \
        in result.stderr
    assert "BOOTSTRAP='2': must be 1, 3 or 5" in result.stderr
    written = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert written == ["tmp/environment.sh", "var/log/cook.log"]  # the log only
    assert calls(root) == []
    assert not (root / "usr/local/etc/pot-is-seasoned").exists()


def test_a_cluster_member_cooks_successfully_while_its_peers_are_missing(jail_root,
                                                                       consul_double):
    """BOOTSTRAP=3 and no other server yet: the cook succeeds as soon as the API
    answers (the jail is seasoned), and the API answers as Nomad's does meanwhile:
    no leader, reads refused with "No cluster leader"."""
    root = jail_root.root
    pot_environment_file(root, {"NODENAME": "jail4", "DATACENTER": "dc1", "IP": IP,
                                "CONSULSERVERS": consul_double.address, "BOOTSTRAP": "3",
                                "GOSSIPKEY": KEY_32})
    ports = free_ports()
    result = run_cook(jail_root, ports, wait=30)
    assert result.returncode == 0, result.stderr
    assert "the API answers; the cluster of 3 forms once 3 servers" in result.stderr
    assert (root / "usr/local/etc/pot-is-seasoned").exists()
    assert api(ports, "/v1/status/leader").json() == ""
    refused = api(ports, "/v1/jobs")
    assert refused.status_code == 500 and "No cluster leader" in refused.text
    # Meanwhile the agent waits for its peers in Consul, registered so they find it.
    wait_for(lambda: "_nomad-server-jail4-serf" in consul_double.services, timeout=20,
             message="the waiting server's serf registration")
    log = wait_for(lambda: (lambda text: text if "waiting for 3 servers" in text else None)(
        (root / "var/log/nomadjail.log").read_text()), timeout=20,
        message="the agent's log line about waiting for its peers")
    assert "service 'nomad'" in log or 'service "nomad"' in log


def test_three_cooks_form_a_cluster_through_consul_and_the_agents_import_the_jobs(
        make_jail, consul_double):
    """BOOTSTRAP=3: each jail's cook succeeds on its own, one after the other (no
    cook waits for the jails not started yet); the servers find each other in
    Consul -- the first CONSULSERVERS address is down, the second answers -- elect a
    leader, and the agent imports the jobs (IMPORTJOBS=1) once there is one."""
    dead_consul = f"127.0.0.1:{free_port()}"
    jails = []
    for n, ip in enumerate(("127.0.0.2", "127.0.0.3", "127.0.0.4"), start=1):
        jail = make_jail(f"server{n}")
        variables = {"NODENAME": f"server{n}", "DATACENTER": "lab", "IP": ip,
                     "CONSULSERVERS": f"{dead_consul},{consul_double.address}",
                     "BOOTSTRAP": "3", "GOSSIPKEY": KEY_32, "IMPORTJOBS": "1"}
        pot_environment_file(jail.root, variables)
        jails.append((jail, ip, free_ports(ip)))
    jobs = jails[0][0].root / "root/nomadjobs"
    jobs.mkdir(parents=True)
    (jobs / "a-web.nomad").write_text(GOOD_JOB.format(name="web"))
    (jobs / "b-broken.nomad").write_text('job "broken" {\n  group "g" {\n    count = \n')
    (jobs / "c-worker.nomad").write_text(GOOD_JOB.format(name="worker"))

    for jail, _ip, ports in jails:
        result = run_cook(jail, ports, wait=30)
        assert result.returncode == 0, result.stderr
        assert (jail.root / "usr/local/etc/pot-is-seasoned").exists()
        assert "the agent imports the jobs" in result.stderr
        assert read_rc_conf(jail.root)["nomadjail_args"] == (
            f"-config={jail.root / 'usr/local/etc/nomadjail'} "
            f"-import-jobs={jail.root / 'root/nomadjobs'}")

    first, first_ip, first_ports = jails[0]

    def leader() -> str:
        answers = {api(ports, "/v1/status/leader", ip).json() for _, ip, ports in jails}
        return answers.pop() if len(answers) == 1 and answers != {""} else ""

    elected = wait_for(leader, timeout=60, message="one leader known to all three servers")
    assert elected in {f"{ip}:{ports['rpc']}" for _, ip, ports in jails}
    expected = sorted(f"{ip}:{ports['rpc']}" for _, ip, ports in jails)
    # Each server announces its RPC address through raft once there is a leader.
    wait_for(lambda: sorted(api(first_ports, "/v1/status/peers", first_ip).json()) == expected,
             timeout=30, message="every server's RPC address in /v1/status/peers")

    wait_for(lambda: job_versions(first_ports, first_ip) == {"web": 0, "worker": 0},
             timeout=60, message="the jobs imported by the agent once a leader exists")
    log = wait_for(lambda: (lambda text: text if "b-broken.nomad" in text else None)(
        (first.root / "var/log/nomadjail.log").read_text()), timeout=20,
        message="the broken job file reported in the agent's log")
    assert "not imported" in log
    assert {sid for sid in consul_double.services if sid.endswith("-serf")} == {
        f"_nomad-server-server{n}-serf" for n in (1, 2, 3)}


@pytest.mark.skipif(not ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
def test_an_ipv6_address_cooks_into_a_server_that_answers_on_it(jail_root, consul_double):
    """IP=::1: the config binds and advertises ::1, the API answers on [::1]:port and
    the Consul registration carries the address bare and the check URL bracketed."""
    root = jail_root.root
    pot_environment_file(root, {"NODENAME": "six", "DATACENTER": "dc1", "IP": "::1",
                                "CONSULSERVERS": consul_double.address, "GOSSIPKEY": KEY_32})
    ports = free_ports("::1")
    result = run_cook(jail_root, ports, wait=60)
    assert result.returncode == 0, result.stderr + (root / "var/log/nomadjail.log").read_text()
    assert f"answers on http://[::1]:{ports['http']}" in result.stderr
    assert api(ports, "/v1/status/leader", "::1").json() == f"[::1]:{ports['rpc']}"
    assert api(ports, "/v1/jobs", "::1").status_code == 200
    wait_for(lambda: "_nomad-server-six-http" in consul_double.services, timeout=20,
             message="the IPv6 server's registration")
    http = consul_double.services["_nomad-server-six-http"]
    assert (http["Address"], http["Port"]) == ("::1", ports["http"])
    assert http["Check"]["HTTP"] == f"http://[::1]:{ports['http']}/v1/agent/health?type=server"


def test_the_process_environment_is_read_when_pot_wrote_no_file(jail_root):
    """Without /tmp/environment.sh the process environment is used (rc's cook_env)."""
    env = {**jail_root.env(), "NODENAME": "n", "DATACENTER": "dc1", "IP": "not-an-ip",
           "CONSULSERVERS": "127.0.0.1"}
    result = subprocess.run([sys.executable, "-m", "nomadjail", "flavour", "cook",
                             f"-root={jail_root.root}"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert "IP='not-an-ip': must be an IPv4 or IPv6 address" in result.stderr


def test_the_report_says_what_was_done_to_the_service_with_an_enum(tmp_path):
    """In process, with recording tools: a stopped service is started (and nothing
    answers here, so the bounded wait fails the cook without marking it seasoned)."""
    import io

    from nomadjail.appliance import CookOptions, Ports, ServiceAction, cook

    class RecordingTools:
        def __init__(self) -> None:
            self.rc: dict[str, str] = {}
            self.actions: list[tuple[str, str]] = []

        def rc_get(self, name: str) -> str | None:
            return self.rc.get(name)

        def rc_set(self, name: str, value: str) -> None:
            self.rc[name] = value

        def service_status(self, name: str) -> bool:
            return False

        def service_do(self, name: str, action: str) -> str:
            self.actions.append((name, action))
            return ""

    tools = RecordingTools()
    report = cook(CookOptions(root=tmp_path, wait=0, tools=tools, stream=io.StringIO(),
                              ports=Ports(http=free_port_on(IP)),
                              environ={"NODENAME": "n", "DATACENTER": "dc1", "IP": IP,
                                       "CONSULSERVERS": "127.0.0.1"}))
    assert report.service_action is ServiceAction.START
    assert tools.actions == [("nomadjail", "start")]
    assert tools.rc["nomadjail_args"] == f"-config={tmp_path / 'usr/local/etc/nomadjail'}"
    assert report.exit_code == 1 and not (tmp_path / "usr/local/etc/pot-is-seasoned").exists()


def test_the_cook_help_lists_every_variable():
    from click.testing import CliRunner

    from nomadjail.appliance.environment import OPTIONAL, REQUIRED
    from nomadjail.cli.flavour import flavour

    text = " ".join(CliRunner().invoke(flavour, ["cook", "--help"]).output.split())
    assert [name for name in (*REQUIRED, *OPTIONAL) if name not in text] == []
