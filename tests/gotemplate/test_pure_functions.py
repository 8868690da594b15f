"""consul-template's helper functions and the sprig subset, in consul-template's argument order."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from nomadjail.gotemplate import ExecError, parse
from nomadjail.gotemplate.consul import KeyPair, consul_template_functions

from .fake_source import FakeSource


def render(text: str, data: object = None) -> str:
    return parse(text, name="t").execute(data, consul_template_functions(FakeSource(), env={}))


@pytest.mark.parametrize(("text", "out"), [
    ('{{ "aGVsbG8=" | base64Decode }} {{ "hello" | base64Encode }}', "hello aGVsbG8="),
    ('{{ "a?b>" | base64URLEncode }} {{ "YT9iPg==" | base64URLDecode }}', "YT9iPg== a?b>"),
    ('{{ "true" | parseBool }} {{ "" | parseBool }} {{ "42" | parseInt }} {{ "-3" | parseInt }}'
     ' {{ "7" | parseUint }} {{ "1.5" | parseFloat }} {{ "" | parseInt }}',
     "true false 42 -3 7 1.5 0"),
    ('{{ with $d := "{\\"name\\": \\"x\\", \\"n\\": 1, \\"l\\": [1, 2.5]}" | parseJSON }}'
     '{{ $d.name }} {{ $d.n }} {{ $d.l }}{{ end }}', "x 1 [1 2.5]"),
    ('{{ "" | parseJSON }}', "map[]"),
    ('{{ "Hello" | toLower }} {{ "Hello" | toUpper }} {{ "hello wide-world" | toTitle }}',
     "hello HELLO Hello Wide-World"),
    ('{{ "a,b,c" | split "," | join ";" }} {{ "" | split "," | len }} {{ "x\\n" | split "\\n" }}',
     "a;b;c 0 [x]"),
    ('[{{ "  x \\n" | trimSpace }}] {{ "hello world!!" | trim "!!" }} '
     '{{ "hello world!!" | trimPrefix "hello" }}|{{ "hello world!!" | trimSuffix "world!!" }}|',
     "[x] hello world  world!!|hello |"),
    ('{{ "foo.bar" | replaceAll "." "_" }} {{ "foo.bar" | regexReplaceAll "foo([.a-z]+)" "$1" }}'
     ' {{ "ab12" | regexReplaceAll "(?P<d>[0-9])" "<${d}>" }}'
     ' {{ "a1" | regexReplaceAll "\\\\d" "$$" }}',
     "foo_bar .bar ab<1><2> a$"),
    ('{{ "foo.bar" | regexMatch "foo([.a-z]+)" }} {{ "x" | regexMatch "^[[:digit:]]+$" }}',
     "true false"),
    ('{{ "bladibla" | sha256Hex }}',
     "54cf4c66bcabb5c20e25331c01dd600b73369e97a947861bd8d3a0e0b8b3d70b"),
    ('{{ "myString" | md5sum }}', hashlib.md5(b"myString").hexdigest()),
    ('{{ hmacSHA256Hex "somemessage" "somekey" }} {{ "somekey" | hmacSHA256Hex "somemessage" }}',
     " ".join([hmac.new(b"somekey", b"somemessage", hashlib.sha256).hexdigest()] * 2)),
    ('{{ "a\\nb\\n\\nc" | indent 2 }}', "  a\n  b\n\n  c"),
    ('{{ range loop 3 }}{{ . }}{{ end }} {{ range $i := loop 5 8 }}{{ $i }}{{ end }}', "012 567"),
    ('{{ add 1 2 }} {{ 5 | subtract 2 }} {{ 2 | multiply 3 }} {{ 10 | divide 2 }} '
     '{{ -7 | divide 2 }} {{ 5 | modulo 2 }} {{ -5 | modulo 2 }} {{ 5 | minimum 2 }} '
     '{{ 5 | maximum 2 }} {{ 1.5 | add 1 }} {{ 3 | divide 1.5 }}', "3 3 6 5 -3 1 -1 2 5 2.5 2"),
    ('{{ in .l "b" }} {{ .l | contains "z" }} {{ containsAll .n .l }} {{ containsAny .n .l }} '
     '{{ containsNone .n .l }} {{ containsNotAll .n .l }} {{ in "abc" "b" }}',
     "true false false true false true true"),
    ('{{ toJSON .m }}|{{ toUnescapedJSON .m }}', '{"a":[1,2.5,"\\u003cx\\u0026\\u003e"],"b":null}|'
     '{"a":[1,2.5,"<x&>"],"b":null}'),
    ('{{ toJSONPretty .m }}', '{\n  "a": [\n    1,\n    2.5,\n    "\\u003cx\\u0026\\u003e"\n  ],\n'
     '  "b": null\n}'),
    ('{{ "a:1\\nb:2\\nc" | splitToMap "\\n" ":" }}', "map[a:1 b:2]"),
])
def test_helpers(text: str, out: str) -> None:
    data = {"l": ["a", "b"], "n": ["b", "c"], "m": {"b": None, "a": [1, 2.5, "<x&>"]}}
    assert render(text, data) == out


def test_kv_helpers_explode_and_by_key() -> None:
    pairs = [KeyPair(Key="admin/port", Value="1234"), KeyPair(Key="maxconns", Value="5"),
             KeyPair(Key="minconns", Value="2")]
    assert render("{{ . | explode | toJSON }}", pairs) == (
        '{"admin":{"port":"1234"},"maxconns":"5","minconns":"2"}')
    assert render("{{ with . | explode }}{{ .admin.port }}{{ end }}", pairs) == "1234"
    groups = [KeyPair(Key="elasticsearch/es1", Value="1"), KeyPair(Key="elasticsearch/es2",
                                                                   Value="1"),
              KeyPair(Key="top", Value="x")]
    assert render("{{ range $key, $pairs := . | byKey }}{{ $key }}:\n{{ range $pair := $pairs }}"
                  "  {{ .Key }}={{ .Value }}\n{{ end }}{{ end }}", groups) == (
        "elasticsearch:\n  es1=1\n  es2=1\n")
    assert render('{{ explodeMap .m }}', {"m": {"a/b": 1, "c": 2}}) == "map[a:map[b:1] c:2]"
    maps = {"base": {"a": {"b": 1, "c": ""}, "x": 1}, "over": {"a": {"b": 2, "c": 3}, "y": 2}}
    assert render("{{ .over | mergeMap .base }}", maps) == "map[a:map[b:1 c:3] x:1 y:2]"
    assert render("{{ .over | mergeMapWithOverride .base }}", maps) == (
        "map[a:map[b:2 c:3] x:1 y:2]")


@pytest.mark.parametrize(("text", "message"), [
    ('{{ "x" | parseInt }}', 'error calling parseInt: parseInt: strconv.ParseInt: parsing "x": '
     "invalid syntax"),
    ('{{ "maybe" | parseBool }}', 'parseBool: strconv.ParseBool: parsing "maybe": invalid syntax'),
    ('{{ "%%%" | base64Decode }}', "base64Decode: illegal base64 data"),
    ('{{ "{" | parseJSON }}', "error calling parseJSON: parseJSON:"),
    ('{{ 1 | divide 0 }}', "divide: division by 0"),
    ('{{ "x" | regexMatch "(" }}', "regexMatch: error parsing regexp"),
    ('{{ "x" | indent -1 }}', "indent value must be a positive integer"),
    ('{{ loop 1 2 3 }}', "loop: wrong number of arguments, expected 1 or 2, but got 3"),
])
def test_helper_errors(text: str, message: str) -> None:
    with pytest.raises(ExecError, match=message.replace("(", "\\(").replace("{", "\\{")):
        render(text)


@pytest.mark.parametrize(("text", "out"), [
    ('{{ "x" | sprig_upper }} {{ "X" | sprig_lower }} {{ "  x " | sprig_trim }}', "X x x"),
    ('{{ .nope | sprig_default "none" }} {{ "v" | sprig_default "none" }}', "none v"),
    ('{{ sprig_list 1 2 3 | sprig_last }} {{ sprig_list "b" "a" | sprig_sortAlpha }}', "3 [a b]"),
    ('{{ $d := sprig_dict "a" 1 "b" 2 }}{{ sprig_get $d "b" }} {{ sprig_keys $d | len }} '
     '{{ sprig_hasKey $d "a" }}', "2 2 true"),
    ('{{ "x" | sprig_repeat 3 }} {{ "a-b" | sprig_replace "-" "+" }} {{ "hello" | sprig_trunc 2 }}'
     ' {{ sprig_quote "a" "b" }} {{ "hello" | sprig_hasPrefix "he" }}',
     'xxx a+b he "a" "b" true'),
    ('{{ sprig_add 1 2 3 }} {{ sprig_sub 5 2 }} {{ sprig_max 1 7 3 }} {{ sprig_until 3 }}',
     "6 3 7 [0 1 2]"),
    ('{{ "a b" | sprig_b64enc }} {{ sprig_ternary "y" "n" true }} {{ sprig_empty "" }}',
     "YSBi y true"),
    ('{{ "line1\\nline2" | sprig_indent 2 }}|{{ "x" | sprig_nindent 1 }}', "  line1\n  line2|\n x"),
    ('{{ sprig_toJson (sprig_dict "k" "<v>") }}', '{"k":"\\u003cv\\u003e"}'),
    ('{{ sprig_regexReplaceAll "a(x*)b" "-ab-axxb-" "${1}W" }}', "-W-xxW-"),
])
def test_sprig_subset(text: str, out: str) -> None:
    assert render(text) == out
