"""consul-template's data functions over a DataSource: values, shapes, used and missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from nomadjail.gotemplate import ExecError, parse
from nomadjail.gotemplate.consul import (
    Dependency,
    DependencyKind,
    HealthService,
    NomadService,
    consul_template_functions,
)

from .fake_source import FakeSource


def render(text: str, source: FakeSource, **kwargs: object) -> tuple[str, object]:
    funcs = consul_template_functions(source, **kwargs)  # type: ignore[arg-type]
    return parse(text, name="t").execute(None, funcs), funcs


def web(node: str, address: str, port: int, *, status: str = "passing",
        tags: tuple[str, ...] = ()) -> HealthService:
    return HealthService(Node=node, Address=address, Port=port, Name="web", ID=f"web-{node}",
                         Status=status, Tags=list(tags), ServiceMeta={"v": "1"})


SOURCE = FakeSource(
    kv={"service/redis/maxconns": "15", "service/redis/minconns": "5",
        "service/redis/nested/deep": "x", "app/empty": ""},
    services=[web("n2", "10.0.0.2", 81, tags=("blue", "prod")),
              web("n1", "10.0.0.1", 80, tags=("prod",)),
              web("n3", "10.0.0.3", 82, status="critical")],
    nomad_services=[NomadService(ID="a", Name="api", Address="127.0.0.1", Port=8080,
                                 Tags=["v1"], AllocID="alloc1", JobID="job1",
                                 Datacenter="dc1")],
    variables={"nomad/jobs/app": {"user": "admin", "pass": "s3cr3t"},
               "nomad/jobs/app/web": {"x": "1"}},
)


def test_key_blocks_until_the_key_exists() -> None:
    out, funcs = render('{{ key "service/redis/maxconns" }}|{{ key "nope" }}|', SOURCE)
    assert out == "15||"
    assert funcs.missing == {Dependency(DependencyKind.KV_GET, path="nope", block=True)}
    assert Dependency(DependencyKind.KV_GET, path="service/redis/maxconns", block=True) in (
        funcs.used)


def test_key_or_default_and_key_exists_never_block() -> None:
    out, funcs = render('{{ keyOrDefault "nope" "5" }} {{ keyOrDefault "app/empty" "d" }} '
                        '{{ keyOrDefault "/service/redis/minconns" "0" }} '
                        '{{ keyExists "nope" }} {{ keyExists "app/empty" }}', SOURCE)
    assert out == "5 d 5 false true"
    assert funcs.missing == set()


def test_ls_tree_and_their_safe_forms() -> None:
    out, _ = render('{{ range ls "service/redis" }}{{ .Key }}={{ .Value }};{{ end }}', SOURCE)
    assert out == "maxconns=15;minconns=5;"
    out, _ = render('{{ range tree "service/redis/" }}{{ .Key }}={{ .Value }};{{ end }}', SOURCE)
    assert out == "maxconns=15;minconns=5;nested/deep=x;"
    out, funcs = render('{{ range ls "nothing" }}x{{ end }}', SOURCE)
    assert (out, funcs.missing) == ("", set())
    out, funcs = render('{{ range safeLs "nothing" }}x{{ end }}{{ safeTree "nothing" }}', SOURCE)
    assert {d.kind for d in funcs.missing} == {DependencyKind.KV_LIST}


def test_service_health_tag_and_datacenter() -> None:
    out, funcs = render('{{ range service "web" }}{{ .Node }}={{ .Address }}:{{ .Port }} '
                        '{{ end }}', SOURCE)
    assert out == "n1=10.0.0.1:80 n2=10.0.0.2:81 "
    out, _ = render('{{ range service "web|any" }}{{ .Node }}/{{ .Status }} {{ end }}', SOURCE)
    assert out == "n1/passing n2/passing n3/critical "
    out, _ = render('{{ range service "web" "critical" }}{{ .Node }}{{ end }}', SOURCE)
    assert out == "n3"
    out, funcs = render('{{ range service "blue.web@dc2" }}{{ .Node }} {{ .Tags }} '
                        '{{ .ServiceMeta.v }} {{ .Tags.Contains "prod" }}{{ end }}', SOURCE)
    assert out == "n2 [blue prod] 1 true"
    (dep,) = funcs.used
    assert (dep.path, dep.tag, dep.datacenter, dep.health) == ("web", "blue", "dc2", ("passing",))
    with pytest.raises(ExecError, match='invalid filter: "bogus"'):
        render('{{ service "web|bogus" }}', SOURCE)
    with pytest.raises(ExecError, match="health.service: invalid format"):
        render('{{ service "bad name!" }}', SOURCE)


def test_services_and_by_tag() -> None:
    out, _ = render('{{ range services }}{{ .Name }}: {{ .Tags | join "," }}{{ end }}', SOURCE)
    assert out == "web: blue,prod"
    out, _ = render('{{ range $tag, $s := service "web" | byTag }}{{ $tag }}:'
                    '{{ range $s }}{{ .Node }} {{ end }}{{ end }}', SOURCE)
    assert out == "blue:n2 prod:n1 n2 "


def test_nomad_services() -> None:
    out, funcs = render('{{ range nomadService "api" }}{{ .Address }}:{{ .Port }} {{ .AllocID }} '
                        '{{ .JobID }} {{ .Tags }} @ {{ .Datacenter }}{{ end }}'
                        '{{ range nomadServices }}|{{ .Name }} {{ .Tags }}{{ end }}',
                        SOURCE, namespace="prod")
    assert out == "127.0.0.1:8080 alloc1 job1 [v1] @ dc1|api [v1]"
    assert {d.namespace for d in funcs.used} == {"prod"}
    out, funcs = render('{{ range nomadService 1 "alloc-id" "v1.api" }}{{ .ID }}{{ end }}', SOURCE)
    assert out == "a"
    (dep,) = funcs.used
    assert (dep.choose, dep.tag) == ((1, "alloc-id"), "v1")


def test_nomad_variables() -> None:
    text = ('{{ with nomadVar "nomad/jobs/app" }}{{ .user }}:{{ .pass }} [{{ .nope }}] '
            '{{ range $k, $v := . }}{{ $k }}={{ $v }} {{ end }}{{ .Keys }} {{ .Values }} '
            '{{ range .Tuples }}{{ .K }}-{{ .V }} {{ end }}{{ .Metadata.Path }} '
            '{{ .user.Key }} {{ .user.Parent.Path }}{{ end }}')
    out, funcs = render(text, SOURCE)
    assert out == ("admin:s3cr3t [] pass=s3cr3t user=admin [pass user] [s3cr3t admin] "
                   "pass-s3cr3t user-admin nomad/jobs/app user nomad/jobs/app")
    assert funcs.missing == set()
    out, funcs = render('{{ with nomadVar "nomad/jobs/none" }}x{{ end }}', SOURCE)
    assert out == ""
    assert funcs.missing == {Dependency(DependencyKind.NOMAD_VAR_GET, path="nomad/jobs/none",
                                        block=True)}
    out, funcs = render('{{ nomadVarExists "nomad/jobs/app" }} {{ nomadVarExists "x" }}', SOURCE)
    assert (out, funcs.missing) == ("true false", set())
    out, _ = render('{{ range nomadVarList "nomad/jobs" }}{{ . }} {{ .Path }};{{ end }}', SOURCE)
    assert out == "nomad/jobs/app nomad/jobs/app;nomad/jobs/app/web nomad/jobs/app/web;"
    _, funcs = render('{{ nomadVarListSafe "nothing" }}', SOURCE)
    assert len(funcs.missing) == 1
    _, funcs = render('{{ nomadVar "a/b@ops.eu" }}', SOURCE, namespace="default")
    (dep,) = funcs.used
    assert (dep.path, dep.namespace, dep.region) == ("a/b", "ops", "eu")


def test_not_fetched_yet_is_missing_everywhere() -> None:
    source = FakeSource(pending=set(DependencyKind))
    out, funcs = render('[{{ key "a" }}][{{ keyOrDefault "b" "d" }}][{{ ls "c" }}]'
                        '[{{ service "web" }}][{{ nomadVar "v" }}][{{ file "f" }}]', source)
    assert out == "[][d][[]][[]][map[]][]"
    assert len(funcs.missing) == 6


def test_file_is_sandboxed(tmp_path: Path) -> None:
    (tmp_path / "local").mkdir()
    (tmp_path / "escape").symlink_to("/etc")
    source = FakeSource(files={str(tmp_path / "local/a.txt"): "contents\n"})
    out, _ = render('{{ file "local/a.txt" }}', source, sandbox_dir=tmp_path)
    assert out == "contents\n"
    out, _ = render('{{ file "/local/a.txt" }}', source, sandbox_dir=tmp_path)
    assert out == "contents\n"
    for bad in ("../x", "local/../../x", "escape/passwd"):
        with pytest.raises(ExecError, match=f"'{bad}' is outside of sandbox"):
            render(f'{{{{ file "{bad}" }}}}', source, sandbox_dir=tmp_path)
    out, _ = render('{{ file "/etc/hostname" }}', FakeSource(files={"/etc/hostname": "h"}))
    assert out == "h"


def test_env_timestamp_scratch_and_denylist() -> None:
    from datetime import UTC, datetime
    when = datetime(2024, 3, 5, 7, 8, 9, 123000, tzinfo=UTC)
    env = {"NOMAD_ALLOC_ID": "abc", "EMPTY": ""}
    out, _ = render('{{ env "NOMAD_ALLOC_ID" }}|{{ env "NOPE" }}|{{ envOrDefault "EMPTY" "d" }}|'
                    '{{ envOrDefault "NOPE" "d" }}|{{ or (env "EMPTY") "o" }}', FakeSource(),
                    env=env)
    assert out == "abc|||d|o"
    with pytest.raises(ExecError, match="mustEnv: environment variable NOPE"):
        render('{{ mustEnv "NOPE" }}', FakeSource(), env=env)
    out, _ = render('{{ timestamp }}|{{ timestamp "unix" }}|{{ timestamp "2006-01-02 15:04:05.000 '
                    'Mon Jan _2 3PM" }}', FakeSource(), now=lambda: when)
    assert out == "2024-03-05T07:08:09Z|1709622489|2024-03-05 07:08:09.123 Tue Mar  5 7AM"
    out, _ = render('{{ scratch.Set "a" 1 }}{{ scratch.SetX "a" 2 }}{{ scratch.Get "a" }} '
                    '{{ scratch.Key "a" }} {{ scratch.MapSet "m" "b" 2 }}{{ scratch.MapSet "m" "a"'
                    ' 1 }}{{ scratch.MapValues "m" }}', FakeSource())
    assert out == "1 true [1 2]"
    with pytest.raises(ExecError, match='function "plugin" is disabled'):
        render('{{ plugin "x" }}', FakeSource())
