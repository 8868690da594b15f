"""Every kind of mistake in a job file is one located sentence: file:line:column: message."""

from __future__ import annotations

import pickle

import pytest

from nomadjail.jobspec import JobspecError, parse_job
from nomadjail.structs import BadRequest


def error_of(text: str, filename: str = "job.nomad", **kwargs) -> JobspecError:
    with pytest.raises(JobspecError) as err:
        parse_job(text, filename, **kwargs)
    return err.value


def in_task(lines: str) -> str:
    """A job whose task body is ``lines`` (indented six spaces, starting on line 4)."""
    body = "\n".join("      " + line if line else "" for line in lines.splitlines())
    return f'job "j" {{\n  group "web" {{\n    task "server" {{\n{body}\n    }}\n  }}\n}}\n'


CASES = {
    # syntax
    "missing value":
        ('job "j" {\n  region =\n}\n',
         'job.nomad:2:11: unexpected end of line; expected an expression'),
    "unclosed block":
        ('job "j" {\n  group "g" {\n}\n',
         'job.nomad:4:1: unexpected end of file; expected "}"'),
    "stray character":
        ('job "j" {\n  region = @\n}\n',
         'job.nomad:2:12: unexpected "@"; expected an expression'),
    "missing comma":
        ('job "j" {\n  datacenters = ["a"\n    "b"]\n}\n',
         'job.nomad:3:5: unexpected "\\""; expected "," or "]"'),
    "quoted attribute name":
        ('job "j" {\n  "region" = "x"\n}\n',
         'job.nomad:2:3: unexpected "\\""; expected an attribute (name = value) or a block '
         '(name { ... }) or "}"'),
    "unterminated string at the end":
        ('job "j" {\n  region = "eu\n',
         'job.nomad:2:12: unterminated string: this quote is not closed on its line (use a '
         'heredoc, <<EOF, for text over several lines)'),
    "unterminated string in the middle":
        ('job "j" {\n  region = "eu\n  datacenters = ["dc1"]\n}\n',
         'job.nomad:2:12: unterminated string: this quote is not closed on its line (use a '
         'heredoc, <<EOF, for text over several lines)'),
    "line break in a string":
        ('job "j" {\n  region = "eu\n"\n}\n',
         'job.nomad:2:12: unterminated string: this quote is not closed on its line (use a '
         'heredoc, <<EOF, for text over several lines)'),
    "attribute set twice":
        ('job "j" {\n  region = "a"\n  region = "b"\n}\n',
         'job.nomad:3:3: attribute "region" was already set at line 2; set it only once'),
    "interpolation in a label":
        ('job "j-${1}" {}\n',
         'job.nomad:1:5: a block label must be a plain string; ${...} and %{...} are not '
         'allowed in labels'),
    # structure
    "no job block": ('variable "x" {\n  default = 1\n}\n',
                     'job.nomad:1:1: no job block: a job file needs one job "name" { ... } block'),
    "two job blocks": ('job "a" {}\n\njob "b" {}\n',
                       'job.nomad:3:1: only one job block is allowed per file; the first is at '
                       'line 1'),
    "job without label": ('job {\n}\n',
                          'job.nomad:1:1: block "job" needs 1 label (name), as in job "name" '
                          '{ ... }'),
    "job with two labels": ('job "a" "b" {\n}\n',
                            'job.nomad:1:9: block "job" takes 1 label (name), got 2'),
    "group without label": ('job "j" {\n  group {\n  }\n}\n',
                            'job.nomad:2:3: block "group" needs 1 label (name), as in group '
                            '"name" { ... }'),
    "task without label": ('job "j" {\n  group "g" {\n    task {}\n  }\n}\n',
                           'job.nomad:3:5: block "task" needs 1 label (name), as in task "name" '
                           '{ ... }'),
    "port without label": ('job "j" {\n  group "g" {\n    network {\n      port {}\n    }\n'
                           '  }\n}\n',
                           'job.nomad:4:7: block "port" needs 1 label (label), as in port '
                           '"label" { ... }'),
    "label on a block that takes none": ('job "j" {\n  update "fast" {}\n}\n',
                                         'job.nomad:2:10: block "update" takes no labels, got '
                                         '"fast"'),
    "unknown top-level block": ('jbo "j" {}\n',
                                'job.nomad:1:1: unknown block "jbo" at the top level; did you '
                                'mean "job"?'),
    "top-level attribute": ('region = "eu"\njob "j" {}\n',
                            'job.nomad:1:1: unexpected attribute "region" at the top level: a job '
                            'file holds a job block, and optionally variable, variables and '
                            'locals blocks'),
    "unknown block with suggestion": ('job "j" {\n  group "web" {\n    taks "a" {}\n  }\n}\n',
                                      'job.nomad:3:5: unknown block "taks" in group "web"; did '
                                      'you mean "task"?'),
    "unknown attribute with suggestion": (in_task('driver = "pot"\nkill_timout = "5s"'),
                                          'job.nomad:5:7: unknown attribute "kill_timout" in task '
                                          '"server"; did you mean "kill_timeout"?'),
    "unknown attribute without suggestion": ('job "j" {\n  flavour = "x"\n}\n',
                                             'job.nomad:2:3: unknown attribute "flavour" in job '
                                             '"j"'),
    "attribute written as block": ('job "j" {\n  group "g" {\n    count {}\n  }\n}\n',
                                   'job.nomad:3:5: "count" in group "g" is an attribute, not a '
                                   'block: write count = ...'),
    "block written as attribute": (in_task('resources = { cpu = 100 }'),
                                   'job.nomad:4:7: "resources" in task "server" is a block, not '
                                   'an attribute: write resources { ... }'),
    "single block twice": (in_task('resources {}\nresources {}'),
                           'job.nomad:5:7: only one resources block is allowed in task '
                           '"server"; the first is at line 4'),
    "meta both ways": ('job "j" {\n  meta = { a = "1" }\n  meta {\n    b = "2"\n  }\n}\n',
                       'job.nomad:3:3: meta is given twice in job "j": as an attribute at line '
                       '2 and as a block'),
    "missing required attribute": (in_task('lifecycle {\n  sidecar = true\n}'),
                                   'job.nomad:4:7: lifecycle in task "server" needs the '
                                   'attribute "hook"'),
    "nested block in unlabeled parent": (
        'job "j" {\n  group "g" {\n    network {\n      port "p" {\n        statik = 80\n'
        '      }\n    }\n  }\n}\n',
        'job.nomad:5:9: unknown attribute "statik" in port "p"; did you mean "static"?'),
    # values
    "count not a number": ('job "j" {\n  group "web" {\n    count = "abc"\n  }\n}\n',
                           'job.nomad:3:13: invalid value for "count" in group "web": expected a '
                           'number, got string "abc"'),
    "priority not whole": ('job "j" {\n  priority = 50.5\n}\n',
                           'job.nomad:2:14: invalid value for "priority" in job "j": expected a '
                           'whole number, got number 50.5'),
    "datacenters not a list": ('job "j" {\n  datacenters = "dc1"\n}\n',
                               'job.nomad:2:17: invalid value for "datacenters" in job "j": '
                               'expected a list, got string "dc1"'),
    "bool from a word": ('job "j" {\n  all_at_once = "yes"\n}\n',
                         'job.nomad:2:17: invalid value for "all_at_once" in job "j": expected a '
                         'bool (true or false), got string "yes"'),
    "bad duration": (in_task('kill_timeout = "5 seconds"'),
                     'job.nomad:4:22: invalid value for "kill_timeout" in task "server": '
                     'expected a duration such as "30s", "5m" or "1h30m", got string '
                     '"5 seconds"'),
    "duration of the wrong type": ('job "j" {\n  update {\n    stagger = true\n  }\n}\n',
                                   'job.nomad:3:15: invalid value for "stagger" in update in job '
                                   '"j": expected a duration such as "30s", got bool true'),
    "env value not a string": (in_task('env {\n  LIST = ["a"]\n}'),
                               'job.nomad:5:16: invalid value for "LIST" in env in task '
                               '"server": expected a string, got a list'),
    "meta map value null": ('job "j" {\n  meta = { a = null }\n}\n',
                            'job.nomad:2:10: invalid value for "meta" in job "j": key "a": '
                            'expected a string, got null'),
    "undeclared variable": ('job "j" {\n  region = var.regoin\n}\n',
                            'job.nomad:2:16: there is no variable named "regoin"; declare it '
                            'with a variable "regoin" { } block'),
    "unknown function": ('job "j" {\n  region = lowr("EU")\n}\n',
                         'job.nomad:2:12: unknown function "lowr"; did you mean "lower"?'),
    "bad type in an operator": ('job "j" {\n  priority = 10 * "x"\n}\n',
                                'job.nomad:2:19: the right operand of "*": expected a number, '
                                'got string "x"'),
}

