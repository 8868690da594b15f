"""A ``type = "sysbatch"`` job file parses, canonicalizes as Nomad's does (no
update strategy, no reschedule policy: sysbatch work is retried only by the
client's restart policy) and validates like a system job (count at most 1)."""

from __future__ import annotations

import pytest

from nomadjail.jobspec import parse_job
from nomadjail.structs import JobType, ValidationError

JOB = """
job "sweep" {
  type = "sysbatch"
  group "g" {
    count = %d
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
"""


def test_a_sysbatch_job_file_parses_and_canonicalizes_without_update_or_reschedule():
    job = parse_job(JOB % 1)
    job.canonicalize()
    job.validate()

    assert job.type == JobType.SYSBATCH
    assert job.update is None
    assert job.task_groups[0].update is None
    assert job.task_groups[0].reschedule_policy is None


def test_a_sysbatch_group_cannot_ask_for_more_than_one_per_node():
    job = parse_job(JOB % 2)
    job.canonicalize()

    with pytest.raises(ValidationError, match="Job task group g has count 2. Count cannot "
                                              "exceed 1 with system scheduler"):
        job.validate()
