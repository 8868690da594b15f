"""Execution: Go's semantics for data, control structures, variables, builtins and errors."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from nomadjail.gotemplate import ExecError, parse


def render(text: str, data: object = None, **kwargs: object) -> str:
    return parse(text, name="t").execute(data, **kwargs)  # type: ignore[arg-type]


@dataclass
class Server:
    Name: str
    Port: int
    Tags: list[str] = field(default_factory=list)

    def Addr(self, scheme: str = "http") -> str:
        return f"{scheme}://{self.Name}:{self.Port}"


def test_fields_maps_and_structs() -> None:
    data = {"svc": Server("web", 80, ["a", "b"]), "m": {"x": {"y": "deep"}}, "key with": 1}
    assert render("{{ .svc.Name }}:{{ .svc.Port }} {{ .m.x.y }}", data) == "web:80 deep"
    assert render('{{ .svc.Addr }} {{ .svc.Addr "https" }}', data) == (
        "http://web:80 https://web:80")
    assert render('{{ index . "key with" }}', data) == "1"
    assert render("{{ $s := .svc }}{{ $s.Tags }}", data) == "[a b]"
    assert render("{{ (index .m \"x\").y }}", data) == "deep"


def test_missing_keys() -> None:
    assert render("[{{ .nope }}]", {}) == "[<no value>]"
    assert render("[{{ .a.b.c }}]", {"a": {}}) == "[<no value>]"
    assert render("[{{ .x }}]") == "[<no value>]"
    with pytest.raises(ExecError) as raised:
        render("ok\n{{ .a.nope }}", {"a": {}}, missing_key="error")
    assert str(raised.value) == (
        'template: t:2:3: executing "t" at <.a.nope>: map has no entry for key "nope"')
    with pytest.raises(ExecError, match='can\'t evaluate field Nope in type Server'):
        render("{{ .Nope }}", Server("a", 1))


def test_if_else_if_with_and_truthiness() -> None:
    tpl = "{{ if eq .n 1 }}one{{ else if eq .n 2 }}two{{ else }}many{{ end }}"
    assert [render(tpl, {"n": n}) for n in (1, 2, 3)] == ["one", "two", "many"]
    falsy = [0, 0.0, "", [], {}, None, False]
    assert [render("{{ if . }}T{{ else }}F{{ end }}", v) for v in falsy] == ["F"] * 7
    assert render("{{ if . }}T{{ end }}", Server("x", 0)) == "T"
    assert render("{{ with .a }}[{{ . }}]{{ else }}none{{ end }}", {"a": "v"}) == "[v]"
    assert render("{{ with .a }}[{{ . }}]{{ else with .b }}b={{ . }}{{ end }}",
                  {"a": "", "b": 2}) == "b=2"


def test_range_over_lists_maps_ints_and_else() -> None:
    assert render("{{ range . }}<{{ . }}>{{ end }}", ["a", "b"]) == "<a><b>"
    assert render("{{ range $i, $e := . }}{{ $i }}={{ $e }};{{ end }}", ["a", "b"]) == "0=a;1=b;"
    # Maps are visited in sorted key order, as Go does.
    assert render("{{ range $k, $v := . }}{{ $k }}:{{ $v }} {{ end }}",
                  {"b": 2, "a": 1, "c": 3}) == "a:1 b:2 c:3 "
    assert render("{{ range 3 }}{{ . }}{{ end }}") == "012"
    assert render("{{ range .x }}x{{ else }}empty{{ end }}", {"x": []}) == "empty"
    assert render("{{ range .nope }}x{{ else }}none{{ end }}", {}) == "none"
    assert render("{{ range . }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ if eq . 4 }}{{ break }}"
                  "{{ end }}{{ . }}{{ end }}", [1, 2, 3, 4, 5]) == "13"
    with pytest.raises(ExecError, match="range can't iterate over abc"):
        render("{{ range . }}{{ end }}", "abc")


def test_variables_dollar_and_assignment() -> None:
    assert render("{{ $x := 1 }}{{ range .l }}{{ $x = . }}{{ end }}{{ $x }}", {"l": [5, 6]}) == "6"
    assert render("{{ range .l }}{{ $.top }}{{ end }}", {"l": [1, 2], "top": "T"}) == "TT"
    assert render("{{ $a := 1 }}{{ with 2 }}{{ $a }}{{ . }}{{ end }}") == "12"


def test_define_template_block() -> None:
    text = ('{{ define "item" }}[{{ .Name }}]{{ end }}'
            '{{ range . }}{{ template "item" . }}{{ end }}'
            '{{ block "footer" "end" }}<{{ . }}>{{ end }}')
    assert render(text, [Server("a", 1), Server("b", 2)]) == "[a][b]<end>"
    with pytest.raises(ExecError, match='template "nope" not defined'):
        render('{{ template "nope" }}')
    with pytest.raises(ExecError, match="exceeded maximum template depth"):
        render('{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}')


def test_pipelines_pass_the_last_argument() -> None:
    assert render('{{ "x" | printf "%s-%s" "a" }}') == "a-x"
    assert render("{{ .l | len | printf \"%03d\" }}", {"l": [1, 2]}) == "002"
    assert render("{{ (len .l) }}", {"l": [1]}) == "1"


def test_builtins() -> None:
    assert render("{{ and 1 0 2 }} {{ and 1 2 }} {{ or 0 \"\" }} {{ or 0 \"x\" 1 }}") == "0 2  x"
    # and/or stop at the first deciding argument: the failing index is never evaluated.
    assert render("{{ or 1 (index .l 9) }} {{ and 0 (index .l 9) }}", {"l": []}) == "1 0"
    assert render("{{ not 0 }} {{ not 1 }} {{ len \"héllo\" }} {{ len .m }}", {"m": {"a": 1}}) == (
        "true false 6 1")
    assert render("{{ index .l 1 }} {{ index .m \"k\" }} {{ index .n 0 1 }}",
                  {"l": [1, 2], "m": {"k": "v"}, "n": [[1, 2]]}) == "2 v 2"
    assert render("{{ slice .l 1 }} {{ slice .l 1 2 }} {{ slice \"hello\" 1 3 }}",
                  {"l": [1, 2, 3]}) == "[2 3] [2] el"
    assert render("{{ eq 1 1 }} {{ eq 1 2 3 1 }} {{ eq \"a\" \"b\" }} {{ ne 1 2 }}") == (
        "true true false true")
    assert render("{{ lt 1 2 }} {{ le 2 2 }} {{ gt \"b\" \"a\" }} {{ ge 1.5 2.5 }}") == (
        "true true true false")
    assert render("{{ print 1 2 \"a\" \"b\" 3 }}|{{ println 1 \"a\" }}|") == "1 2ab3|1 a\n|"
    assert render("{{ html \"<a href='x'>&</a>\" }}") == (
        "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;")
    assert render("{{ js \"it's <b>\" }}") == "it\\'s \\u003Cb\\u003E"
    assert render("{{ urlquery \"a b&c=d/é\" }}") == "a+b%26c%3Dd%2F%C3%A9"
    assert render("{{ call .f 2 3 }}", {"f": lambda a, b: a * b}) == "6"


@pytest.mark.parametrize(("text", "data", "message"), [
    ("{{ index .l 5 }}", {"l": [1]},
     'template: t:1:3: executing "t" at <index>: error calling index: index out of range: 5'),
    ("{{ eq 1 \"a\" }}", None,
     'template: t:1:3: executing "t" at <eq>: error calling eq: incompatible types for '
     "comparison"),
    ("{{ lt .m 1 }}", {"m": {}},
     'template: t:1:3: executing "t" at <lt>: error calling lt: invalid type for comparison'),
    ("{{ len 3 }}", None, 'template: t:1:3: executing "t" at <len>: error calling len: len of '
     "type int"),
    ("{{ printf }}", None,
     'template: t:1:3: executing "t" at <printf>: wrong number of args for printf: want at '
     "least 1 got 0"),
    ("{{ not 1 2 }}", None,
     'template: t:1:3: executing "t" at <not>: wrong number of args for not: want 1 got 2'),
    ("{{ nil }}", None, 'template: t:1:3: executing "t" at <nil>: nil is not a command'),
    ("{{ 1 2 }}", None, 'template: t:1:3: executing "t" at <1>: can\'t give argument to '
     "non-function 1"),
    ("\n\n   {{ .a.b }}", {"a": 5},
     'template: t:3:6: executing "t" at <.a.b>: can\'t evaluate field b in type int'),
    ("{{ .m.k 1 }}", {"m": {"k": 1}},
     'template: t:1:3: executing "t" at <.m.k>: k is not a method but has arguments'),
    ('{{ define "x" }}{{ index 1 1 }}{{ end }}{{ template "x" }}', None,
     'template: t:1:19: executing "x" at <index>: error calling index: can\'t index item of '
     "type int"),
    ("{{ .aVeryLongFieldNameIndeed.more }}", {"aVeryLongFieldNameIndeed": 5},
     'template: t:1:3: executing "t" at <.aVeryLongFieldNameI...>: can\'t evaluate field more '
     "in type int"),
    ("{{ printf \"%s\" 1 }}", None,
     'template: t:1:3: executing "t" at <printf>: error calling printf: boom'),
])
def test_execution_errors_say_where(text: str, data: object, message: str) -> None:
    funcs = {}
    if "boom" in message:
        def boom(*_args: object) -> str:
            raise ValueError("boom")
        funcs = {"printf": boom}
    with pytest.raises(ExecError) as raised:
        parse(text, name="t").execute(data, funcs)
    assert str(raised.value) == message


def test_funcs_override_and_extend() -> None:
    tpl = parse("{{ shout .x }}", name="t", func_names=["shout"])
    assert tpl.execute({"x": "hi"}, {"shout": lambda s: s.upper() + "!"}) == "HI!"
    with pytest.raises(ExecError, match='"shout" is not a defined function'):
        tpl.execute({"x": "hi"}, {})
    with pytest.raises(ValueError, match="missing_key"):
        tpl.execute({}, {}, missing_key="bogus")  # type: ignore[arg-type]


def test_execute_template_function() -> None:
    text = '{{ define "c" }}my {{ . }}{{ end }}{{ executeTemplate "c" 42 }}|{{ $v := ' \
           'executeTemplate "c" }}{{ $v | len }}'
    assert render(text) == "my 42|13"