UNSUPPORTED = {
    "vault": in_task('vault {\n  policies = ["x"]\n}'),
    "consul": in_task("consul {}"),
    "dispatch_payload": in_task("dispatch_payload {}"),
    "csi_plugin": in_task("csi_plugin {}"),
    "identity": in_task("identity {}"),
    "secret": in_task('secret "s" {}'),
    "action": in_task('action "a" {}'),
    "schedule": in_task("schedule {}"),
    "scaling": in_task('scaling "cpu" {}'),
}
JOB_LEVEL_UNSUPPORTED = ("periodic", "parameterized", "multiregion", "spread", "ui")
GROUP_LEVEL_UNSUPPORTED = ("disconnect", "spread", "consul")


@pytest.mark.parametrize("text, message", CASES.values(), ids=CASES.keys())
def test_error_message_and_position(text, message):
    assert str(error_of(text)) == message


@pytest.mark.parametrize("block", UNSUPPORTED)
def test_unsupported_task_blocks_are_refused_where_they_are(block):
    err = error_of(UNSUPPORTED[block])
    assert str(err) == f'job.nomad:4:7: block "{block}" is not supported by nomadjail yet'


@pytest.mark.parametrize("block", JOB_LEVEL_UNSUPPORTED)
def test_unsupported_job_blocks(block):
    err = error_of(f'job "j" {{\n  {block} {{\n    x = 1\n  }}\n}}\n')
    assert (err.line, err.column) == (2, 3)
    assert err.message == f'block "{block}" is not supported by nomadjail yet'


