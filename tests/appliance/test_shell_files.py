"""The appliance's shell side: shellcheck-clean, and shaped the way pot and rc.subr
read it (FreeBSD cannot run here, so rc.subr is replaced by a small fake)."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHELL_FILES = sorted([*REPO.glob("flavour/*.sh"), *REPO.glob("rc.d/*"),
                      *REPO.glob("vagrant/*.sh")])
# Commands pot accepts in a flavour file (pot's _is_cmd_flavorable).
FLAVOUR_COMMANDS = {"add-dep", "set-attribute", "copy-in", "copy-in-flv", "mount-in",
                    "set-rss", "export-ports", "set-cmd", "set-env"}


def test_there_are_shell_files_to_check():
    names = {str(p.relative_to(REPO)) for p in SHELL_FILES}
    assert {"flavour/bootstrap.sh", "rc.d/nomadjail", "rc.d/cook"} <= names


@pytest.mark.parametrize("path", SHELL_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_shellcheck_passes(path):
    if not shutil.which("shellcheck"):
        pytest.fail("shellcheck is needed for this test: make test-deps")
    result = subprocess.run(["shellcheck", str(path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


FAKE_RC_SUBR = '''
load_rc_config() { . "$FAKE_RC_CONF"; }
run_rc_command() {
	case "$1" in
	start) echo "precmd=$start_precmd"; echo "env=${nomadjail_env}";
		echo "user=${nomadjail_user}"; echo "$command $command_args" ;;
	rcvar) echo "$rcvar" ;;
	esac
}
'''


def rc_script_output(tmp_path: Path, script: str, rc_conf: str, action: str) -> str:
    fake = tmp_path / "rc.subr"
    fake.write_text(FAKE_RC_SUBR)
    conf = tmp_path / "rc.conf"
    conf.write_text(rc_conf)
    body = (REPO / "rc.d" / script).read_text().replace(". /etc/rc.subr", f". {fake}")
    copy = tmp_path / script
    copy.write_text(body)
    result = subprocess.run(["sh", str(copy), action], capture_output=True, text=True,
                            env={"FAKE_RC_CONF": str(conf), "PATH": "/usr/bin:/bin"},
                            timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_agent_runs_under_daemon_with_restart_and_the_rc_conf_args(tmp_path):
    out = rc_script_output(tmp_path, "nomadjail", 'nomadjail_enable="YES"\n'
                           'nomadjail_args="-config=/etc/x -log-level=DEBUG"\n'
                           'nomadjail_env="NOMAD_ADDR=http://10.0.0.5:4646"\n', "start")
    lines = dict(line.split("=", 1) for line in out.splitlines()[:3])
    assert lines == {"precmd": "nomadjail_prestart", "env": "NOMAD_ADDR=http://10.0.0.5:4646",
                     "user": "root"}
    command = out.splitlines()[3].split()
    assert command[0] == "/usr/sbin/daemon"
    assert "-r" in command and command[command.index("-R") + 1] == "5"
    assert command[command.index("-P") + 1] == "/var/run/nomadjail/nomadjail.pid"
    assert command[command.index("-p") + 1] == "/var/run/nomadjail/agent.pid"
    assert command[command.index("-o") + 1] == "/var/log/nomadjail.log"
    assert command[-4:] == ["/usr/local/bin/nomadjail", "agent", "-config=/etc/x",
                            "-log-level=DEBUG"]


def test_defaults_without_rc_conf_settings(tmp_path):
    out = rc_script_output(tmp_path, "nomadjail", "", "start")
    assert out.splitlines()[3].endswith(
        "/usr/local/bin/nomadjail agent -config=/usr/local/etc/nomadjail")
    assert rc_script_output(tmp_path, "cook", "", "rcvar").strip() == "cook_enable"


def test_the_flavour_is_in_potlucks_format():
    flavour = REPO / "flavour"
    assert (flavour / "nomadjail-server.sh").resolve() == (flavour / "bootstrap.sh").resolve()
    for line in (flavour / "nomadjail-server").read_text().splitlines():
        assert line.split()[0] in FLAVOUR_COMMANDS, line
    manifest = configparser.ConfigParser()
    manifest.read(flavour / "nomadjail-server.ini")
    entries = {k: v.strip('"') for k, v in manifest["manifest"].items()}
    assert entries["potname"] == "nomadjail-server"
    assert entries["runs_in_nomad"] == "false"
    changelog_top = (flavour / "CHANGELOG.md").read_text().split("\n", 1)[0].strip()
    assert entries["version"] == changelog_top


def test_the_payload_lives_in_the_flavours_own_d_directory():
    """potluck's layout: <flavour>.d/ holds what the flavour copies in, so flavours
    sharing /usr/local/etc/pot/flavours/ do not share a payload directory."""
    flavour = REPO / "flavour"
    sources = []
    for line in (flavour / "nomadjail-server").read_text().splitlines():
        words = line.split()
        if words[0] == "copy-in-flv":
            sources.append(words[words.index("-s") + 1])
    assert sources == ["nomadjail-server.d/wheels"]
    assert (flavour / sources[0] / "README.md").is_file()
    assert not (flavour / "dist").exists()


def run_bootstrap(tmp_path: Path, wheels: list[str]) -> subprocess.CompletedProcess[str]:
    payload = tmp_path / "payload"
    (payload / "wheels").mkdir(parents=True)
    for name in wheels:
        (payload / "wheels" / name).write_text("not really a wheel")
    return subprocess.run(["sh", str(REPO / "flavour/bootstrap.sh")], capture_output=True,
                          text=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin", "NOMADJAIL_PAYLOAD": str(payload),
                               "NOMADJAIL_COOKLOG": str(tmp_path / "cook.log")})


@pytest.mark.parametrize("wheels, message", [
    ([], "no nomadjail wheel (nomadjail-*.whl) in"),
    (["nomadjail-0.1.0-py3-none-any.whl", "nomadjail-0.2.0-py3-none-any.whl"],
     "more than one nomadjail wheel in"),
])
def test_bootstrap_stops_first_thing_without_exactly_one_wheel(tmp_path, wheels, message):
    """nomadjail is not on PyPI: no silent `pip install nomadjail`, and nothing is
    installed before the wheel is found."""
    result = run_bootstrap(tmp_path, wheels)
    assert result.returncode == 1
    assert message in result.stderr
    assert "flavour/nomadjail-server.d/wheels" in result.stderr  # where to put it
    log = (tmp_path / "cook.log").read_text()
    assert message in log
    assert "Bootstrap the package tool" not in result.stdout + log


def rc_keywords(script: str) -> dict[str, list[str]]:
    """rcorder's header lines (``# PROVIDE: ...``) of an rc script."""
    found: dict[str, list[str]] = {}
    for line in (REPO / "rc.d" / script).read_text().splitlines():
        for key in ("PROVIDE", "REQUIRE", "BEFORE", "KEYWORD"):
            if line.startswith(f"# {key}:"):
                found[key] = line.split(":", 1)[1].split()
    return found


def test_the_cook_runs_after_the_nomadjail_rc_script():
    """At the first start rc skips nomadjail (not enabled yet) and the cook starts it;
    run before it, the cook's start would make rc's own start fail "already running?"."""
    cook, agent = rc_keywords("cook"), rc_keywords("nomadjail")
    assert "nomadjail" in cook["REQUIRE"] and "nomadjail" not in cook.get("BEFORE", [])
    assert "cook" not in agent.get("REQUIRE", []) + agent.get("BEFORE", [])
