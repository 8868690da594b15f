"""Following one deployment to its end, as Nomad's ``deployment status -monitor`` does.

``job run``, ``job revert``, ``job promote``, ``deployment promote``, ``fail``
and ``resume`` end here too: they watch their evaluation
(:mod:`nomadjail.cli.monitor`) and then the deployment it belongs to.

Off a terminal (scripts, CI) each change of the deployment prints its status
block (``deployment status``'s layout, stamped with the time), as Nomad's
non-interactive monitor does::

    2024-01-08T10:35:02Z
    ID          = e2e8b1b9
    Job ID      = web
    Job Version = 3
    Status      = running
    Description = Deployment is running but requires manual promotion

    Deployed
    Task Group  Promoted  Desired  Canaries  Placed  Healthy  Unhealthy  Progress Deadline
    web         false     3        1         1       1        0          2024-01-08T10:45:02Z

On a terminal one area is redrawn in place under a ``Deployment "e2e8b1b9"
in progress...`` line, which ends as ``✓ Deployment "e2e8b1b9" successful``
or ``! Deployment "e2e8b1b9" failed`` (Nomad draws the same with glint).
A failed deployment whose groups ``auto_revert`` is followed by the
deployment of the version it rolls back to; the outcome stays "failed", so
``job run`` of a version that had to be reverted exits 1, as Nomad's does.

Departures from Nomad, each so that a script gets an answer:

* a deployment that only waits for a person to promote its canaries (every
  unpromoted canary group healthy, none auto-promoting) ends the watch with
  ``Deployment "e2e8b1b9" waiting for promotion`` and the command to do it,
  and counts as success; Nomad's monitor waits there until someone promotes
  from another shell, so ``job run && job promote`` would never get to the
  promote;
* a failed deployment that says it is "rolling back to job version N" is
  followed to the rollback's deployment once that exists (checked every
  half second for a while) instead of after Nomad's single one-second sleep,
  which misses a rollback the scheduler is slow to start;
* a read that fails is retried with Nomad's terminal backoff (1 s doubling
  to 12 s, ten times) with or without a terminal; off a terminal the block
  is printed only when the deployment changed, not after every wait;
* the exit status of ``deployment status -monitor`` follows the outcome
  (Nomad's is always 0).
"""

from __future__ import annotations

import math
import re
import shutil
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import click

from ..api import ApiClient, ApiError, QueryMeta
from ..structs import Deployment, DeploymentStatus, format_duration
from .format import FULL_ID, SHORT_ID, format_time_s, limit
from .meta import PROG, Meta, Ui
from .views import format_alloc_list_stubs, format_deployment

IDLE_PAUSE = 0.1
"""Seconds to pause when a read came back unchanged at once (a server that does not block)."""
RETRY_BASE = 1.0
RETRY_MAX = 12.0
MAX_RETRIES = 10
ROLLBACK_FIRST_LOOK = 1.0
"""Nomad looks for the rollback's deployment once, this many seconds after the failure."""
ROLLBACK_POLL_PAUSE = 0.5
ROLLBACK_POLLS = 60
"""How often (every ROLLBACK_POLL_PAUSE s) to look for a rollback the deployment announced."""

_ROLLING_BACK = re.compile(r" - rolling back to job version \d+$")
_ANSI = re.compile(r"\033\[[0-9;?]*[A-Za-z]")
_ENDED = {DeploymentStatus.SUCCESSFUL: "✓", DeploymentStatus.FAILED: "!",
          DeploymentStatus.CANCELLED: "!", DeploymentStatus.BLOCKED: "!"}
PROMOTION_MARK = "»"


@dataclass(frozen=True, slots=True)
class DeploymentOutcome:
    """How a watched deployment ended: its last status ("" if it could not be read)."""

    status: str = ""
    awaiting_promotion: bool = False

    def succeeded(self, *, also: Collection[str] = ()) -> bool:
        """Whether the command that led to the deployment did what it was asked.

        ``also``: statuses that are the point of the command too (``job stop``
        means the deployment to end "cancelled", ``deployment fail`` "failed").
        """
        if self.awaiting_promotion or self.status == DeploymentStatus.SUCCESSFUL:
            return True
        return bool(self.status) and self.status in also


