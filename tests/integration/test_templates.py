"""Job templates end to end: a real agent renders a task's config from a Nomad variable, a
Nomad service, a Consul KV key (the Consul double) and the task's env; the task prints it;
changing the variable re-renders the file and restarts the task, changing a key watched
by a signal template signals it; a template with a syntax error is refused at submit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from nomadjail.structs import (
    SECOND,
    Job,
    NetworkResource,
    Port,
    Resources,
    Task,
    TaskGroup,
    Template,
    to_api,
)
from nomadjail.structs.services import Service
from nomadjail.testing import AgentProcess, make_agent, wait_for

from ..doubles.consul import ConsulDouble

APP_CONF = '''password={{ with nomadVar "nomad/jobs/tpl" }}{{ .password }}{{ end }}
{{ range nomadService "backend" }}backend={{ .Address }}:{{ .Port }}
{{ end }}greeting={{ key "app/greeting" }}
task={{ env "NOMAD_TASK_NAME" }}
{{ range nomadServices }}service={{ .Name }}
{{ end }}{{ range nomadService 1 (env "NOMAD_ALLOC_ID") "backend" }}chosen={{ .Port }}
{{ end }}'''
WEB_COMMAND = 'cat local/app.conf; echo "env GREETING=$GREETING"; echo ---; exec sleep 3600'
SIG_COMMAND = ('trap \'echo "got signal: $(cat local/sig.txt)"\' USR1; cat local/sig.txt; echo; '
               'while true; do sleep 0.1; done')


def sh(command: str) -> dict[str, Any]:
    return {"command": "/bin/sh", "args": ["-c", command]}


def template_job() -> dict[str, Any]:
    web = Task(name="web", driver="raw_exec", config=sh(WEB_COMMAND), kill_timeout=SECOND,
               resources=Resources(cpu=20, memory_mb=32), templates=[
                   Template(embedded_tmpl=APP_CONF, dest_path="local/app.conf", splay=0),
                   Template(embedded_tmpl='GREETING={{ key "app/greeting" }}\n',
                            dest_path="secrets/greeting.env", envvars=True, splay=0)])
    sig = Task(name="sig", driver="raw_exec", config=sh(SIG_COMMAND), kill_timeout=SECOND,
               resources=Resources(cpu=20, memory_mb=32), templates=[
                   Template(embedded_tmpl='sig={{ key "app/sig" }}', dest_path="local/sig.txt",
                            change_mode="signal", change_signal="SIGUSR1", splay=0)])
    backend = Task(name="backend", driver="raw_exec", config=sh("exec sleep 3600"),
                   kill_timeout=SECOND, resources=Resources(cpu=20, memory_mb=32))
    job = Job(id="tpl", datacenters=["*"], task_groups=[
        TaskGroup(name="front", tasks=[web, sig]),
        TaskGroup(name="back", tasks=[backend],
                  networks=[NetworkResource(dynamic_ports=[Port(label="http")])],
                  services=[Service(name="backend", port_label="http", provider="nomad")])])
    return {"Job": to_api(job)}


@pytest.fixture(scope="module")
def consul() -> Iterator[ConsulDouble]:
    double = ConsulDouble(run_checks=False).start()
    try:
        yield double
    finally:
        double.close()


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory,
          consul: ConsulDouble) -> Iterator[AgentProcess]:
    process = make_agent(tmp_path_factory.mktemp("templates-agent"), config={
        "consul": {"address": consul.address, "auto_advertise": False},
        # An hour's poll: every re-render below comes from a blocking-query watcher.
        "client": {"network_interface": "lo",
                   "template": {"watch_interval": "1h", "block_query_wait": "30s"}}})
    process.start()
    try:
        yield process
    finally:
        process.stop()


def put_var(agent: AgentProcess, path: str, items: dict[str, str]) -> None:
    answer = agent.request("PUT", f"/v1/var/{path}", {"Items": items})
    assert answer.status_code == 200, answer.text


def stdout(agent: AgentProcess, alloc_id: str, task: str) -> str:
    resp = agent.get(f"/v1/client/fs/logs/{alloc_id}", task=task, type="stdout",
                     plain="true", origin="start")
    return resp.text if resp.status_code == 200 else ""


def alloc_of(agent: AgentProcess, group: str) -> dict[str, Any] | None:
    for alloc in agent.json("/v1/job/tpl/allocations"):
        if alloc["TaskGroup"] == group and alloc["DesiredStatus"] == "run":
            return alloc
    return None


def task_state(agent: AgentProcess, alloc_id: str, task: str) -> dict[str, Any]:
    return agent.json(f"/v1/allocation/{alloc_id}")["TaskStates"].get(task) or {}


def events(agent: AgentProcess, alloc_id: str, task: str) -> list[str]:
    return [e["DisplayMessage"] for e in task_state(agent, alloc_id, task).get("Events") or []]


def test_a_template_renders_a_variable_a_service_and_a_key_and_follows_changes(agent,
                                                                               consul):
    put_var(agent, "nomad/jobs/tpl", {"password": "one"})
    consul.kv_put("app/sig", "first")
    answer = agent.request("POST", "/v1/jobs", template_job())
    assert answer.status_code == 200, answer.text
    front = wait_for(lambda: alloc_of(agent, "front"), timeout=20, message="front alloc")
    # The Consul key does not exist yet: the task waits, saying what it waits for.
    wait_for(lambda: any(m.startswith("Missing: ") and "kv.block(app/greeting)" in m
                         for m in events(agent, front["ID"], "web")),
             timeout=20, message="a Missing event naming the key")
    assert task_state(agent, front["ID"], "web").get("State") == "pending"
    consul.kv_put("app/greeting", "hello")

    output = wait_for(lambda: "---" in (out := stdout(agent, front["ID"], "web")) and out,
                      timeout=30, message="the task printing its rendered config")
    back = alloc_of(agent, "back")
    assert back is not None
    port = agent.json(f"/v1/allocation/{back['ID']}")[
        "AllocatedResources"]["Shared"]["Ports"][0]["Value"]
    assert output.split("---")[0] == (
        f"password=one\nbackend=127.0.0.1:{port}\ngreeting=hello\ntask=web\n"
        f"service=backend\nchosen={port}\nenv GREETING=hello\n")

    # change the variable: the file is rendered again and the task restarted
    put_var(agent, "nomad/jobs/tpl", {"password": "two"})
    wait_for(lambda: "password=two" in stdout(agent, front["ID"], "web"), timeout=30,
             message="the restarted task printing the new password")
    # task states reach the servers in batches: wait for them rather than race them
    wait_for(lambda: "Template with change_mode restart re-rendered" in events(
        agent, front["ID"], "web"), timeout=20, message="the restart event")
    wait_for(lambda: task_state(agent, front["ID"], "web")["Restarts"] == 1, timeout=20,
             message="one restart counted")

    # change the key a signal template reads: the task gets SIGUSR1, not a restart
    assert "sig=first" in stdout(agent, front["ID"], "sig")
    consul.kv_put("app/sig", "second")
    wait_for(lambda: "got signal: sig=second" in stdout(agent, front["ID"], "sig"),
             timeout=30, message="the signalled task printing the new file")
    wait_for(lambda: "Template re-rendered" in events(agent, front["ID"], "sig"), timeout=20,
             message="the signal event")
    assert task_state(agent, front["ID"], "sig")["Restarts"] == 0

    answer = agent.request("DELETE", "/v1/job/tpl", purge="true")
    assert answer.status_code == 200, answer.text


def test_a_template_syntax_error_is_refused_at_submit_with_line_and_column(agent):
    body = template_job()
    body["Job"]["ID"] = body["Job"]["Name"] = "broken"
    web = body["Job"]["TaskGroups"][0]["Tasks"][0]
    web["Templates"][0]["EmbeddedTmpl"] = "ok\n{{ range .x }}\nno end\n"
    answer = agent.request("POST", "/v1/jobs", body)
    assert answer.status_code == 400
    assert "Template 1 validation failed: template: local/app.conf:" in answer.text
    assert agent.request("GET", "/v1/job/broken").status_code == 404


def test_a_template_that_cannot_render_fails_the_task_with_nomads_event(agent):
    task = Task(name="bad", driver="raw_exec", config=sh("exec sleep 3600"),
                kill_timeout=SECOND, resources=Resources(cpu=20, memory_mb=32), templates=[
                    Template(embedded_tmpl='{{ parseInt "abc" }}', dest_path="local/x"),
                    Template(source_path="/etc/hostname", dest_path="local/y")])
    job = Job(id="badtpl", datacenters=["*"], type="batch",
              task_groups=[TaskGroup(name="bad", tasks=[task])])
    answer = agent.request("POST", "/v1/jobs", {"Job": to_api(job)})
    assert answer.status_code == 200, answer.text
    alloc = wait_for(lambda: next((a for a in agent.json("/v1/job/badtpl/allocations")
                                   if a["ClientStatus"] == "failed"), None),
                     timeout=30, message="the allocation failing")
    state = task_state(agent, alloc["ID"], "bad")
    failed = [e for e in state["Events"] if e["DisplayMessage"].startswith("Template failed: ")]
    assert failed and failed[0]["Type"] == "Killing" and failed[0]["FailsTask"]
    assert failed[0]["DisplayMessage"].startswith("Template failed: template: local/x:1:")
    assert state["Failed"] and state["Restarts"] == 0
    agent.request("DELETE", "/v1/job/badtpl", purge="true")
