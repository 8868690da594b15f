"""The template manager: the first render waits for data with "Missing" events, files and
env are written, the watcher re-renders on change and applies change_mode once per batch."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

from nomadjail.client.templates.config import TemplateConfig
from nomadjail.client.templates.manager import RenderError, TemplateManager, missing_message
from nomadjail.client.templates.sources import TemplateSources, file_reader
from nomadjail.drivers.base import TaskHandle
from nomadjail.gotemplate.consul import Dependency, DependencyKind
from nomadjail.structs import ChangeScript, TaskEvent, Template, WaitConfig
from nomadjail.testing import wait_for

from .fakes import FakeConsul, FakeControl, FakeDriver, FakeNomad

FAST = TemplateConfig(watch_interval=0.05, missing_event_interval=0.0)


class Harness:
    def __init__(self, tmp_path, templates: list[Template], *, config: TemplateConfig = FAST,
                 env: dict[str, str] | None = None) -> None:
        self.alloc_dir = str(tmp_path / "alloc-1")
        self.task_dir = os.path.join(self.alloc_dir, "web")
        os.makedirs(os.path.join(self.task_dir, "local"))
        self.consul, self.nomad = FakeConsul(), FakeNomad()
        self.control = FakeControl(handle_value=TaskHandle(driver="mock", task_id="t"))
        self.driver = FakeDriver()
        self.events: list[TaskEvent] = []
        for tmpl in templates:
            tmpl.canonicalize()
            tmpl.splay = 0 if tmpl.splay == 5_000_000_000 else tmpl.splay
        sources = TemplateSources(consul=self.consul, nomad=self.nomad, variables=self.nomad,
                                  namespace="default", alloc_id="alloc-1",
                                  read_file=file_reader(self.alloc_dir))
        self.manager = TemplateManager(
            templates, task_dir=self.task_dir, alloc_dir=self.alloc_dir, namespace="default",
            env=lambda: env or {"NOMAD_TASK_NAME": "web"}, sources=sources, config=config,
            emit=self.events.append, control=self.control,
            driver=self.driver)  # type: ignore[arg-type]  # the fake has what change_mode uses

    def read(self, rel: str) -> str:
        with open(os.path.join(self.task_dir, rel)) as handle:
            return handle.read()

    def displays(self) -> list[str]:
        return [e.display_message for e in self.events]


@pytest.fixture
def harnesses() -> Iterator[list[Harness]]:
    made: list[Harness] = []
    yield made
    for h in made:
        h.manager.stop()


def make(harnesses, tmp_path, templates, **kw) -> Harness:
    h = Harness(tmp_path, templates, **kw)
    harnesses.append(h)
    return h


def test_first_render_writes_files_and_env(tmp_path, harnesses):
    h = make(harnesses, tmp_path, [
        Template(embedded_tmpl='port={{ key "app/port" }} task={{ env "NOMAD_TASK_NAME" }}\n',
                 dest_path="local/app.conf", perms="0600"),
        Template(embedded_tmpl='PORT={{ key "app/port" }}\n', dest_path="secrets/app.env",
                 envvars=True)])
    h.consul.kv["app/port"] = "8080"
    assert h.manager.first_render() is True
    assert h.read("local/app.conf") == "port=8080 task=web\n"
    assert oct(os.stat(os.path.join(h.task_dir, "local/app.conf")).st_mode & 0o777) == "0o600"
    assert h.manager.template_env == {"PORT": "8080"}
    assert h.events == []


def test_first_render_waits_for_missing_data_with_nomads_event(tmp_path, harnesses):
    h = make(harnesses, tmp_path, [Template(embedded_tmpl='{{ key "app/port" }}',
                                            dest_path="local/app.conf")])
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(h.manager.first_render()))
    thread.start()
    wait_for(lambda: "Missing: kv.block(app/port)" in h.displays(), message="Missing event")
    assert not os.path.exists(os.path.join(h.task_dir, "local/app.conf"))
    h.consul.kv["app/port"] = "9090"
    thread.join(10)
    assert result == [True] and h.read("local/app.conf") == "9090"
    assert h.events[0].type == "Template"


def test_first_render_stops_when_the_task_is_killed(tmp_path, harnesses):
    h = make(harnesses, tmp_path, [Template(embedded_tmpl='{{ key "never" }}',
                                            dest_path="local/x")])
    killed = threading.Event()
    threading.Timer(0.2, killed.set).start()
    assert h.manager.first_render(killed.is_set) is False


def test_missing_message_names_three_and_counts_the_rest():
    deps = [Dependency(DependencyKind.KV_GET, path=f"k{i}", block=True) for i in range(5)]
    assert missing_message(deps) == ("Missing: kv.block(k0), kv.block(k1), kv.block(k2), "
                                     "and 2 more")
    var = Dependency(DependencyKind.NOMAD_VAR_GET, path="nomad/jobs/web", namespace="default",
                     block=True)
    assert missing_message([var]) == "Missing: nomad.var.block(nomad/jobs/web@default.global)"


def test_a_syntax_error_or_escape_is_a_render_error_naming_the_template(tmp_path, harnesses):
    h = make(harnesses, tmp_path, [Template(embedded_tmpl="{{ if }}", dest_path="local/a")])
    with pytest.raises(RenderError, match="template: local/a:1"):
        h.manager.first_render()
    h2 = make(harnesses, tmp_path / "2", [Template(embedded_tmpl="x",
                                                   dest_path="../../../etc/x")])
    with pytest.raises(RenderError, match="destination path escapes alloc directory"):
        h2.manager.first_render()


def test_source_templates_are_read_from_the_task_dir(tmp_path, harnesses):
    h = make(harnesses, tmp_path, [Template(source_path="local/in.tpl",
                                            dest_path="local/out.txt")])
    with open(os.path.join(h.task_dir, "local/in.tpl"), "w") as handle:
        handle.write('[[ "unused" ]]{{ env "NOMAD_TASK_NAME" }}')
    h.manager.first_render()
    assert h.read("local/out.txt") == '[[ "unused" ]]web'


def test_denylisted_function_fails_the_render(tmp_path, harnesses):
    h = make(harnesses, tmp_path, [Template(embedded_tmpl='{{ plugin "x" }}',
                                            dest_path="local/a")])
    with pytest.raises(RenderError, match="function_denylist"):
        h.manager.first_render()


def test_change_restarts_once_for_several_templates(tmp_path, harnesses):
    h = make(harnesses, tmp_path, [
        Template(embedded_tmpl='{{ key "v" }}', dest_path="local/a"),
        Template(embedded_tmpl='b{{ key "v" }}', dest_path="local/b"),
        Template(embedded_tmpl='static', dest_path="local/c")])
    h.consul.kv["v"] = "1"
    h.manager.first_render()
    h.manager.start_watching()
    h.consul.kv["v"] = "2"
    wait_for(lambda: h.control.restarts, message="restart")
    assert h.read("local/a") == "2" and h.read("local/b") == "b2"
    assert [e.display_message for e in h.control.restarts] == [
        "Template with change_mode restart re-rendered"]
    assert h.control.restarts[0].type == "Restart Signaled"


def test_signal_templates_send_each_signal_once(tmp_path, harnesses):
    h = make(harnesses, tmp_path, [
        Template(embedded_tmpl='{{ key "v" }}', dest_path="local/a", change_mode="signal"),
        Template(embedded_tmpl='{{ key "v" }}!', dest_path="local/b", change_mode="signal",
                 change_signal="SIGHUP"),
        Template(embedded_tmpl='{{ key "v" }}', dest_path="local/c", change_mode="noop")])
    h.consul.kv["v"] = "1"
    h.manager.first_render()
    h.manager.start_watching()
    h.consul.kv["v"] = "2"
    wait_for(lambda: h.driver.signals, message="signal")
    assert h.driver.signals == ["SIGHUP"] and h.control.restarts == []
    assert "Template re-rendered" in h.displays()
    assert h.read("local/c") == "2"  # noop templates still re-render their file


def test_script_change_mode_runs_the_script_and_reports(tmp_path, harnesses):
    script = ChangeScript(command="/local/reload.sh", args=["now"], fail_on_error=True)
    h = make(harnesses, tmp_path, [Template(embedded_tmpl='{{ key "v" }}', dest_path="local/a",
                                            change_mode="script", change_script=script)])
    h.consul.kv["v"] = "1"
    h.manager.first_render()
    h.manager.start_watching()
    h.consul.kv["v"] = "2"
    wait_for(lambda: h.driver.execs, message="script run")
    assert h.driver.execs == [["/local/reload.sh", "now"]]
    wait_for(lambda: "Template successfully ran script /local/reload.sh with arguments: [now]."
             " Exit code: 0" in h.displays(), message="script event")
    h.driver.exit_code = 3
    h.consul.kv["v"] = "3"
    wait_for(lambda: h.control.kills, message="kill after the failed script")
    assert ("Template ran script /local/reload.sh with arguments [now] on change but it "
            "exited with code: 3") in h.displays()
    assert h.control.kills[0] is not None
    assert h.control.kills[0].display_message == "Template script failed, task is being killed"
    assert h.control.kills[0].fails_task


def test_once_templates_are_not_rendered_again(tmp_path, harnesses):
    h = make(harnesses, tmp_path, [Template(embedded_tmpl='{{ key "v" }}', dest_path="local/a",
                                            once=True)])
    h.consul.kv["v"] = "1"
    h.manager.first_render()
    h.manager.start_watching()
    h.consul.kv["v"] = "2"
    assert h.manager._thread is None  # nothing to watch
    assert h.read("local/a") == "1"


def test_wait_min_lets_changes_settle_into_one_render(tmp_path, harnesses):
    h = make(harnesses, tmp_path, [Template(embedded_tmpl='{{ key "v" }}', dest_path="local/a",
                                            wait=WaitConfig(min=300_000_000,
                                                            max=5_000_000_000))])
    h.consul.kv["v"] = "1"
    h.manager.first_render()
    h.manager.start_watching()
    for value in ("2", "3", "4"):
        h.consul.kv["v"] = value
    wait_for(lambda: h.control.restarts, message="restart")
    assert h.read("local/a") == "4" and len(h.control.restarts) == 1


def test_a_render_error_after_start_kills_the_task(tmp_path, harnesses):
    h = make(harnesses, tmp_path, [Template(embedded_tmpl='{{ key "v" | parseInt }}',
                                            dest_path="local/a")])
    h.consul.kv["v"] = "1"
    h.manager.first_render()
    h.manager.start_watching()
    h.consul.kv["v"] = "not a number"
    wait_for(lambda: h.control.kills, message="kill")
    assert h.control.kills[0] is not None
    assert h.control.kills[0].display_message.startswith("Template failed: template: local/a")


def test_nomad_var_template(tmp_path, harnesses):
    h = make(harnesses, tmp_path, [Template(
        embedded_tmpl='{{ with nomadVar "nomad/jobs/web" }}pw={{ .password }}{{ end }}',
        dest_path="secrets/pw")])
    h.nomad.put_variable("nomad/jobs/web", {"password": "one"})
    h.manager.first_render()
    h.manager.start_watching()
    assert h.read("secrets/pw") == "pw=one"
    h.nomad.put_variable("nomad/jobs/web", {"password": "two"})
    wait_for(lambda: h.control.restarts, message="restart")
    assert h.read("secrets/pw") == "pw=two"


def test_run_on_first_render_scripts_run_once_on_request(tmp_path, harnesses):
    script = ChangeScript(command="/local/init.sh", run_on_first_render=True)
    h = make(harnesses, tmp_path, [
        Template(embedded_tmpl="x", dest_path="local/a", change_mode="script",
                 change_script=script),
        Template(embedded_tmpl="y", dest_path="local/b", change_mode="script",
                 change_script=ChangeScript(command="/local/other.sh"))])
    h.manager.first_render()
    assert h.driver.execs == []
    h.manager.run_first_render_scripts()
    assert h.driver.execs == [["/local/init.sh"]]


def test_wait_is_per_template_a_template_without_wait_renders_at_once(tmp_path, harnesses):
    """One template waits an hour for its data to settle; the other one, reading the same
    key, is written (and restarts the task) at once, as Nomad's per-template wait."""
    h = make(harnesses, tmp_path, [
        Template(embedded_tmpl='{{ key "v" }}', dest_path="local/now"),
        Template(embedded_tmpl='{{ key "v" }}', dest_path="local/later",
                 wait=WaitConfig(min=3600_000_000_000))])
    h.consul.kv["v"] = "1"
    h.manager.first_render()
    h.manager.start_watching()
    h.consul.kv["v"] = "2"
    wait_for(lambda: h.control.restarts, message="restart for the template without wait")
    assert h.read("local/now") == "2" and h.read("local/later") == "1"
