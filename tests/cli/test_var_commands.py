"""``var put|get|list|purge`` and ``operator root keyring``: Nomad's flags, output and exit
codes, run in process against a real in-memory agent's HTTP app (no sockets)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import falcon.testing
import pytest
from click.testing import CliRunner, Result

from nomadjail.agent.agent import Agent
from nomadjail.agent.config import AgentConfig
from nomadjail.cli.main import cli
from nomadjail.cli.meta import CliEnv
from nomadjail.testing import free_port

from ..doubles.app_transport import AppTransport


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[falcon.testing.TestClient]:
    from nomadjail.http import create_app

    config = AgentConfig(name="var-cli", bind_addr="127.0.0.1", dev_mode=True,
                         data_dir=str(tmp_path_factory.mktemp("var-cli")))
    config.ports.serf = free_port()
    config.server.enabled = True
    agent = Agent(config)
    agent.start()
    try:
        assert agent.require_server().wait_for_leader(30)
        yield falcon.testing.TestClient(create_app(agent))
    finally:
        agent.shutdown()


@pytest.fixture
def run(api: falcon.testing.TestClient):
    def invoke(*args: str, input: str | None = None, tty: bool = False) -> Result:
        env = CliEnv(transport_for=lambda _addr: AppTransport(api), environ={},
                     stdout_isatty=lambda: tty)
        return CliRunner().invoke(cli, list(args), obj=env, input=input,
                                  catch_exceptions=False)

    return invoke


def test_put_get_list_purge_round_trip(run) -> None:
    put = run("var", "put", "-out=none", "cli/db", "user=admin", "password=s3cret")
    assert put.exit_code == 0, put.output
    assert put.output.startswith('Created variable "cli/db" with modify index ')

    got = run("var", "get", "cli/db")  # not a terminal: JSON
    assert got.exit_code == 0
    data = json.loads(got.output)
    assert list(data) == ["Namespace", "Path", "CreateIndex", "ModifyIndex", "CreateTime",
                          "ModifyTime", "Items"]
    assert data["Items"] == {"password": "s3cret", "user": "admin"}
    assert got.output.startswith('{\n  "Namespace": "default",\n  "Path": "cli/db",')

    item = run("var", "get", "-item=password", "cli/db")
    assert item.exit_code == 0 and item.output == "s3cret"
    missing_item = run("var", "get", "-item=nope", "cli/db")
    assert missing_item.exit_code == 1 and 'Variable does not contain "nope" item' in \
        missing_item.output

    table = run("var", "get", "-out=table", "cli/db")
    lines = table.output.splitlines()
    assert lines[0] == "Namespace   = default" and lines[1] == "Path        = cli/db"
    assert lines[3] == f"Check Index = {data['ModifyIndex']}"
    assert lines[-3:] == ["Items", "password = s3cret", "user     = admin"]

    listed = run("var", "list", "cli/")
    assert listed.exit_code == 0
    assert listed.output.splitlines()[0].split() == ["Namespace", "Path", "Last", "Updated"]
    assert listed.output.splitlines()[1].split()[:2] == ["default", "cli/db"]
    quiet = run("var", "list", "-q", "cli/")
    assert quiet.output == "cli/db\n"
    as_json = json.loads(run("var", "list", "-json", "cli/").output)
    assert [v["Path"] for v in as_json] == ["cli/db"] and "Items" not in as_json[0]

    purged = run("var", "purge", "cli/db")
    assert purged.exit_code == 0 and purged.output == 'Successfully purged variable "cli/db"!\n'
    gone = run("var", "get", "cli/db")
    assert gone.exit_code == 1 and "Variable not found" in gone.output
    assert run("var", "list", "cli/").output == "No matching variables found\n"


def test_put_does_not_overwrite_without_force_or_check_index(run) -> None:
    first = run("var", "put", "-out=json", "cli/cas", "v=1")
    index = json.loads(first.output)["ModifyIndex"]
    again = run("var", "put", "cli/cas", "v=2")
    assert again.exit_code == 1
    assert "Check-and-Set conflict" in again.output
    assert f"server-side index ({index})" in again.output
    assert f"-check-index={index}" in again.output
    assert json.loads(run("var", "get", "cli/cas").output)["Items"] == {"v": "1"}

    checked = run("var", "put", f"-check-index={index}", "-out=json", "cli/cas", "v=3")
    assert checked.exit_code == 0 and json.loads(checked.output)["Items"] == {"v": "3"}
    forced = run("var", "put", "-force", "-out=json", "cli/cas", "v=4")
    assert forced.exit_code == 0 and json.loads(forced.output)["Items"] == {"v": "4"}
    stale = run("var", "purge", f"-check-index={index}", "cli/cas")
    assert stale.exit_code == 1 and "Check-and-Set conflict" in stale.output
    assert run("var", "purge", "cli/cas").exit_code == 0


def test_hcl_output_reads_back_as_a_specification(run, tmp_path: Path) -> None:
    put = run("var", "put", "-out=hcl", "cli/spec", "a=1", "longer_key=two words")
    assert put.exit_code == 0, put.output
    assert put.output.startswith('\nnamespace    = "default"\npath         = "cli/spec"\n')
    assert '\nitems = {\n           a = "1"\n  longer_key = "two words"\n}\n' in put.output
    spec = tmp_path / "copy.hcl"
    spec.write_text(put.output)
    copied = run("var", "put", "-out=json", "cli/copied", f"@{spec}")
    assert copied.exit_code == 0, copied.output
    assert json.loads(copied.output)["Items"] == {"a": "1", "longer_key": "two words"}
    from_stdin = run("var", "put", "-in=json", "-out=json", "-",
                     input=json.dumps({"Path": "cli/stdin", "Items": {"k": "v"}}))
    assert from_stdin.exit_code == 0, from_stdin.output
    assert json.loads(from_stdin.output)["Path"] == "cli/stdin"


def test_go_template_output(run) -> None:
    run("var", "put", "-out=none", "cli/tpl", "user=admin")
    out = run("var", "get", "-out=go-template", "-template={{.Path}}: {{.Items.user}}",
              "cli/tpl")
    assert out.exit_code == 0, out.output
    assert out.output == "cli/tpl: admin\n"


@pytest.mark.parametrize(("args", "says"), [
    (("var", "put", "cli/x"), "Must supply data"),
    (("var", "put"), "Not enough arguments"),
    (("var", "put", "-out=xml", "cli/x", "a=b"), 'Invalid value for "-out"'),
    (("var", "put", "-in=yaml", "cli/x", "a=b"), 'Invalid value for "-in"'),
    (("var", "put", "-out=go-template", "cli/x", "a=b"), "A template must be supplied"),
    (("var", "put", "-template=x", "cli/x", "a=b"), "only valid when using 'go-template'"),
    (("var", "put", "-check-index=abc", "cli/x", "a=b"), "Error parsing check-index"),
    (("var", "put", "cli/x", "novalue"), "format must be key=value"),
    (("var", "put", "bad.path", "a=b"), "invalid path 'bad.path'"),
    (("var", "put", "cli/x", "@nowhere.json"), "Error reading 'nowhere.json'"),
    (("var", "put", "-namespace=*", "cli/x", "a=b"), 'wildcard namespace ("*")'),
    (("var", "get"), "This command takes one argument: <path>"),
    (("var", "get", "-out=go-template", "-template={{.Nope", "cli/x"), "template: var:1"),
    (("var", "list", "a", "b"), "either no arguments or one"),
])
def test_bad_input_is_an_error_and_stores_nothing(run, args: tuple[str, ...],
                                                  says: str) -> None:
    if args[-1] == "cli/x" and args[1] == "get":
        run("var", "put", "-force", "-out=none", "cli/x", "k=v")
    before = run("var", "list", "-json").output
    result = run(*args)
    assert result.exit_code == 1
    assert says in result.output
    assert run("var", "list", "-json").output == before


def test_keyring_list_rotate_remove(run) -> None:
    listed = run("operator", "root", "keyring", "list", "-verbose")
    assert listed.exit_code == 0
    rows = listed.output.splitlines()
    assert rows[0].split() == ["Key", "State", "Create", "Time"]
    [old] = [r.split()[0] for r in rows[1:] if r.split()[1] == "active"]
    rotated = run("operator", "root", "keyring", "rotate", "-full")
    assert rotated.exit_code == 0
    new = rotated.output.splitlines()[1].split()
    assert new[1] == "active" and len(new[0]) == 8
    states = {r.split()[0]: r.split()[1] for r in
              run("operator", "root", "keyring", "list", "-verbose").output.splitlines()[1:]}
    assert states[old] == "deprecated"
    active = next(k for k, s in states.items() if s == "active")
    refused = run("operator", "root", "keyring", "remove", active)
    assert refused.exit_code == 1 and "active root key cannot be deleted" in refused.output
    removed = run("operator", "root", "keyring", "remove", old[:8])
    assert removed.exit_code == 0 and removed.output == f"Removed encryption key {old}\n"



@pytest.mark.parametrize("out", ["hcl", "json"])
def test_init_writes_a_specification_put_reads(run, tmp_path: Path, monkeypatch,
                                               out: str) -> None:
    monkeypatch.chdir(tmp_path)
    made = run("var", "init", f"-out={out}")
    assert made.exit_code == 0
    assert f"Example variable specification written to spec.nv.{out}" in made.output
    again = run("var", "init", f"-out={out}")
    assert again.exit_code == 1 and "already exists" in again.output
    put = run("var", "put", "-out=json", f"cli/init-{out}", f"@spec.nv.{out}")
    assert put.exit_code == 0, put.output
    assert json.loads(put.output)["Items"] == {"password": "change-me", "user": "admin"}
