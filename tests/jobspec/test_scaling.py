"""The group ``scaling`` block: parsed into Nomad's ScalingPolicy, bounds checked."""

from __future__ import annotations

import pytest

from nomadjail.jobspec import JobspecError, parse_job
from nomadjail.structs import ValidationError, to_api


def job_file(scaling: str, count: int = 2) -> str:
    return f'''job "web" {{
  group "g" {{
    count = {count}
{scaling}
    task "t" {{
      driver = "raw_exec"
      config {{ command = "/bin/true" }}
    }}
  }}
}}
'''


DOC_EXAMPLE = '''    scaling {
      enabled = true
      min     = 1
      max     = 20
      policy {
        cooldown = "1m"
        check "avg_sessions" {
          source = "prometheus"
          query  = "sum(traefik_entrypoint_open_connections)"
        }
      }
    }'''


def test_documentation_example_in_nomads_shape() -> None:
    job = parse_job(job_file(DOC_EXAMPLE), "job.nomad")
    job.canonicalize()
    job.validate()
    scaling = to_api(job)["TaskGroups"][0]["Scaling"]
    assert scaling["Type"] == "horizontal" and scaling["Enabled"] is True
    assert (scaling["Min"], scaling["Max"]) == (1, 20)
    assert scaling["Target"] == {"Namespace": "default", "Job": "web", "Group": "g"}
    assert scaling["Policy"]["cooldown"] == "1m"
    assert scaling["Policy"]["check"] == [{"avg_sessions": [{
        "source": "prometheus", "query": "sum(traefik_entrypoint_open_connections)"}]}]


def test_min_defaults_to_the_count_and_enabled_to_true() -> None:
    job = parse_job(job_file("    scaling {\n      max = 5\n    }", count=3), "job.nomad")
    job.canonicalize()
    policy = job.task_groups[0].scaling
    assert policy is not None and (policy.min, policy.max, policy.enabled) == (3, 5, True)


def test_max_is_required() -> None:
    with pytest.raises(JobspecError, match="missing max in scaling"):
        parse_job(job_file("    scaling {\n      min = 1\n    }"), "job.nomad")


@pytest.mark.parametrize("bounds, count, message", [
    ("min = 3\n max = 5", 2, "task group count must not be less than minimum count"),
    ("min = 0\n max = 1", 2, "task group count must not be greater than maximum count"),
    ("min = 4\n max = 1", 2, "maximum count must not be less than minimum count"),
])
def test_count_outside_bounds_is_invalid(bounds: str, count: int, message: str) -> None:
    job = parse_job(job_file(f"    scaling {{\n {bounds}\n }}", count=count), "job.nomad")
    job.canonicalize()
    with pytest.raises(ValidationError) as err:
        job.validate()
    assert f"Task group g validation failed: Scaling policy invalid: {message}" in str(err.value)


def test_task_level_scaling_stays_refused() -> None:
    text = job_file("").replace('driver = "raw_exec"', 'driver = "raw_exec"\n scaling "cpu" {}')
    with pytest.raises(JobspecError, match='block "scaling" is not supported'):
        parse_job(text, "job.nomad")
