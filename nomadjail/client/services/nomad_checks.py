"""The http and tcp checks of Nomad-provider services, run by the client itself
(Nomad's ``checks`` package and the allocation runner's checks hook).

Consul runs the checks of the services registered with it; Nomad's own service
discovery has no agent to do that, so the client probes them:

* **http** -- a request with the check's method, headers and body to the URL
  :mod:`.workload` worked out (protocol, address mode, port, path).  A 2xx or
  3xx answer is ``success``, anything else (or no answer within ``timeout``)
  ``failure``.  A 200's output is ``nomad: http ok``; for any other answer the
  output is the body's first 3 KiB, as Nomad keeps it.
* **tcp** -- a connection to the address; ``nomad: tcp ok`` or the error.

A check is first run half an interval after it is observed (Nomad's compromise
between "at once", too early for a task that just started, and a full
interval), then ``interval`` after each run ends.  Until then its result is a
``pending`` stub saying ``nomad: waiting to run`` -- or ``success`` /
``failure`` when the check has an ``initial_status`` of ``passing`` / anything
else.  ``success_before_passing`` and ``failures_before_critical`` hold the
status until that many consecutive runs agree, as Consul does (the output and
timestamp are always the latest run's).

Results are kept per allocation (Nomad's check store): :meth:`NomadChecks.results`
answers ``/v1/client/allocation/<id>/checks``, and :meth:`NomadChecks.statuses`
feeds deployment health and ``check_restart``.  Probes run on a small thread
pool; the schedule is one timer thread (:mod:`nomadjail.helper.timers`), so a
thousand checks cost a thousand heap entries, not a thousand threads.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from ...helper.timers import Timers
from ...structs.check_result import CheckQueryResult, CheckResultStatus, check_mode
from ...structs.services import CheckStatus, CheckType
from .workload import CheckDefinition

log = logging.getLogger(__name__)

OUTPUT_LIMIT = 3 * 1024  # bytes of an http answer kept as output (Nomad's outputSizeLimit)
WAITING = "nomad: waiting to run"
HTTP_OK = "nomad: http ok"
TCP_OK = "nomad: tcp ok"
USER_AGENT = "nomadjail (Nomad service check)"
DEFAULT_WORKERS = 16  # probes running at once
MIN_INTERVAL = 1.0  # seconds: a check never runs more often (validation demands >= 1s)

Probe = Callable[[CheckDefinition], tuple[str, int, str]]  # -> (status, status code, output)


@dataclass(frozen=True, slots=True)
class NomadCheck:
    """One check to run, and where it belongs (what its results say)."""

    alloc_id: str
    definition: CheckDefinition
    group: str = ""  # the allocation's name, as Nomad reports it
    task: str = ""
    service: str = ""

    @property
    def check_id(self) -> str:
        return self.definition.check_id


# -- probes ----------------------------------------------------------------------------------

def _opener(skip_verify: bool) -> urllib.request.OpenerDirector:
    context = ssl.create_default_context()
    if skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))


_OPENERS = {False: _opener(False), True: _opener(True)}


def probe_http(check: CheckDefinition) -> tuple[str, int, str]:
    """One run of an http check: (status, HTTP status code, output)."""
    method = check.method or "GET"
    headers = {name: ", ".join(values) for name, values in check.header}
    headers.setdefault("User-Agent", USER_AGENT)
    request = urllib.request.Request(check.http, data=check.body.encode() or None,
                                     headers=headers, method=method)
    timeout = check.timeout / 1e9 or 10.0
    try:
        with _OPENERS[check.tls_skip_verify].open(request, timeout=timeout) as answer:
            code = int(answer.status)
            output = HTTP_OK if code == 200 else \
                answer.read(OUTPUT_LIMIT).decode("utf-8", "replace")
    except urllib.error.HTTPError as err:  # an answer all the same (4xx, 5xx, a 3xx not
        with err:                          # followed): its status decides
            code = err.code
            output = err.read(OUTPUT_LIMIT).decode("utf-8", "replace")
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        return CheckResultStatus.FAILURE, 0, f'nomad: {method} "{check.http}": {reason}'
    status = CheckResultStatus.SUCCESS if code < 400 else CheckResultStatus.FAILURE
    return status, code, output


def _split_host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def probe_tcp(check: CheckDefinition) -> tuple[str, int, str]:
    """One run of a tcp check: (status, 0, output)."""
    try:
        host, port = _split_host_port(check.tcp)
        with socket.create_connection((host, port), timeout=check.timeout / 1e9 or 10.0):
            pass
    except (OSError, ValueError) as err:
        return CheckResultStatus.FAILURE, 0, f"dial tcp {check.tcp}: {err}"
    return CheckResultStatus.SUCCESS, 0, TCP_OK


def probe(check: CheckDefinition) -> tuple[str, int, str]:
    if check.type == CheckType.HTTP:
        return probe_http(check)
    return probe_tcp(check)


def initial_result_status(initial_status: str) -> str:
    """What a check reports before it first ran: ``initial_status`` in Nomad's words."""
    if not initial_status:
        return CheckResultStatus.PENDING
    return CheckResultStatus.SUCCESS if initial_status == CheckStatus.PASSING \
        else CheckResultStatus.FAILURE


