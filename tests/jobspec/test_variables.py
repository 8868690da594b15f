"""Variables (-var, var files, NOMAD_VAR_*), their types and precedence, and locals."""

from __future__ import annotations

import pytest

from nomadjail.jobspec import JobspecError, parse_job

DECLARATIONS = '''variable "name" {
  type = string
}

variable "replicas" {
  type    = number
  default = 1
}

variable "enabled" {
  type    = bool
  default = false
}

variable "dcs" {
  type    = list(string)
  default = ["dc1"]
}

variable "labels" {
  type    = map(string)
  default = {}
}

variable "untyped" {
  default = "plain"
}

job "j" {
  datacenters = var.dcs
  region      = var.name
  meta        = merge(var.labels, { enabled = var.enabled, untyped = var.untyped })
  group "g" {
    count = var.replicas
  }
}
'''


def parse(**kwargs):
    return parse_job(DECLARATIONS, "job.nomad", **kwargs)


def error_of(**kwargs) -> str:
    with pytest.raises(JobspecError) as err:
        parse(**kwargs)
    return str(err.value)


def test_defaults_apply_when_nothing_is_given():
    job = parse(variables={"name": "eu"})
    assert job.datacenters == ["dc1"]
    assert job.region == "eu"
    assert job.task_groups[0].count == 1
    assert job.meta == {"enabled": "false", "untyped": "plain"}


def test_raw_var_strings_are_parsed_per_declared_type():
    job = parse(variables={"name": "eu", "replicas": "3", "enabled": "true",
                           "dcs": '["a", "b"]', "labels": '{ team = "web" }',
                           "untyped": "[not parsed]"})
    assert job.task_groups[0].count == 3
    assert job.datacenters == ["a", "b"]
    assert job.meta == {"team": "web", "enabled": "true", "untyped": "[not parsed]"}


def test_environment_values_come_from_nomad_var_prefix_only():
    job = parse(env={"NOMAD_VAR_name": "from-env", "NOMAD_VAR_replicas": "4",
                     "NOMAD_VAR_undeclared": "ignored", "name": "not-this"})
    assert (job.region, job.task_groups[0].count) == ("from-env", 4)


def test_precedence_is_default_then_env_then_var_files_then_var():
    env = {"NOMAD_VAR_name": "env", "NOMAD_VAR_replicas": "2", "NOMAD_VAR_dcs": '["env"]'}
    files = [("one.hcl", 'name = "file1"\nreplicas = 5\n'), ("two.hcl", 'name = "file2"\n')]
    job = parse(env=env, var_files=files, variables={"replicas": "9"})
    assert job.region == "file2"          # the later var file wins over the earlier and env
    assert job.task_groups[0].count == 9  # -var wins over everything
    assert job.datacenters == ["env"]     # env wins over the default


def test_json_var_files():
    job = parse(var_files=[("vars.json", '{"name": "json", "dcs": ["x", "y"], "replicas": 2}')])
    assert (job.region, job.datacenters, job.task_groups[0].count) == ("json", ["x", "y"], 2)


def test_hcl_var_files_may_use_functions_but_no_variables():
    job = parse(var_files=[("vars.hcl", 'name = upper("eu")\ndcs = [for d in ["a"] : d]\n')])
    assert (job.region, job.datacenters) == ("EU", ["a"])
    with pytest.raises(JobspecError) as err:
        parse(var_files=[("vars.hcl", 'name = var.other\n')])
    assert str(err.value) == 'vars.hcl:1:8: unknown name "var": variables are not allowed here'


def test_variables_block_declares_untyped_variables_with_defaults():
    job = parse_job('variables {\n  region = "eu"\n  count = 2\n}\n'
                    'job "j" {\n  region = var.region\n  group "g" { count = var.count }\n}\n',
                    variables={"count": "7"})
    assert (job.region, job.task_groups[0].count) == ("eu", 7)


def test_a_variable_without_value_or_default_is_named():
    assert error_of() == ('job.nomad:1:10: variable "name" has no value: set it with -var '
                          'name=..., a var file or the environment variable NOMAD_VAR_name, or '
                          'give it a default')


def test_a_var_for_an_undeclared_variable_is_an_error():
    assert error_of(variables={"name": "x", "replica": "2"}) == (
        '<value for var.replica from arguments>:1:1: -var "replica" sets a variable the job '
        'file does not declare (did you mean "replicas"?); declare it with variable "replica" {}')


def test_a_var_file_setting_an_undeclared_variable_is_an_error():
    assert error_of(var_files=[("v.hcl", 'name = "x"\nnmae = "y"\n')]) == (
        'v.hcl:2:1: the var file sets "nmae", a variable the job file does not declare '
        '(did you mean "name"?)')


