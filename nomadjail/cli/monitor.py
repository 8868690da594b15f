"""Watching an evaluation (and then its deployment) the way ``nomad job run`` does.

The output is Nomad's ``monitor.go``: ``==>`` lines for milestones, indented
lines for events, each stamped with the local time::

    ==> 2024-01-08T10:34:47+01:00: Monitoring evaluation "a0b7d7f4"
        2024-01-08T10:34:47+01:00: Evaluation triggered by job "example"
        2024-01-08T10:34:47+01:00: Allocation "3b1e9f0e" created: node "6e1b8b8a", group "cache"
        2024-01-08T10:34:47+01:00: Evaluation status changed: "pending" -> "complete"
    ==> 2024-01-08T10:34:47+01:00: Evaluation "a0b7d7f4" finished with status "complete"

Exit status (Nomad's contract): 0 when everything was placed (and the
deployment, if any, succeeded), 2 when the scheduler could not place every
allocation, 1 for anything else (API errors, a failed deployment, one that
failed and was rolled back).  The deployment is followed by
:mod:`nomadjail.cli.deployment_monitor`, whose departures from Nomad apply
too (a deployment waiting for its canaries to be promoted ends the watch,
with status 0).

Two departures from Nomad, both so scripts see success when there is one:

* with ``wait_for_running`` (``job run`` of a service job that starts no
  deployment), the monitor keeps watching the evaluation's allocations
  until none is pending, printing their status changes and then the
  allocation table, so the command returns when the job really runs;
* with ``stopping`` (``job stop``), the job's deployment ending "cancelled"
  is the expected outcome, not an error (Nomad exits 1 there, which its
  maintainers called a bug in hashicorp/nomad#11968); likewise with
  ``failing`` (``deployment fail``) the deployment ending "failed" (and
  perhaps rolled back) is what was asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..api import ApiClient, ApiError
from ..structs import (
    AllocClientStatus,
    AllocDesiredStatus,
    DeploymentStatus,
    EvalStatus,
    JobType,
    format_duration,
)
from .deployment_monitor import DeploymentMonitor
from .format import FULL_ID, format_time_s, go_quote, limit
from .meta import Meta, PrefixedUi, Ui
from .views import format_alloc_list_stubs, format_alloc_metrics, placement_noun

EVAL_POLL_WAIT = 1.0
"""Seconds a blocking evaluation read may wait (Nomad polls once a second)."""
ALLOC_POLL_WAIT = 2.0
IDLE_PAUSE = 0.1
"""Pause when a read came back unchanged at once (a server that does not block)."""

_TERMINAL_EVAL = {EvalStatus.COMPLETE, EvalStatus.FAILED, EvalStatus.CANCELED}


@dataclass(slots=True)
class _AllocState:
    id: str
    group: str
    node: str
    desired: str
    desired_description: str
    client: str
    client_description: str
    index: int


@dataclass(slots=True)
class _EvalState:
    status: str = EvalStatus.PENDING
    description: str = ""
    node: str = ""
    deployment: str = ""
    job: str = ""
    wait: int = 0  # ns
    index: int = 0
    allocs: dict[str, _AllocState] = field(default_factory=dict)


def _alloc_states(stubs: Sequence[Mapping[str, Any]]) -> dict[str, _AllocState]:
    return {stub["ID"]: _AllocState(
        id=stub["ID"], group=stub.get("TaskGroup", ""), node=stub.get("NodeID", ""),
        desired=stub.get("DesiredStatus", ""),
        desired_description=stub.get("DesiredDescription", ""),
        client=stub.get("ClientStatus", ""), client_description=stub.get("ClientDescription", ""),
        index=int(stub.get("CreateIndex") or 0)) for stub in stubs}


class EvalMonitor:
    """Follows one evaluation to its end and reports what changed, as Nomad's monitor does."""

    def __init__(self, meta: Meta, client: ApiClient, length: int, *,
                 wait_for_running: bool = False, stopping: bool = False,
                 failing: bool = False):
        self.meta = meta
        self.client = client
        self.length = length
        self.wait_for_running = wait_for_running
        self.expected_ends: set[str] = set()
        if stopping:
            self.expected_ends.add(DeploymentStatus.CANCELLED)
        if failing:
            self.expected_ends.add(DeploymentStatus.FAILED)
        self.ui: Ui = PrefixedUi(meta.ui)
        self.state = _EvalState()

    def _now(self) -> str:
        return format_time_s(self.meta.now())

    def _out(self, text: str) -> None:
        self.ui.output(f"{self._now()}: {text}")

    def update(self, new: _EvalState) -> None:
        """Print what differs between the last state seen and ``new``, then keep ``new``."""
        old = self.state
        if not old.node and new.node:
            self._out(f'Evaluation triggered by node "{limit(new.node, self.length)}"')
        if not old.job and new.job:
            self._out(f"Evaluation triggered by job {go_quote(new.job)}")
        if not old.deployment and new.deployment:
            self._out(f'Evaluation within deployment: "{limit(new.deployment, self.length)}"')
        for alloc_id, alloc in new.allocs.items():
            before = old.allocs.get(alloc_id)
            if before is None:
                if alloc.index < new.index:
                    self._out(f'Allocation "{limit(alloc.id, self.length)}" modified: node '
                              f'"{limit(alloc.node, self.length)}", group {go_quote(alloc.group)}')
                elif alloc.desired == AllocDesiredStatus.RUN:
                    self._out(f'Allocation "{limit(alloc.id, self.length)}" created: node '
                              f'"{limit(alloc.node, self.length)}", group {go_quote(alloc.group)}')
            elif before.client != alloc.client:
                description = f" ({alloc.client_description})" if alloc.client_description else ""
                self._out(f'Allocation "{limit(alloc.id, self.length)}" status changed: '
                          f'"{before.client}" -> "{alloc.client}"{description}')
        if old.status and new.status != EvalStatus.PENDING and old.status != new.status:
            self._out(f'Evaluation status changed: "{old.status}" -> "{new.status}"')
        self.state = new

    def monitor(self, eval_id: str) -> int:
        self.update(_EvalState())
        self.ui.info(f'{self._now()}: Monitoring evaluation "{limit(eval_id, self.length)}"')
        sched_failure = False
        index = 0
        while True:
            try:
                evaluation, query_meta = self.client.evaluation(
                    eval_id, index=index, wait=EVAL_POLL_WAIT if index else None)
            except ApiError:
                self.ui.error(f'No evaluation with id "{eval_id}" found')
                return 1
            try:
                stubs, _ = self.client.evaluation_allocations(evaluation.id)
            except ApiError as err:
                self.ui.error(f"{self._now()}: Error reading allocations: {err}")
                return 1
            state = _EvalState(status=evaluation.status,
                               description=evaluation.status_description,
                               node=evaluation.node_id, deployment=evaluation.deployment_id,
                               job=evaluation.job_id, wait=evaluation.wait,
                               index=evaluation.create_index, allocs=_alloc_states(stubs))
            self.update(state)
            if evaluation.status not in _TERMINAL_EVAL:
                if query_meta.last_index == index:
                    self.meta.env.sleep(IDLE_PAUSE)
                index = query_meta.last_index
                continue

            if not evaluation.failed_tg_allocs:
                self.ui.info(f'{self._now()}: Evaluation "{limit(evaluation.id, self.length)}" '
                             f'finished with status "{evaluation.status}"')
            else:
                sched_failure = True
                self.ui.info(f'{self._now()}: Evaluation "{limit(evaluation.id, self.length)}" '
                             f'finished with status "{evaluation.status}" but failed to place '
                             "all allocations:")
                for group in sorted(evaluation.failed_tg_allocs):
                    metrics = evaluation.failed_tg_allocs[group]
                    self._out(f"Task Group {go_quote(group)} (failed to place "
                              f"{metrics.coalesced_failures + 1} {placement_noun(metrics)}):")
                    text = self.ui.colorize(format_alloc_metrics(metrics, prefix="  "))
                    for line in text.split("\n"):
                        self.ui.output(line)
                if evaluation.blocked_eval:
                    self._out(f'Evaluation "{limit(evaluation.blocked_eval, self.length)}" '
                              "waiting for additional capacity to place remainder")

            if evaluation.next_eval:
                if evaluation.wait:
                    self.ui.info(f'{self._now()}: Monitoring next evaluation '
                                 f'"{limit(evaluation.next_eval, self.length)}" in '
                                 f"{format_duration(evaluation.wait)}")
                    self.meta.env.sleep(evaluation.wait / 1e9)
                self.state = _EvalState()
                return self.monitor(evaluation.next_eval)
            break

        deployment_id = self.state.deployment
        if deployment_id:
            self.ui.info(f'{self._now()}: Monitoring deployment '
                         f'"{limit(deployment_id, self.length)}"')
            outcome = DeploymentMonitor(self.meta, self.client, self.ui,
                                        verbose=self.length == FULL_ID,
                                        wait=self.state.wait / 1e9 or None
                                        ).monitor(deployment_id)
            if not outcome.succeeded(also=self.expected_ends):
                return 1
            sched_failure = False
        elif (self.wait_for_running and evaluation.type == JobType.SERVICE
              and not sched_failure):
            return self._wait_for_running(evaluation.id)

        return 2 if sched_failure else 0

    def _wait_for_running(self, eval_id: str) -> int:
        """Keep reporting the evaluation's new allocations until none of them is pending."""
        index = 0
        stubs: list[dict[str, Any]] = []
        while True:
            waiting = [a for a in self.state.allocs.values()
                       if a.desired == AllocDesiredStatus.RUN
                       and a.client == AllocClientStatus.PENDING]
            if not waiting and index:
                break
            try:
                stubs, query_meta = self.client.evaluation_allocations(
                    eval_id, index=index, wait=ALLOC_POLL_WAIT if index else None)
            except ApiError as err:
                self.ui.error(f"{self._now()}: Error reading allocations: {err}")
                return 1
            new = _EvalState(status=self.state.status, description=self.state.description,
                             node=self.state.node, deployment=self.state.deployment,
                             job=self.state.job, wait=self.state.wait, index=self.state.index,
                             allocs=_alloc_states(stubs))
            self.update(new)
            if query_meta.last_index == index:
                self.meta.env.sleep(IDLE_PAUSE)
            index = query_meta.last_index or index + 1
        placed = [s for s in stubs if s.get("DesiredStatus") == AllocDesiredStatus.RUN]
        if placed:
            self.meta.ui.output("")
            self.meta.ui.output(format_alloc_list_stubs(placed, verbose=False,
                                                        length=self.length,
                                                        now=self.meta.now()))
        failed = [s for s in placed if s.get("ClientStatus") in (AllocClientStatus.FAILED,
                                                                AllocClientStatus.LOST)]
        return 1 if failed else 0


def follow_evaluation(meta: Meta, client: ApiClient, eval_id: str, *, detach: bool,
                      length: int, blank_line: bool = False, failing: bool = False) -> int:
    """What a command that created an evaluation does next, as Nomad's do.

    No evaluation: nothing to do (0).  ``-detach``: print ``Evaluation ID:
    <id>`` and return.  Otherwise monitor it (and its deployment);
    ``blank_line`` puts an empty line before the monitor's output;
    ``failing``: see :class:`EvalMonitor`.
    """
    if not eval_id:
        return 0
    if detach:
        meta.ui.output(f"Evaluation ID: {eval_id}")
        return 0
    if blank_line:
        meta.ui.output("")
    return EvalMonitor(meta, client, length, failing=failing).monitor(eval_id)