def awaiting_promotion(deployment: Deployment) -> bool:
    """Whether the deployment can only go on once someone promotes its canaries.

    True when it runs, some group's canaries wait for a manual promotion and
    every group still waiting has all its canaries healthy.  A group with
    ``auto_promote`` does not wait for a person -- but Nomad promotes
    automatically only when every canary group auto-promotes.
    """
    if deployment.status != DeploymentStatus.RUNNING:
        return False
    waiting = [state for state in deployment.task_groups.values()
               if state.desired_canaries > 0 and not state.promoted]
    if not waiting or all(state.auto_promote for state in waiting):
        return False
    return all(state.healthy_allocs >= state.desired_canaries for state in waiting)


class LiveArea:
    """Lines on a terminal that are redrawn in place, as glint draws Nomad's monitor.

    Each :meth:`draw` moves the cursor back over what the last one wrote
    (counting lines the terminal wrapped) and clears it first.
    """

    def __init__(self, ui: Ui):
        self.ui = ui
        self.height = 0

    def draw(self, lines: Sequence[str]) -> None:
        if self.height:
            # Cursor movement is not colour: send it even with -no-color.
            click.echo(f"\033[{self.height}F\033[J", nl=False, color=True)
        text = "\n".join(lines)
        self.ui.output(self.ui.colorize(text))
        width = max(shutil.get_terminal_size((80, 24)).columns, 1)
        self.height = sum(max(1, math.ceil(len(_ANSI.sub("", line)) / width))
                          for line in text.split("\n"))


