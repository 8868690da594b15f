"""The lexer and parser: what Go accepts, and Go's words (with line:col) for what it refuses."""

from __future__ import annotations

import pytest

from nomadjail.gotemplate import FUNCTION_NAMES, ParseError, TemplateError, parse


def render(text: str, data: object = None) -> str:
    return parse(text, name="t").execute(data)


@pytest.mark.parametrize(("text", "message"), [
    ("{{ if .x }}yes", "template: t:1:14: unexpected EOF"),
    ("a\n{{ end }}", "template: t:2:7: unexpected {{end}}"),
    ("{{ else }}", "template: t:1:8: unexpected {{else}}"),
    ("{{ nosuch 1 }}", 'template: t:1:3: function "nosuch" not defined'),
    ("x\n  {{ $y }}", 'template: t:2:5: undefined variable "$y"'),
    ("{{ .x", "template: t:1:5: unclosed action"),
    ("{{ \"abc }}", "template: t:1:3: unterminated quoted string"),
    ("{{ `abc }}", "template: t:1:3: unterminated raw quoted string"),
    ("{{ 'ab }}", "template: t:1:3: unterminated character constant"),
    ("{{ /* x */ }}", "template: t:1:3: unexpected \"/\" in command"),
    ("{{/* x }}", "template: t:1:2: unclosed comment"),
    ("{{/* x */ y}}", "template: t:1:2: comment ends before closing delimiter"),
    ("{{ $x=1 }}", "template: t:1:3: bad character U+003D '='"),
    ("{{ 3x }}", 'template: t:1:3: bad number syntax: "3x"'),
    ("{{ (1 }}", "template: t:1:6: unclosed left paren"),
    ("{{ 1) }}", "template: t:1:4: unexpected \")\" in input"),
    ("{{ }}", "template: t:1:3: missing value for command"),
    ("{{ 1 | 2 }}", "template: t:1:9: non executable command in pipeline stage 2"),
    ("{{ break }}", "template: t:1:3: {{break}} outside {{range}}"),
    ("{{ range .x }}{{ continue 1 }}{{ end }}",
     'template: t:1:26: unexpected "1" in {{continue}}'),
    ("{{ define \"a\" }}x{{ end }}{{ define \"a\" }}y{{ end }}",
     'template: t:1:50: template: multiple definition of template "a"'),
    ("{{ \"a\".b }}", 'template: t:1:6: unexpected . after term "\\"a\\""'),
    ("{{ $a, $b := .x }}", "template: t:1:5: too many declarations in command"),
    ("{{ range $a, $b, $c := .x }}{{ end }}",
     "template: t:1:15: too many declarations in range"),
    ("{{ 1+2i }}", 'template: t:1:3: bad number syntax: "1+2i"'),
    ("{{ \"\\q\" }}", "template: t:1:3: invalid syntax"),
    ("{{ template .x }}", "template: t:1:12: unexpected \".x\" in template clause"),
    ("{{ if 1 }}{{ else if 2 }}{{ else }}{{ else }}{{ end }}",
     "template: t:1:43: expected end; found {{else}}"),
    ("{{ range .x }}{{ else if 1 }}{{ end }}", "template: t:1:22: unexpected <if> in input"),
])
def test_syntax_errors_name_the_template_line_and_column(text: str, message: str) -> None:
    with pytest.raises(ParseError) as raised:
        parse(text, name="t")
    assert str(raised.value) == message
    assert isinstance(raised.value, TemplateError)


def test_error_position_fields() -> None:
    with pytest.raises(ParseError) as raised:
        parse("line one\nline two {{ nope }}", name="local/app.conf")
    err = raised.value
    assert (err.name, err.line, err.col) == ("local/app.conf", 2, 12)
    assert err.reason == 'function "nope" not defined'


@pytest.mark.parametrize(("text", "out"), [
    ("a  {{- 1 -}}  b", "a1b"),
    ("a \n\t {{- 1 }} \n b", "a1 \n b"),
    ("a {{ 1 -}} \n\n b", "a 1b"),
    ("{{- 1 -}}", "1"),
    ("{{-3}}", "-3"),
    ("{{ -3 }}", "-3"),
    ("x {{- /* comment */ -}} y", "xy"),
    ("x {{/* multi\nline */}} y", "x  y"),
    ("{{ `raw\\n` }}", "raw\\n"),
    ("{{ \"esc\\t\\x41\\u00e9\\101\" }}", "esc\tAéA"),
    ("{{ 'a' }} {{ '\\n' }} {{ '\\u00e9' }}", "97 10 233"),
    ("{{ 0x1F }} {{ 0o17 }} {{ 017 }} {{ 0b101 }} {{ 1_000 }} {{ -7 }} {{ +7 }}",
     "31 15 15 5 1000 -7 7"),
    ("{{ 1.5 }} {{ .5 }} {{ 1e3 }} {{ 1e6 }} {{ 0x1p-2 }} {{ 1.0 }}",
     "1.5 0.5 1000 1e+06 0.25 1"),
    ("{{ true }} {{ false }}", "true false"),
    ("{{ print nil }}", "<nil>"),
    ("{{\n  1\n}}", "1"),
])
def test_lexing_and_literals(text: str, out: str) -> None:
    assert render(text) == out


def test_custom_delimiters() -> None:
    tpl = parse("[[ .a ]] {{ .a }} [[- .b -]] ]", name="t", left_delim="[[", right_delim="]]")
    assert tpl.execute({"a": 1, "b": 2}) == "1 {{ .a }}2]"


def test_function_names_come_from_the_caller() -> None:
    with pytest.raises(ParseError, match='function "key" not defined'):
        parse("{{ key \"x\" }}", name="t", func_names=())
    parse("{{ key \"x\" }}", name="t", func_names=FUNCTION_NAMES)
    parse("{{ printf \"%d\" 1 | len }}", name="t", func_names=())   # builtins always


def test_variables_are_scoped_to_their_block() -> None:
    with pytest.raises(ParseError, match='undefined variable "\\$x"'):
        parse("{{ if 1 }}{{ $x := 1 }}{{ end }}{{ $x }}", name="t")
    with pytest.raises(ParseError, match='undefined variable "\\$x"'):
        parse("{{ $x := 1 }}{{ define \"d\" }}{{ $x }}{{ end }}", name="t")


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(ParseError, match="max expression depth exceeded"):
        parse("{{" + "(" * 500 + "1" + ")" * 500 + "}}", name="t")
    with pytest.raises(ParseError, match="max expression depth exceeded"):
        parse("{{ if 1 }}" * 300 + "{{ end }}" * 300, name="t")


def test_defined_templates_are_listed() -> None:
    tpl = parse('{{ define "b" }}{{ end }}{{ block "a" . }}{{ end }}x', name="main")
    assert tpl.defined_templates == ["a", "b"]


def test_consul_template_functions_we_lack_say_so() -> None:
    with pytest.raises(ParseError) as raised:
        parse('{{ with secret "kv/x" }}{{ end }}', name="t")
    assert str(raised.value) == ('template: t:1:8: function "secret" not defined '
                                 "(consul-template's secret is not supported by nomadjail)")
