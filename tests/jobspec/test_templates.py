"""``template`` blocks: every attribute Nomad documents, in Nomad's API shape, and
Nomad's validation messages (all problems at once)."""

from __future__ import annotations

import pytest

from nomadjail.jobspec import JobspecError, parse_job
from nomadjail.structs import SECOND, ValidationError, to_api
from nomadjail.structs.template import (
    ChangeScript,
    Template,
    WaitConfig,
    dest_escapes_alloc,
    template_errors,
)


def job_with(template_blocks: str) -> str:
    return f'''
job "app" {{
  datacenters = ["dc1"]
  group "g" {{
    task "t" {{
      driver = "raw_exec"
      config {{ command = "/bin/true" }}
{template_blocks}
    }}
  }}
}}
'''


FULL = '''
      template {
        data                 = "port={{ env \\"NOMAD_PORT_http\\" }}"
        destination          = "local/app.conf"
        change_mode          = "script"
        change_signal        = "sighup"
        splay                = "10s"
        perms                = "0600"
        uid                  = 1001
        gid                  = 1002
        left_delimiter       = "[["
        right_delimiter      = "]]"
        env                  = false
        vault_grace          = "15s"
        error_on_missing_key = true
        once                 = true
        change_script {
          command       = "/local/reload.sh"
          args          = ["-v", "now"]
          timeout       = "20s"
          fail_on_error = true
        }
        wait {
          min = "2s"
          max = "10s"
        }
      }
      template {
        source      = "local/env.tpl"
        destination = "secrets/file.env"
        env         = true
      }
'''


def test_every_attribute_lands_in_nomads_api_fields():
    job = parse_job(job_with(FULL), "app.nomad")
    full, env = job.task_groups[0].tasks[0].templates
    assert full == Template(
        embedded_tmpl='port={{ env "NOMAD_PORT_http" }}', dest_path="local/app.conf",
        change_mode="script", change_signal="sighup", splay=10 * SECOND, perms="0600",
        uid=1001, gid=1002, left_delim="[[", right_delim="]]", envvars=False,
        vault_grace=15 * SECOND, err_missing_key=True, once=True,
        change_script=ChangeScript(command="/local/reload.sh", args=["-v", "now"],
                                   timeout=20 * SECOND, fail_on_error=True),
        wait=WaitConfig(min=2 * SECOND, max=10 * SECOND))
    assert env.source_path == "local/env.tpl" and env.envvars
    api = to_api(full)
    assert api["EmbeddedTmpl"] == full.embedded_tmpl and api["DestPath"] == "local/app.conf"
    assert api["ChangeScript"]["FailOnError"] is True and api["Wait"]["Min"] == 2 * SECOND
    assert api["ErrMissingKey"] is True and api["Envvars"] is False and api["Uid"] == 1001


def test_defaults_are_nomads_after_canonicalize():
    job = parse_job(job_with('template {\n data = "x"\n destination = "local/x"\n}\n'
                             'template {\n data = "y"\n destination = "local/y"\n'
                             ' change_mode = "signal"\n}\n'), "app.nomad")
    job.canonicalize()
    plain, signal = job.task_groups[0].tasks[0].templates
    assert (plain.change_mode, plain.splay, plain.perms, plain.left_delim, plain.right_delim,
            plain.change_signal) == ("restart", 5 * SECOND, "0644", "{{", "}}", "")
    assert signal.change_signal == "SIGHUP"
    job.validate()


def test_unknown_attribute_in_template_is_refused_with_a_hint():
    with pytest.raises(JobspecError) as err:
        parse_job(job_with('      template {\n        destinaton = "local/x"\n      }'),
                  "app.nomad")
    assert 'unknown attribute "destinaton" in template in task "t"' in str(err.value)
    assert 'did you mean "destination"' in str(err.value)
    assert (err.value.line, err.value.column) == (9, 9)


def test_bad_duration_in_wait_names_the_block():
    with pytest.raises(JobspecError) as err:
        parse_job(job_with('      template {\n        data = "x"\n        destination = "x"\n'
                           '        wait {\n          min = "soon"\n        }\n      }'),
                  "app.nomad")
    assert 'invalid value for "min" in wait in template in task "t"' in str(err.value)


def validation_errors(blocks: str) -> list[str]:
    job = parse_job(job_with(blocks), "app.nomad")
    job.canonicalize()
    with pytest.raises(ValidationError) as err:
        job.validate()
    return [line.strip() for line in str(err.value).splitlines()]


def test_every_problem_is_reported_at_once_with_nomads_messages():
    errors = "\n".join(validation_errors('''
      template {
        change_mode = "reboot"
        splay       = "-1s"
        perms       = "0999"
        wait {
          min = "10s"
          max = "2s"
        }
      }
      template {
        data          = "x"
        destination   = "../../etc/passwd"
        change_mode   = "signal"
        change_signal = ""
        env           = true
      }
      template {
        data        = "x"
        destination = "local/a"
        change_mode = "script"
      }
      template {
        data        = "x"
        destination = "local/a"
        change_mode = "script"
        change_script {
          args = ["x"]
        }
      }
'''))
    for expected in (
            "Template 1 validation failed: Must specify a source path or have an embedded "
            "template",
            "Template 1 validation failed: Must specify a destination for the template",
            "Template 1 validation failed: Invalid change mode. Must be one of the following: "
            "noop, signal, script, restart",
            "Template 1 validation failed: Must specify positive splay value",
            'Template 1 validation failed: Failed to parse "0999" as octal: '
            'strconv.ParseUint: parsing "0999": invalid syntax',
            "Template 1 validation failed: wait min 10s is greater than max 2s",
            "Template 2 validation failed: destination escapes allocation directory",
            "Template 2 validation failed: cannot use signals with env var templates",
            "Template 3 validation failed: must specify change script configuration value "
            "when change mode is script",
            "Template 4 validation failed: must specify script path value when change mode is "
            "script",
            "Template 4 has same destination as 3"):
        assert expected in errors


@pytest.mark.parametrize("dest, escapes", [
    ("local/app.conf", False), ("/local/app.conf", False), ("secrets/x", False),
    ("../alloc/shared.conf", False), ("../../etc/passwd", True), ("..", False),
    ("../..", True), ("/../../x", True)])
def test_destination_escape_rule_is_nomads(dest, escapes):
    assert dest_escapes_alloc(dest) is escapes


def test_a_syntax_error_is_refused_at_validation_with_line_and_column():
    tmpl = Template(embedded_tmpl="line one\n{{ if .x }}\nno end", dest_path="local/app.conf")
    tmpl.canonicalize()
    errors = list(template_errors(tmpl))
    assert len(errors) == 1
    assert errors[0].startswith("template: local/app.conf:")


def test_custom_delimiters_are_used_for_the_syntax_check():
    tmpl = Template(embedded_tmpl="{{ not a template here [[ .x ]]", dest_path="local/a",
                    left_delim="[[", right_delim="]]")
    tmpl.canonicalize()
    assert list(template_errors(tmpl)) == []