class DeploymentMonitor:
    """Watches one deployment until it ends (or only waits for a promotion).

    ``ui`` receives the non-interactive output (``job run`` passes its
    ``==>``-prefixed monitor UI); the terminal area is drawn on stdout.
    ``wait`` is how long each blocking read may wait (None: the server's
    default).
    """

    def __init__(self, meta: Meta, client: ApiClient, ui: Ui, *, verbose: bool,
                 wait: float | None = None, namespace: str | None = None):
        self.meta = meta
        self.client = client
        self.ui = ui
        self.verbose = verbose
        self.wait = wait
        self.namespace = namespace
        self.length = FULL_ID if verbose else SHORT_ID
        self.live: LiveArea | None = None

    def _now(self) -> str:
        return format_time_s(self.meta.now())

    def _block(self, deployment: Deployment) -> str:
        """The time and ``deployment status``'s block (with ``-verbose``, its allocations)."""
        text = self._now() + "\n" + format_deployment(deployment, self.length)
        if self.verbose:
            text += "\n\n[bold]Allocations[reset]\n"
            try:
                stubs, _ = self.client.deployment_allocations(
                    deployment.id, namespace=deployment.namespace or self.namespace)
                text += format_alloc_list_stubs(stubs, verbose=True, length=self.length,
                                                now=self.meta.now())
            except ApiError as err:
                text += f"Error fetching allocations: {err}"
        return text

    def _frame(self, headline: str, block: str, *, last: bool = False) -> list[str]:
        lines = [headline, ""] + ["    " + line if line else "" for line in block.split("\n")]
        return lines + [""] if last else lines

    def _headline(self, deployment_id: str, mark: str, what: str) -> str:
        mark = f"{mark} " if mark else ""
        return f'  {mark}Deployment "{limit(deployment_id, self.length)}" {what}'

    def monitor(self, deployment_id: str) -> DeploymentOutcome:
        """Follow the deployment; report how it ended."""
        if self.meta.env.stdout_isatty():
            self.live = LiveArea(self.meta.ui)
            self.live.draw([self._headline(deployment_id, "", "in progress...")])
        index = 0
        printed_index = -1
        while True:
            fetched = self._fetch(deployment_id, index)
            if fetched is None:
                return DeploymentOutcome()
            deployment, query_meta = fetched
            block = self._block(deployment)
            status = deployment.status
            ended = status in _ENDED
            waiting = not ended and awaiting_promotion(deployment)
            if self.live is not None:
                if ended:
                    headline = self._headline(deployment_id, _ENDED[status], status)
                elif waiting:
                    headline = self._headline(deployment_id, PROMOTION_MARK,
                                              self._promotion_hint(deployment_id))
                else:
                    headline = self._headline(deployment_id, "", "in progress...")
                self.live.draw(self._frame(headline, block, last=ended or waiting))
            elif deployment.modify_index != printed_index:
                # The leading newline keeps job run's "    " prefix off the time line.
                self.ui.output(self.ui.colorize("\n" + block))
                printed_index = deployment.modify_index

            if ended:
                if status == DeploymentStatus.FAILED:
                    self._follow_rollback(deployment)
                return DeploymentOutcome(status)
            if waiting:
                if self.live is None:
                    self.ui.info(f'{self._now()}: Deployment "{limit(deployment_id, self.length)}" '
                                 f"{self._promotion_hint(deployment_id)}")
                return DeploymentOutcome(status, awaiting_promotion=True)
            if query_meta.last_index == index:
                self.meta.env.sleep(IDLE_PAUSE)
            index = max(query_meta.last_index, index)

    def _fetch(self, deployment_id: str, index: int) -> tuple[Deployment, QueryMeta] | None:
        """One (blocking) read of the deployment, retried with backoff while it fails."""
        for attempt in range(MAX_RETRIES + 1):
            try:
                return self.client.deployment(deployment_id, index=index, wait=self.wait,
                                              stale=True, namespace=self.namespace)
            except ApiError as err:
                if attempt >= MAX_RETRIES:
                    message = f"{self._now()}: Error fetching deployment: {err}"
                    if self.live is not None:
                        self.live.draw(["    " + self.meta.ui.colorize(f"[red]{message}[reset]"),
                                        ""])
                    else:
                        self.ui.error(message)
                    return None
                backoff = min(RETRY_BASE * 2 ** attempt, RETRY_MAX)
                note = (f"Failed fetching deployment: {err}, retrying in "
                        f"{format_duration(int(backoff * 1e9))} (attempt {attempt + 1}/"
                        f"{MAX_RETRIES})")
                if self.live is not None:
                    self.live.draw([self._headline(deployment_id, "", "in progress..."),
                                    "    " + note])
                else:
                    self.ui.warn(note)
                self.meta.env.sleep(backoff)
        return None  # not reached: the last attempt returns above

    def _promotion_hint(self, deployment_id: str) -> str:
        short = limit(deployment_id, self.length)
        return f'waiting for promotion: "{PROG} deployment promote {short}"'

    def _follow_rollback(self, failed: Deployment) -> None:
        """Watch the deployment of the version an auto-reverting failure rolls back to."""
        if not any(state.auto_revert for state in failed.task_groups.values()):
            return
        announced = bool(_ROLLING_BACK.search(failed.status_description))
        self.meta.env.sleep(ROLLBACK_FIRST_LOOK)
        rollback: Deployment | None = None
        for look in range(ROLLBACK_POLLS if announced else 1):
            if look:
                self.meta.env.sleep(ROLLBACK_POLL_PAUSE)
            try:
                latest, _ = self.client.job_latest_deployment(
                    failed.job_id, namespace=failed.namespace or self.namespace)
            except ApiError as err:
                if self.live is None:
                    self.ui.output("")
                self.ui.error(f"{self._now()}: Error fetching deployment of previous job "
                              f"version: {err}")
                return
            if latest is not None and latest.id != failed.id:
                rollback = latest
                break
        if self.live is None:
            self.ui.output("")
        if rollback is None:
            return
        DeploymentMonitor(self.meta, self.client, self.ui, verbose=self.verbose,
                          wait=self.wait, namespace=self.namespace).monitor(rollback.id)