def consul_status(status: str) -> str:
    """A Nomad check status in the words health and ``check_restart`` use (Consul's);
    ``""`` while pending."""
    if status == CheckResultStatus.SUCCESS:
        return CheckStatus.PASSING
    if status == CheckResultStatus.FAILURE:
        return CheckStatus.CRITICAL
    return ""


# -- the runner ------------------------------------------------------------------------------

@dataclass(eq=False)
class _Observer:
    """One observed check: its latest result and its consecutive-run counts."""

    check: NomadCheck
    result: CheckQueryResult
    successes: int = 0
    failures: int = 0

    def apply(self, status: str, code: int, output: str, now: int) -> None:
        """Record one run, holding the status until the thresholds allow a change."""
        definition = self.check.definition
        held = self.result.status
        if status == CheckResultStatus.SUCCESS:
            self.successes, self.failures = self.successes + 1, 0
            if self.successes < max(1, definition.success_before_passing):
                status = held
        else:
            self.failures, self.successes = self.failures + 1, 0
            if self.failures < max(1, definition.failures_before_critical):
                status = held
        self.result = replace(self.result, status=status, status_code=code, output=output,
                              timestamp=now)


class NomadChecks:
    """Runs observed checks on their intervals and keeps their latest results."""

    def __init__(self, *, probe: Probe = probe, workers: int = DEFAULT_WORKERS,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._probe = probe
        self._wall = wall_clock
        self._lock = threading.Lock()
        self._observers: dict[str, _Observer] = {}  # check ID -> observer
        self._by_alloc: dict[str, set[str]] = {}
        self._timers = Timers("nomad-checks")
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nomad-check")
        self._stopped = False

    def observe(self, checks: Iterable[NomadCheck]) -> None:
        """Run these checks from now on (a check already observed keeps its schedule and
        its result)."""
        started = []
        with self._lock:
            if self._stopped:
                return
            for check in checks:
                if check.check_id in self._observers:
                    continue
                definition = check.definition
                stub = CheckQueryResult(
                    id=check.check_id, mode=check_mode(definition.on_update),
                    status=initial_result_status(definition.initial_status), output=WAITING,
                    timestamp=int(self._wall()), group=check.group, task=check.task,
                    service=check.service, check=definition.name)
                observer = _Observer(check, stub)
                self._observers[check.check_id] = observer
                self._by_alloc.setdefault(check.alloc_id, set()).add(check.check_id)
                started.append(observer)
        for observer in started:
            self._schedule(observer, self._interval(observer) / 2)

    def forget(self, alloc_id: str, check_ids: Iterable[str]) -> None:
        """Stop running these checks and drop their results (a run in flight is
        discarded)."""
        with self._lock:
            ids = self._by_alloc.get(alloc_id, set())
            for check_id in check_ids:
                self._observers.pop(check_id, None)
                ids.discard(check_id)
            if not ids:
                self._by_alloc.pop(alloc_id, None)

    def results(self, alloc_id: str) -> dict[str, CheckQueryResult]:
        """The latest result of every check of the allocation, by check ID."""
        with self._lock:
            return {check_id: self._observers[check_id].result
                    for check_id in sorted(self._by_alloc.get(alloc_id, ()))}

    def result(self, check_id: str) -> CheckQueryResult | None:
        with self._lock:
            observer = self._observers.get(check_id)
            return observer.result if observer is not None else None

    def statuses(self) -> dict[str, str]:
        """Every observed check's status by ID, in Consul's words (see consul_status)."""
        with self._lock:
            return {check_id: consul_status(o.result.status)
                    for check_id, o in self._observers.items()}

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._observers.clear()
            self._by_alloc.clear()
        self._timers.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- running ---------------------------------------------------------------------------
    @staticmethod
    def _interval(observer: _Observer) -> float:
        return max(observer.check.definition.interval / 1e9, MIN_INTERVAL)

    def _schedule(self, observer: _Observer, delay: float) -> None:
        self._timers.call_later(delay, lambda: self._submit(observer))

    def _current(self, observer: _Observer) -> bool:
        with self._lock:
            return not self._stopped and self._observers.get(observer.check.check_id) is observer

    def _submit(self, observer: _Observer) -> None:
        """On the timer thread: hand the run to the pool (it may take ``timeout``)."""
        if not self._current(observer):
            return
        try:
            self._pool.submit(self._run, observer)
        except RuntimeError:  # the pool is shut down: the runner stopped
            return

    def _run(self, observer: _Observer) -> None:
        try:
            status, code, output = self._probe(observer.check.definition)
        except Exception as err:  # noqa: BLE001 - a probe that breaks is a failed check
            log.exception("check %r failed to run", observer.check.definition.name)
            status, code, output = CheckResultStatus.FAILURE, 0, f"nomad: {err}"
        with self._lock:
            if self._stopped or self._observers.get(observer.check.check_id) is not observer:
                return
            observer.apply(status, code, output, int(self._wall()))
        self._schedule(observer, self._interval(observer))