@pytest.mark.parametrize("block", GROUP_LEVEL_UNSUPPORTED)
def test_unsupported_group_blocks(block):
    err = error_of(f'job "j" {{\n  group "g" {{\n    {block} {{}}\n  }}\n}}\n')
    assert err.message == f'block "{block}" is not supported by nomadjail yet'
    assert (err.line, err.column) == (3, 5)


def test_unsupported_attribute():
    err = error_of('job "j" {\n  group "g" {\n    max_client_disconnect = "1h"\n  }\n}\n')
    assert str(err) == ('job.nomad:3:5: attribute "max_client_disconnect" is not supported by '
                        'nomadjail yet')


def test_the_error_carries_its_parts_and_is_a_bad_request():
    err = error_of('job "j" {\n  group "web" {\n    taks "a" {}\n  }\n}\n', "web.nomad")
    assert isinstance(err, BadRequest)
    assert (err.filename, err.line, err.column) == ("web.nomad", 3, 5)
    assert err.message == 'unknown block "taks" in group "web"; did you mean "task"?'
    copy = pickle.loads(pickle.dumps(err))
    assert str(copy) == str(err) and copy.line == 3


def test_json_job_files_are_refused_with_a_hint():
    err = error_of('{"Job": {"ID": "x"}}')
    assert str(err) == ('job.nomad:1:1: this looks like JSON: job files are HCL (job "name" '
                        '{ ... }); a job in the API\'s JSON format is submitted with -json')


def test_errors_in_heredocs_point_into_the_file():
    err = error_of('job "j" {\n  meta = {\n    script = <<EOF\nline\n  ${upper(1, 2)}\nEOF\n'
                   '  }\n}\n')
    assert str(err) == "job.nomad:5:5: upper(str) takes exactly 1 argument, got 2"


def test_a_deeply_nested_expression_is_an_error_not_a_crash():
    err = error_of('job "j" {\n  meta = { a = ' + "[" * 3000 + "]" * 3000 + " }\n}\n")
    assert "nested too deeply" in err.message


@pytest.mark.parametrize("depth", [3000, 20000])
def test_deeply_nested_blocks_are_an_error_not_a_crash(depth: int) -> None:
    err = error_of('job "j" {\n' + "a {\n" * depth + "}\n" * depth + "}\n")
    assert str(err) == "job.nomad:1:1: the job file is nested too deeply to parse"
