"""Answers as Nomad's HTTP API documentation publishes them, for scripted-API tests.

Each sample is copied field for field from the "Sample Response" of
Nomad's API docs (``api-docs/deployments``), so a test run against
:class:`~nomadjail.testing.fake_nomad.FakeNomad` sees exactly the JSON a
Nomad server sends -- including the fields our own structs leave out.
The builders return deep copies with fields changed, for states the docs
do not show.
"""

from __future__ import annotations

import copy
from typing import Any

DEPLOYMENT: dict[str, Any] = {
    "ID": "70638f62-5c19-193e-30d6-f9d6e689ab8e",
    "JobID": "example",
    "JobVersion": 1,
    "JobModifyIndex": 17,
    "JobSpecModifyIndex": 17,
    "JobCreateIndex": 7,
    "TaskGroups": {
        "cache": {
            "Promoted": False,
            "DesiredCanaries": 1,
            "DesiredTotal": 3,
            "PlacedAllocs": 1,
            "HealthyAllocs": 0,
            "UnhealthyAllocs": 0,
        },
    },
    "Status": "running",
    "StatusDescription": "",
    "CreateIndex": 19,
    "ModifyIndex": 19,
}
"""GET /v1/deployment/:id ("Read Deployment"); /v1/deployments lists the same shape."""

DEPLOYMENT_UPDATE_RESPONSE: dict[str, Any] = {
    "EvalID": "0d834913-58a0-81ac-6e33-e452d83a0c66",
    "EvalCreateIndex": 20,
    "DeploymentModifyIndex": 20,
    "RevertedJobVersion": 1,
    "Index": 20,
}
"""POST /v1/deployment/fail/:id ("Fail Deployment"); promote, pause and allocation-health
answer the same shape (without RevertedJobVersion when nothing was reverted)."""

JOB_REGISTER_RESPONSE: dict[str, Any] = {
    "EvalID": "d092fdc0-e1fd-2536-67d8-43af8ca798ac",
    "EvalCreateIndex": 35,
    "JobModifyIndex": 34,
}
"""POST /v1/job/:id/revert ("Revert to older Job Version")."""


def deployment(**changes: Any) -> dict[str, Any]:
    """:data:`DEPLOYMENT` with top-level fields replaced."""
    body = copy.deepcopy(DEPLOYMENT)
    body.update(changes)
    return body


def deployment_state(**changes: Any) -> dict[str, Any]:
    """One ``TaskGroups`` entry with every field Nomad's DeploymentState has (a settled,
    healthy group of two without canaries unless changed)."""
    state: dict[str, Any] = {
        "PlacedCanaries": [], "AutoRevert": False, "AutoPromote": False,
        "ProgressDeadline": 600_000_000_000,
        "RequireProgressBy": "2021-06-09T15:20:27.508545-07:00", "Promoted": False,
        "DesiredCanaries": 0, "DesiredTotal": 2, "PlacedAllocs": 2, "HealthyAllocs": 2,
        "UnhealthyAllocs": 0,
    }
    state.update(changes)
    return state
