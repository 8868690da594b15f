"""The result of one run of a check the client runs itself, for a service registered
with Nomad's own service discovery (``provider = "nomad"``): Nomad's
``structs.CheckQueryResult``.

``GET /v1/client/allocation/<id>/checks`` answers with the latest result of every
check of the allocation, by check ID; ``alloc checks`` and the "Nomad Service
Checks" section of ``alloc status`` print them.  Unlike Consul's
passing/warning/critical, a Nomad check is ``success``, ``failure`` or ``pending``
(not run yet), and its :class:`CheckMode` says whether deployments wait for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .codec import to_api
from .consts import WireEnum


class CheckMode(WireEnum):
    """``healthiness``: deployments wait for the check; ``readiness``: they do not
    (``on_update = "ignore"``)."""

    HEALTHINESS = "healthiness"
    READINESS = "readiness"


class CheckResultStatus(WireEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    PENDING = "pending"


def check_mode(on_update: str) -> CheckMode:
    """Nomad's GetCheckMode."""
    return CheckMode.READINESS if on_update == "ignore" else CheckMode.HEALTHINESS


@dataclass(slots=True)
class CheckQueryResult:
    id: str = ""
    mode: str = CheckMode.HEALTHINESS  # a CheckMode
    status: str = CheckResultStatus.PENDING  # a CheckResultStatus
    status_code: int = 0  # http checks: the answer's status code
    output: str = ""
    timestamp: int = 0  # unix seconds
    # Where the check belongs: the allocation's name (Nomad calls it Group), the task
    # of a task's service ("" for a group's), the service and the check.
    group: str = ""
    task: str = ""
    service: str = ""
    check: str = ""


def check_result_json(result: CheckQueryResult) -> dict[str, Any]:
    """Nomad's JSON for a result: ``StatusCode`` and ``Task`` are left out when empty
    (``omitempty`` in Nomad's struct)."""
    data: dict[str, Any] = to_api(result)
    if not result.status_code:
        del data["StatusCode"]
    if not result.task:
        del data["Task"]
    return data