@pytest.mark.parametrize("kwargs, message", [
    ({"variables": {"name": "x", "replicas": "many"}},
     '<value for var.replicas from arguments>:1:1: invalid value for variable "replicas" '
     '(type number): expected a number, got string "many"'),
    ({"variables": {"name": "x", "enabled": "yes"}},
     '<value for var.enabled from arguments>:1:1: invalid value for variable "enabled" '
     '(type bool): expected a bool (true or false), got string "yes"'),
    ({"variables": {"name": "x", "dcs": '"dc1"'}},
     '<value for var.dcs from arguments>:1:1: invalid value for variable "dcs" '
     '(type list(string)): expected a list, got string "dc1"'),
    ({"variables": {"name": "x", "labels": '{ a = [1] }'}},
     '<value for var.labels from arguments>:1:1: invalid value for variable "labels" '
     '(type map(string)): key "a": expected a string, got a list'),
    ({"env": {"NOMAD_VAR_name": "x", "NOMAD_VAR_replicas": "1.5.0"}},
     '<value for var.replicas from env>:1:1: invalid value for variable "replicas" '
     '(type number): expected a number, got string "1.5.0"'),
    ({"var_files": [("v.json", '{\n  "name": "x",\n  "dcs": {"a": 1}\n}')]},
     'v.json:3:3: invalid value for variable "dcs" (type list(string)): expected a list, '
     'got an object'),
    ({"var_files": [("v.hcl", 'name = "x"\nreplicas = "three"\n')]},
     'v.hcl:2:12: invalid value for variable "replicas" (type number): expected a number, '
     'got string "three"'),
    ({"variables": {"name": "x", "dcs": '["a",'}},
     '<value for var.dcs from arguments>:1:6: unexpected end of value; expected an expression '
     'or "]"'),
    ({"var_files": [("v.json", '{"name": ')]},
     'v.json:1:10: invalid JSON: Expecting value'),
    ({"var_files": [("v.hcl", 'variable "name" {}\n')]},
     'v.hcl:1:1: a var file assigns values (name = value); it cannot declare variables: move '
     'variable "name" to the job file'),
])
def test_values_that_do_not_fit_name_the_variable_value_and_type(kwargs, message):
    assert error_of(**kwargs) == message


def test_default_must_match_the_declared_type():
    with pytest.raises(JobspecError) as err:
        parse_job('variable "n" {\n  type = number\n  default = "x"\n}\njob "j" {}\n')
    assert str(err.value) == ('job.nomad:3:13: the default of variable "n" does not match its '
                              'type number: expected a number, got string "x"')


@pytest.mark.parametrize("type_text, message", [
    ("strng", 'job.nomad:2:10: unknown type "strng"; did you mean "string"?'),
    ("list", 'job.nomad:2:10: type "list" needs its element types, as in list(string)'),
    ('"string"', 'job.nomad:2:10: a type is written without quotes, as in type = string'),
])
def test_bad_type_expressions(type_text, message):
    with pytest.raises(JobspecError) as err:
        parse_job(f'variable "v" {{\n  type = {type_text}\n}}\njob "j" {{}}\n')
    assert str(err.value) == message


def test_complex_types_convert_their_elements():
    job = parse_job('''variable "ports" {
  type    = list(number)
  default = ["80", 443]
}
variable "server" {
  type    = object({ name = string, port = number, tls = optional(bool) })
  default = { name = "web", port = "8080", extra = "dropped" }
}
job "j" {
  meta = {
    ports  = jsonencode(var.ports)
    server = jsonencode(var.server)
  }
}
''')
    assert job.meta == {"ports": "[80,443]", "server": '{"name":"web","port":8080,"tls":null}'}


def test_validation_blocks_reject_values_with_the_authors_message():
    text = '''variable "replicas" {
  type    = number
  default = 1
  validation {
    condition     = var.replicas > 0 && var.replicas < 10
    error_message = "replicas must be between 1 and 9"
  }
}
job "j" {
  group "g" { count = var.replicas }
}
'''
    assert parse_job(text, variables={"replicas": "5"}).task_groups[0].count == 5
    with pytest.raises(JobspecError) as err:
        parse_job(text, variables={"replicas": "12"})
    assert str(err.value) == ('<value for var.replicas from arguments>:1:1: invalid value for '
                              'variable "replicas" (from -var): replicas must be between 1 and 9')


def test_locals_use_variables_functions_and_each_other_in_any_order():
    job = parse_job('''variable "env" {
  default = "prod"
}
locals {
  name = "${local.prefix}-${var.env}"
}
locals {
  prefix  = upper("web")
  dcs     = [for i in range(2) : "dc${i + 1}"]
  runtime = "${NOMAD_ALLOC_DIR}/data"
}
job "j" {
  name        = local.name
  datacenters = local.dcs
  meta        = { dir = local.runtime }
}
''')
    assert (job.name, job.datacenters, job.meta) == ("WEB-prod", ["dc1", "dc2"],
                                                     {"dir": "${NOMAD_ALLOC_DIR}/data"})


def test_local_cycles_print_the_chain():
    with pytest.raises(JobspecError) as err:
        parse_job('locals {\n  a = local.b\n  b = "${local.c}"\n  c = local.a\n}\njob "j" {}\n')
    assert str(err.value) == ('job.nomad:2:3: local "a" depends on itself: local.a -> local.b '
                              '-> local.c -> local.a')


def test_a_broken_local_is_reported_even_when_unused():
    with pytest.raises(JobspecError) as err:
        parse_job('locals {\n  unused = 1 + "x"\n}\njob "j" {}\n')
    assert str(err.value) == ('job.nomad:2:16: the right operand of "+": expected a number, got '
                              'string "x"')


def test_duplicate_declarations():
    with pytest.raises(JobspecError) as err:
        parse_job('variable "a" {}\nvariable "a" {}\njob "j" {}\n')
    assert str(err.value) == ('job.nomad:2:10: variable "a" is declared twice; the first '
                              'declaration is at line 1')
    with pytest.raises(JobspecError) as err:
        parse_job('locals {\n  a = 1\n}\nlocals {\n  a = 2\n}\njob "j" {}\n')
    assert str(err.value) == ('job.nomad:5:3: local "a" is defined twice; the first definition '
                              'is at line 2')
