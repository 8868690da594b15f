"""The template data source: Consul KV and catalog, Nomad services and variables, files
-- cached per dependency, refreshed by one poll, and never blank when a backend is down."""

from __future__ import annotations

from nomadjail.client.templates.sources import TemplateSources, file_reader
from nomadjail.gotemplate import parse
from nomadjail.gotemplate.consul import (
    MISSING,
    Dependency,
    DependencyKind,
    consul_template_functions,
)
from nomadjail.structs import ServiceRegistration

from .fakes import FakeConsul, FakeNomad


def sources(consul: FakeConsul | None = None, nomad: FakeNomad | None = None,
            tmp_path: str | None = None) -> TemplateSources:
    return TemplateSources(consul=consul, nomad=nomad, variables=nomad, namespace="default",
                           alloc_id="alloc-1", read_file=file_reader(tmp_path))


def render(src: TemplateSources, text: str) -> tuple[str, set[Dependency]]:
    funcs = consul_template_functions(src, env={"NODE": "n1"}, namespace="default")
    out = parse(text, name="t").execute(None, funcs)
    return out, funcs.missing


def test_key_waits_for_a_missing_key_and_key_or_default_does_not():
    consul = FakeConsul()
    src = sources(consul)
    out, missing = render(src, '{{ key "app/port" }}|{{ keyOrDefault "app/x" "d" }}')
    assert out == "|d"
    assert missing == {Dependency(DependencyKind.KV_GET, path="app/port", block=True)}
    consul.kv["app/port"] = "8080"
    assert src.refresh() is True
    assert render(src, '{{ key "app/port" }}') == ("8080", set())


def test_ls_and_tree_over_consul_kv():
    consul = FakeConsul()
    consul.kv.update({"cfg/a": "1", "cfg/b/c": "2", "cfg/b/d": "3", "other": "x"})
    src = sources(consul)
    out, _ = render(src, '{{ range ls "cfg" }}{{ .Key }}={{ .Value }};{{ end }}'
                         '|{{ range tree "cfg/" }}{{ .Key }};{{ end }}')
    assert out == "a=1;|a;b/c;b/d;"


def test_service_filters_by_health_and_sorts():
    consul = FakeConsul()
    consul.add_service("web", "10.0.0.2", 80, node="b")
    consul.add_service("web", "10.0.0.1", 81, node="a")
    consul.add_service("web", "10.0.0.3", 82, status="critical", node="c")
    src = sources(consul)
    out, _ = render(src, '{{ range service "web" }}{{ .Address }}:{{ .Port }} {{ end }}')
    assert out == "10.0.0.1:81 10.0.0.2:80 "
    out, _ = render(src, '{{ range service "web|any" }}{{ .Port }} {{ end }}')
    assert out == "81 80 82 "
    out, _ = render(src, '{{ range services }}{{ .Name }}{{ end }}')
    assert out == "web"


def test_nomad_service_and_services():
    nomad = FakeNomad()
    nomad.services = [
        ServiceRegistration(id="b", service_name="api", namespace="default",
                            address="127.0.0.1", port=9001, tags=["v2"]),
        ServiceRegistration(id="a", service_name="api", namespace="default",
                            address="127.0.0.1", port=9000, tags=["v1"])]
    src = sources(nomad=nomad)
    out, _ = render(src, '{{ range nomadService "api" }}{{ .Address }}:{{ .Port }},{{ end }}'
                         '{{ range nomadServices }} {{ .Name }}{{ .Tags }}{{ end }}')
    assert out == "127.0.0.1:9000,127.0.0.1:9001, api[v1 v2]"
    out, _ = render(src, '{{ range nomadService "v2.api" }}{{ .Port }}{{ end }}')
    assert out == "9001"
    render(src, '{{ range nomadService 1 "alloc-1" "api" }}{{ .Port }}{{ end }}')
    assert nomad.chosen == "1|alloc-1"  # the servers pick, by Nomad's rendezvous hash


def test_nomad_var_is_read_for_the_allocation_and_waits_until_it_exists():
    nomad = FakeNomad()
    src = sources(nomad=nomad)
    text = '{{ with nomadVar "nomad/jobs/web" }}{{ .password }}{{ end }}'
    out, missing = render(src, text)
    assert out == "" and len(missing) == 1
    nomad.put_variable("nomad/jobs/web", {"password": "s3cret"})
    assert src.refresh()
    assert render(src, text) == ("s3cret", set())
    assert nomad.var_reads[-1] == ("default", "nomad/jobs/web", "alloc-1")


def test_a_backend_that_is_down_keeps_the_last_good_value_and_says_why():
    consul = FakeConsul()
    consul.kv["k"] = "v1"
    src = sources(consul)
    assert render(src, '{{ key "k" }}')[0] == "v1"
    consul.down = True
    assert src.refresh() is False
    assert render(src, '{{ key "k" }}')[0] == "v1"
    dep = Dependency(DependencyKind.KV_GET, path="k", block=True)
    assert "connection refused" in src.errors[dep]
    consul.down = False
    consul.kv["k"] = "v2"
    assert src.refresh() is True and dep not in src.errors


def test_unreachable_on_first_read_is_missing_not_empty():
    consul = FakeConsul()
    consul.down = True
    src = sources(consul)
    dep = Dependency(DependencyKind.KV_LIST, path="x")
    assert src.fetch(dep) is MISSING


def test_no_consul_configured_is_missing():
    src = sources(None)
    assert src.fetch(Dependency(DependencyKind.KV_GET, path="k")) is MISSING
    assert "no Consul" in next(iter(src.errors.values()))


def test_each_dependency_is_read_once_per_render_until_refresh():
    consul = FakeConsul()
    consul.kv["k"] = "v"
    src = sources(consul)
    render(src, '{{ key "k" }}{{ key "k" }}{{ key "k" }}')
    assert consul.reads == 1
    src.refresh()
    assert consul.reads == 2


def test_file_reads_are_watched(tmp_path):
    target = tmp_path / "local" / "in.txt"
    target.parent.mkdir()
    target.write_text("one")
    src = TemplateSources(consul=None, nomad=None, namespace="default", alloc_id="a",
                          read_file=file_reader(str(tmp_path)))
    funcs = consul_template_functions(src, env={}, sandbox_dir=str(tmp_path))
    assert parse('{{ file "local/in.txt" }}', name="t").execute(None, funcs) == "one"
    target.write_text("two")
    assert src.refresh() is True


def test_forget_drops_what_no_render_reads_any_more():
    consul = FakeConsul()
    consul.kv.update({"a": "1", "b": "2"})
    src = sources(consul)
    render(src, '{{ key "a" }}{{ key "b" }}')
    src.forget([Dependency(DependencyKind.KV_GET, path="a", block=True)])
    consul.reads = 0
    src.refresh()
    assert consul.reads == 1
