"""The in-memory Variables fake answers as the servers do (see tests/http/test_variables_rpc.py
for the real thing): the workload path rule, missing variables, blocking on an index."""

from __future__ import annotations

import threading

import pytest

from nomadjail.structs import NotFound, PermissionDenied
from nomadjail.testing import mock_alloc, mock_job, mock_node
from nomadjail.testing.fake_variables import FakeVariables


def test_reads_follow_the_workload_rule_and_block_on_the_index() -> None:
    alloc = mock_alloc(mock_job(), mock_node())
    fake = FakeVariables({alloc.id: alloc}.get)
    path = f"nomad/jobs/{alloc.job_id}"
    assert fake.read_variable("default", path, alloc.id, 0, 0) == (None, 1)
    put = fake.put(path, {"k": "v"})
    var, index = fake.read_variable("default", path, alloc.id, 0, 0)
    assert var is not None and var.items == {"k": "v"} and index == put.modify_index
    with pytest.raises(PermissionDenied):
        fake.read_variable("default", "nomad/jobs/other", alloc.id, 0, 0)
    with pytest.raises(NotFound):
        fake.read_variable("default", path, "nope", 0, 0)

    timer = threading.Timer(0.05, fake.put, (path, {"k": "w"}))
    timer.start()
    changed, later = fake.read_variable("default", path, alloc.id, index, 10)
    timer.join()
    assert changed is not None and changed.items == {"k": "w"} and later > index
    found, _ = fake.list_variables("default", "nomad/", alloc.id, 0, 0)
    assert [v.path for v in found] == [path]
