"""The expression language: literals, operators, templates, heredocs, for, splats, refs."""

from __future__ import annotations

import pytest

from nomadjail.jobspec import EvalContext, JobspecError, parse_body, parse_job

JOB_CONTEXT = EvalContext(keep_unknown_references=True)


def value(text: str, context: EvalContext | None = None):
    return parse_body(f"x = {text}\n", "e.hcl", context=context).attributes["x"].value


def error(text: str, context: EvalContext | None = None) -> str:
    with pytest.raises(JobspecError) as err:
        value(text, context)
    return str(err.value)


@pytest.mark.parametrize("text, expected", [
    ('"text"', "text"),
    ("42", 42),
    ("-7", -7),
    ("1.5", 1.5),
    ("1.5e3", 1500),
    ("true", True),
    ("null", None),
    ("[1, \"a\", [true]]", [1, "a", [True]]),
    ('{ a = 1, "b c" = 2, d: 3 }', {"a": 1, "b c": 2, "d": 3}),
    ('{ (upper("k")) = "v" }', {"K": "v"}),
    ('{ "k${1 + 1}" = true }', {"k2": True}),
    ("[\n  1,\n  2,\n]", [1, 2]),
])
def test_literals(text, expected):
    assert value(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("1 + 2 * 3", 7),
    ("(1 + 2) * 3", 9),
    ("10 / 4", 2.5),
    ("10 / 5", 2),
    ("7 % 3", 1),
    ("-7 % 3", -1),
    ("2 - 5", -3),
    ('"5" + 1', 6),
    ("1 < 2", True),
    ("2 >= 3", False),
    ('1 == "1"', False),
    ("true == 1", False),
    ('[1, "a"] == [1, "a"]', True),
    ("{a = 1} != {a = 2}", True),
    ("null == null", True),
    ("true && !false", True),
    ("false || false", False),
    ('true ? "yes" : "no"', "yes"),
    ('1 > 2 ? "yes" : "no"', "no"),
    ('"true" ? 1 : 2', 1),
])
def test_operators(text, expected):
    assert value(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("[10, 20, 30][1]", 20),
    ('[10, 20]["1"]', 20),
    ('{a = {b = [5]}}.a.b[0]', 5),
    ('{a = 1}["a"]', 1),
    ("[[1, 2], [3]].1.0", 3),
    ("[{a = 1}, {a = 2}][*].a", [1, 2]),
    ("[{a = {b = 1}}, {a = {b = 2}}].*.a.b", [1, 2]),
    ("{a = 1}[*].a", [1]),
    ("null[*]", []),
])
def test_indexes_attributes_and_splats(text, expected):
    assert value(text) == expected


@pytest.mark.parametrize("text, expected", [
    ('[for s in ["a", "b"] : upper(s)]', ["A", "B"]),
    ('[for i, s in ["a", "b"] : "${i}=${s}"]', ["0=a", "1=b"]),
    ('[for n in [1, 2, 3, 4] : n * n if n % 2 == 0]', [4, 16]),
    ("{for k, v in {b = 2, a = 1} : v => k}", {"1": "a", "2": "b"}),
    ("[for k, v in {b = 2, a = 1} : k]", ["a", "b"]),
    ('{for s in ["x", "y", "x"] : s => s...}', {"x": ["x", "x"], "y": ["y"]}),
    ("[for v in {a = 1} : v]", [1]),
])
def test_for_expressions(text, expected):
    assert value(text) == expected


@pytest.mark.parametrize("text, expected", [
    ('"a ${1 + 1} b"', "a 2 b"),
    ('"${[1, 2]}"', [1, 2]),  # a lone interpolation keeps its type
    ('"${true} ${1.5} ${"nested ${1}"}"', "true 1.5 nested 1"),
    ('"literal $${x} and %%{y}"', "literal ${x} and %{y}"),
    ('"tab\\tquote\\" nl\\n uni\\u00e9"', 'tab\tquote" nl\n uni\u00e9'),
    ('"%{ if 1 < 2 }small%{ else }big%{ endif }"', "small"),
    ('"%{ for i, v in ["a", "b"] }${i}${v} %{ endfor }"', "0a 1b "),
    ('"a   %{~ if true ~}   b   %{~ endif ~}   c"', "abc"),
])
def test_string_templates(text, expected):
    assert value(text) == expected


def test_heredoc_keeps_text_and_trailing_newline():
    assert value('<<EOF\nline one\n  line ${1 + 1}\nEOF\n') == "line one\n  line 2\n"


def test_indented_heredoc_strips_common_indentation():
    text = ('<<-EOT\n      server {\n        listen ${8000 + 80};\n\n      }\n    EOT\n')
    assert value(text) == "server {\n  listen 8080;\n\n}\n"


def test_heredoc_directives_and_escapes():
    text = ('<<EOF\n%{ for n in ["a", "b"] ~}\n${n}\n%{ endfor ~}\n'
            'done $${NOT_EVALUATED} "quotes" {braces}\nEOF\n')
    assert value(text) == 'a\nb\ndone ${NOT_EVALUATED} "quotes" {braces}\n'


def test_heredoc_interpolation_with_braces_and_strings_inside():
    text = '<<EOF\n${jsonencode({a = "}"})}\nEOF\n'
    assert value(text) == '{"a":"}"}\n'


def test_comments_are_ignored():
    body = parse_body("# hash\n// slashes\n/* block\n comment */\nx = 1 # trailing\n", "c.hcl")
    assert body.attributes["x"].value == 1


