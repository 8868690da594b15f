"""``artifact`` blocks: every attribute Nomad's jobspec parses, the API shape
(``Task.Artifacts``), Nomad's defaults and its validation messages."""

from __future__ import annotations

import pytest

from nomadjail.jobspec import JobspecError, parse_job
from nomadjail.structs import ValidationError, from_api, to_api
from nomadjail.structs.artifact import TaskArtifact, destination_escapes
from nomadjail.structs.job import Job

SHA256 = "a" * 64


def job_with(artifacts: str) -> str:
    return f'''
job "web" {{
  datacenters = ["dc1"]
  group "g" {{
    task "t" {{
      driver = "raw_exec"
      config {{ command = "/bin/true" }}
{artifacts}
    }}
  }}
}}
'''


EVERYTHING = job_with('''
      artifact {
        source      = "https://example.com/app-${NOMAD_META_version}.tar.gz"
        destination = "local/app"
        mode        = "dir"
        insecure    = true
        chown       = true
        options {
          checksum = "sha256:''' + SHA256 + '''"
          archive  = "false"
        }
        headers {
          User-Agent    = "nomadjail"
          Authorization = "Bearer ${NOMAD_META_token}"
        }
      }
      artifact {
        source = "git::https://example.com/repo.git"
        options = { ref = "v1.2.0", depth = "1" }
        headers = { X-Trace = "1" }
      }
''')


def test_every_attribute_lands_in_nomads_api_fields() -> None:
    job = parse_job(EVERYTHING)
    first, second = job.task_groups[0].tasks[0].artifacts
    assert first == TaskArtifact(
        getter_source="https://example.com/app-${NOMAD_META_version}.tar.gz",
        getter_options={"checksum": f"sha256:{SHA256}", "archive": "false"},
        getter_headers={"User-Agent": "nomadjail",
                        "Authorization": "Bearer ${NOMAD_META_token}"},
        getter_mode="dir", getter_insecure=True, relative_dest="local/app", chown=True)
    assert second.getter_options == {"ref": "v1.2.0", "depth": "1"}
    assert second.getter_headers == {"X-Trace": "1"}
    api = to_api(job)["TaskGroups"][0]["Tasks"][0]["Artifacts"][0]
    assert api == {"GetterSource": "https://example.com/app-${NOMAD_META_version}.tar.gz",
                   "GetterOptions": {"checksum": f"sha256:{SHA256}", "archive": "false"},
                   "GetterHeaders": {"User-Agent": "nomadjail",
                                     "Authorization": "Bearer ${NOMAD_META_token}"},
                   "GetterMode": "dir", "GetterInsecure": True, "RelativeDest": "local/app",
                   "Chown": True}


def test_the_api_shape_round_trips() -> None:
    job = parse_job(EVERYTHING)
    job.canonicalize()
    again = from_api(Job, to_api(job))
    assert again.task_groups[0].tasks[0].artifacts == job.task_groups[0].tasks[0].artifacts


def test_nomads_defaults() -> None:
    job = parse_job(job_with('''
      artifact { source = "https://example.com/a.tgz" }
      artifact {
        source = "https://example.com/bin/tool?x=1"
        mode   = "file"
      }
'''))
    job.canonicalize()
    job.validate()
    plain, file_mode = job.task_groups[0].tasks[0].artifacts
    assert (plain.getter_mode, plain.relative_dest, plain.getter_insecure, plain.chown) == (
        "any", "local/", False, False)
    # File mode: the destination is the source's file name under local/ (Nomad's
    # api.TaskArtifact.Canonicalize takes path.Base of the whole source).
    assert (file_mode.getter_mode, file_mode.relative_dest) == ("file", "local/tool?x=1")


def validation_errors(artifacts: str) -> str:
    job = parse_job(job_with(artifacts))
    job.canonicalize()
    with pytest.raises(ValidationError) as err:
        job.validate()
    return str(err.value)


def test_every_problem_is_reported_at_once_in_nomads_words() -> None:
    message = validation_errors(f'''
      artifact {{
        mode        = "folder"
        destination = "../../../etc"
      }}
      artifact {{
        source = "https://example.com/x"
        options {{ checksum = "sha256:{SHA256[:10]}" }}
      }}
      artifact {{
        source = "https://example.com/y"
        options {{ checksum = "crc32:abcd" }}
      }}
      artifact {{
        source = "https://example.com/z"
        options {{ checksum = "abcd" }}
      }}
''')
    where = "Task group g validation failed: Task t validation failed: "
    assert where + "Artifact 1 validation failed: source must be specified" in message
    assert ('Artifact 1 validation failed: invalid artifact mode "folder"; must be one of: '
            "any, file, dir") in message
    assert "Artifact 1 validation failed: destination escapes allocation directory" in message
    assert f"Artifact 2 validation failed: invalid sha256 checksum: {SHA256[:10]}" in message
    assert "Artifact 3 validation failed: unsupported checksum type: crc32" in message
    assert ('Artifact 4 validation failed: checksum must be given as "type:value"; '
            'got "abcd"') in message


def test_a_checksum_that_is_interpolated_is_left_to_the_client() -> None:
    job = parse_job(job_with('''
      artifact {
        source = "https://example.com/x"
        options { checksum = "sha256:${NOMAD_META_sum}" }
      }
'''))
    job.canonicalize()
    job.validate()


@pytest.mark.parametrize("destination, escapes", [
    ("local/", False), ("local/../../alloc/data", False), ("/etc", False), ("..", False),
    ("../..", True), ("../../other-alloc", True), ("local/../../../x", True)])
def test_destinations_are_relative_to_the_task_dir(destination: str, escapes: bool) -> None:
    assert destination_escapes(destination) is escapes


@pytest.mark.parametrize("body, message", [
    ('artifact {\n  source = "x"\n  sorce = "y"\n}',
     'unknown attribute "sorce" in artifact in task "t"; did you mean "source"?'),
    ('artifact {\n  source = ["x"]\n}', "source"),
    ('artifact {\n  source = "x"\n  chown = "maybe"\n}', "chown"),
    ('artifact {\n  source = "x"\n  options { checksum = ["a"] }\n}', "checksum"),
    ('artifact {\n  source = "x"\n  options = { a = "b" }\n  options { c = "d" }\n}',
     "options is given twice"),
])
def test_bad_input_is_refused_where_it_is(body: str, message: str) -> None:
    with pytest.raises(JobspecError) as err:
        parse_job(job_with(body), filename="job.nomad")
    assert message in str(err.value)
    assert str(err.value).startswith("job.nomad:")