def test_variables_come_from_the_context():
    context = EvalContext({"var": {"name": "web", "ports": [80, 443]}})
    assert value('"${var.name}:${var.ports[1]}"', context) == "web:443"
    assert value("var", context) == {"name": "web", "ports": [80, 443]}


def test_unknown_names_are_errors_outside_job_files():
    assert error("nope") == 'e.hcl:1:5: unknown name "nope": variables are not allowed here'
    assert error("var.nmae", EvalContext({"var": {"name": 1}})) == \
        'e.hcl:1:9: the object has no attribute "nmae"; did you mean "name"?'
    assert error("vra.name", EvalContext({"var": {"name": 1}})) == \
        'e.hcl:1:5: unknown variable "vra"; did you mean "var"?'


@pytest.mark.parametrize("text, expected", [
    ('"${NOMAD_ALLOC_DIR}/data"', "${NOMAD_ALLOC_DIR}/data"),
    ('"${NOMAD_PORT_http}"', "${NOMAD_PORT_http}"),
    ('"${attr.kernel.name}"', "${attr.kernel.name}"),
    ('"${node.unique.name}-${meta.rack}"', "${node.unique.name}-${meta.rack}"),
    ('"${env["HOME"]}/x"', '${env["HOME"]}/x'),
    ('"${env.PATH}"', "${env.PATH}"),
    ('"${ attr.cpu.arch  }"', "${ attr.cpu.arch  }"),
    ('"foo-${attr.network.dev-us-east1-relay-vpc.external-ip.0}"',
     "foo-${attr.network.dev-us-east1-relay-vpc.external-ip.0}"),
    ('"${mixed-indexing.0[3]["FOO"].5}"', '${mixed-indexing.0[3]["FOO"].5}'),
    ('"with spaces ${   root.  field[  "FOO"].5  }"',
     'with spaces ${   root.  field[  "FOO"].5  }'),
    ("attr.kernel.name", "${attr.kernel.name}"),
    ("NOMAD_JOB_NAME", "${NOMAD_JOB_NAME}"),
    ('env["HOME"]', '${env["HOME"]}'),
    ('<<EOF\ndir=${NOMAD_TASK_DIR}\nEOF\n', "dir=${NOMAD_TASK_DIR}\n"),
    ('upper("${node.class}")', "${NODE.CLASS}"),  # as in Nomad: the text is a plain string
])
def test_runtime_references_stay_verbatim_in_job_files(text, expected):
    assert value(text, JOB_CONTEXT) == expected


def test_runtime_references_inside_a_real_job():
    job = parse_job('''job "j" {
  constraint {
    attribute = attr.kernel.name
    value     = "freebsd"
  }
  group "g" {
    task "t" {
      driver = "raw_exec"
      env {
        DATA = "${NOMAD_ALLOC_DIR}/data"
        HOST = "${attr.unique.hostname}"
      }
      config {
        command = "/bin/echo"
        args    = ["${NOMAD_PORT_http}", "${meta.rack}", "${node.datacenter}"]
      }
    }
  }
}
''')
    assert job.constraints[0].l_target == "${attr.kernel.name}"
    task = job.task_groups[0].tasks[0]
    assert task.env == {"DATA": "${NOMAD_ALLOC_DIR}/data", "HOST": "${attr.unique.hostname}"}
    assert task.config["args"] == ["${NOMAD_PORT_http}", "${meta.rack}", "${node.datacenter}"]


@pytest.mark.parametrize("text, message", [
    ('1 + "a"', 'e.hcl:1:9: the right operand of "+": expected a number, got string "a"'),
    ("!1", 'e.hcl:1:6: the operand of "!": expected a bool (true or false), got number 1'),
    ("1 / 0", "e.hcl:1:9: division by zero"),
    ("[1][5]", "e.hcl:1:9: index 5 is out of range for a list of 1 elements"),
    ('"a"[0]', 'e.hcl:1:9: cannot index string "a"'),
    ("null.a", 'e.hcl:1:10: cannot read attribute "a" of null'),
    ('{a = 1}.b', 'e.hcl:1:13: the object has no attribute "b"'),
    ('"${[1]} x"', 'e.hcl:1:8: ${[1]} is a list; a string template can only include strings, '
                   'numbers and bools'),
    ('"${null} x"', "e.hcl:1:8: ${null} is null; a string template cannot include null"),
    ("null ? 1 : 2", "e.hcl:1:5: the condition is null; expected true or false"),
    ('[for s in "abc" : s]', 'e.hcl:1:15: cannot iterate over string "abc"; expected a list or '
                             'a map'),
    ("{for s in [1, 1] : s => s}", 'e.hcl:1:24: two items have the key "1"; add "..." after the '
                                   'value expression to group values by key'),
    ('"%{ if true }x"', "e.hcl:1:6: this directive is never closed; expected %{ endif }"),
    ('"%{ endfor }"', "e.hcl:1:6: %{ endfor } without a matching %{ for }"),
    ('"bad \\q escape"', 'e.hcl:1:10: invalid escape sequence "\\q"; use \\\\ for a backslash'),
    ('<<EOF\n${1 +}\nEOF\n', 'e.hcl:2:6: unexpected "}"; expected an expression'),
    ('<<EOF\nok\n${"unclosed"\nEOF\n', 'e.hcl:3:1: "${" is never closed; expected "}"'),
    ("99999999999999999999e999", "e.hcl:1:5: number is out of range (larger than 1e300)"),
])
def test_expression_errors_point_at_the_failing_part(text, message):
    assert error(text) == message
