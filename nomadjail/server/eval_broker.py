"""The eval broker: at-least-once delivery of evaluations to scheduler workers.

Guarantees (Nomad's, see nomad/eval_broker.go):

* **At least once.**  A dequeued evaluation stays *unacked* until the worker
  acks it.  A nack, or no ack within the nack timeout, makes it available
  again (after a growing delay).  After ``delivery_limit`` deliveries it goes
  to the ``_failed`` queue instead, where the leader marks it failed and
  creates a follow-up.  Scheduling is idempotent, so a second delivery of an
  eval that was in fact processed does no harm.
* **One at a time per job.**  At most one evaluation per job is ready or
  unacked; later ones wait.  When the outstanding one is acked, only the
  newest waiting one (highest priority, then highest modify index) is
  released and the others become *cancelable*: the leader marks them
  canceled, since the released eval sees at least as new a state.
* **Priority order.**  Higher priority first; among equals, older first.
* **Delays.**  ``wait`` (ns) and ``wait_until`` (RFC 3339) hold an eval back.
* **Leader only.**  Disabled, it drops everything and accepts nothing; the
  leader enables it and refills it from the state store.

Dequeue tokens are fresh for every delivery, so an ack or nack for an older
delivery (say, from before a leadership change) is refused.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..helper.timers import Timers
from ..structs import Evaluation, generate_uuid, parse_rfc3339

FAILED_QUEUE = "_failed"

# Nomad's defaults (nomad/config.go).
DEFAULT_NACK_TIMEOUT = 60.0
DEFAULT_INITIAL_NACK_DELAY = 1.0
DEFAULT_SUBSEQUENT_NACK_DELAY = 20.0
DEFAULT_DELIVERY_LIMIT = 3

JobKey = tuple[str, str]


class EvalBrokerError(Exception):
    """An ack/nack for an eval that is not outstanding under that token."""


@dataclass(slots=True)
class _Unacked:
    eval: Evaluation
    token: str
    paused: bool = False


@dataclass(slots=True)
class BrokerStats:
    total_ready: int = 0
    total_unacked: int = 0
    total_pending: int = 0  # waiting behind another eval of the same job
    total_waiting: int = 0  # delayed by wait / wait_until / a nack delay
    total_cancelable: int = 0
    ready_by_scheduler: dict[str, int] = field(default_factory=dict)


def _job_key(ev: Evaluation) -> JobKey:
    return (ev.namespace, ev.job_id)


class EvalBroker:
    def __init__(self, *, nack_timeout: float = DEFAULT_NACK_TIMEOUT,
                 initial_nack_delay: float = DEFAULT_INITIAL_NACK_DELAY,
                 subsequent_nack_delay: float = DEFAULT_SUBSEQUENT_NACK_DELAY,
                 delivery_limit: int = DEFAULT_DELIVERY_LIMIT):
        if nack_timeout <= 0:
            raise ValueError(f"nack_timeout must be positive, got {nack_timeout!r}")
        if delivery_limit < 1:
            raise ValueError(f"delivery_limit must be at least 1, got {delivery_limit!r}")
        self.nack_timeout = nack_timeout
        self.initial_nack_delay = initial_nack_delay
        self.subsequent_nack_delay = subsequent_nack_delay
        self.delivery_limit = delivery_limit
        self._cond = threading.Condition()
        self._enabled = False
        self._closed = False
        self._seq = itertools.count()
        self._timers = Timers("eval-broker")
        self._reset_locked()

    def _reset_locked(self) -> None:
        self._deliveries: dict[str, int] = {}  # eval ID -> dequeues so far (known evals)
        # scheduler -> heap of (-priority, create_index, seq, eval)
        self._ready: dict[str, list[tuple[int, int, int, Evaluation]]] = {}
        self._unacked: dict[str, _Unacked] = {}
        self._job_evals: dict[JobKey, str] = {}  # the one ready/unacked eval per job
        # job -> heap of (-priority, -modify_index, seq, eval) waiting behind it
        self._pending: dict[JobKey, list[tuple[int, int, int, Evaluation]]] = {}
        self._waiting: set[str] = set()  # eval IDs held back by a timer
        self._requeue: dict[str, Evaluation] = {}  # token -> eval to enqueue after ack
        self._cancelable: list[Evaluation] = []

    # -- enabling ----------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return self._enabled

    def set_enabled(self, enabled: bool) -> None:
        """Enable on gaining leadership; disabling drops every eval and wakes waiters."""
        with self._cond:
            if enabled == self._enabled:
                return
            self._enabled = enabled
            if enabled:
                self._timers.start()
            else:
                self._timers.cancel_all()
                self._reset_locked()
            self._cond.notify_all()

    def close(self) -> None:
        """Disable for good, wake every waiting dequeue and stop the timer thread
        (server shutdown)."""
        with self._cond:
            self._closed = True
        self.set_enabled(False)
        with self._cond:
            self._cond.notify_all()
        self._timers.stop()

    # -- enqueueing --------------------------------------------------------------
    def enqueue(self, ev: Evaluation) -> None:
        """Queue ``ev`` (ignored if already known to the broker or disabled)."""
        with self._cond:
            self._process_enqueue_locked(ev, "")

    def enqueue_all(self, evals: Iterable[tuple[Evaluation, str]]) -> None:
        """Queue many at once.  An eval given with the token of its current
        delivery is re-queued only after that delivery is acked (it was
        reblocked while being processed); a nack drops it."""
        with self._cond:
            for ev, token in evals:
                self._process_enqueue_locked(ev, token)

    def _process_enqueue_locked(self, ev: Evaluation, token: str) -> None:
        if not self._enabled:
            return
        if ev.id in self._deliveries:
            unacked = self._unacked.get(ev.id)
            if token and unacked is not None and unacked.token == token:
                self._requeue[token] = ev
            return
        self._deliveries[ev.id] = 0
        if ev.wait > 0:
            self._hold_locked(ev, ev.wait / 1e9)
            return
        wait_until = parse_rfc3339(ev.wait_until)  # 0 for Go's zero time: not delayed
        if wait_until:
            delay = (wait_until - time.time_ns()) / 1e9
            if delay > 0:
                self._hold_locked(ev, delay)
                return
        self._enqueue_locked(ev, ev.type)

    def _hold_locked(self, ev: Evaluation, delay: float) -> None:
        self._waiting.add(ev.id)
        self._timers.set(("wait", ev.id), delay, lambda: self._release_waiting(ev))

    def _release_waiting(self, ev: Evaluation) -> None:
        with self._cond:
            if ev.id not in self._waiting:
                return
            self._waiting.discard(ev.id)
            self._enqueue_locked(ev, ev.type)

    def _enqueue_locked(self, ev: Evaluation, scheduler: str) -> None:
        if not self._enabled:
            return
        key = _job_key(ev)
        current = self._job_evals.get(key)
        if current is None:
            self._job_evals[key] = ev.id
        elif current != ev.id:
            heapq.heappush(self._pending.setdefault(key, []),
                           (-ev.priority, -ev.modify_index, next(self._seq), ev))
            return
        heapq.heappush(self._ready.setdefault(scheduler, []),
                       (-ev.priority, ev.create_index, next(self._seq), ev))
        self._cond.notify_all()

    # -- dequeueing --------------------------------------------------------------
    def dequeue(self, schedulers: list[str],
                timeout: float) -> tuple[Evaluation, str] | None:
        """The highest-priority ready eval for any of ``schedulers`` and its
        delivery token, waiting up to ``timeout`` seconds; None on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = self._pop_ready_locked(schedulers)
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    return None
                self._cond.wait(remaining)

    def _pop_ready_locked(self, schedulers: list[str]) -> tuple[Evaluation, str] | None:
        if not self._enabled:
            return None
        best: str | None = None
        for scheduler in schedulers:
            queue = self._ready.get(scheduler)
            if queue and (best is None or queue[0][:2] < self._ready[best][0][:2]):
                best = scheduler
        if best is None:
            return None
        ev = heapq.heappop(self._ready[best])[3]
        token = generate_uuid()
        self._unacked[ev.id] = _Unacked(ev, token)
        self._deliveries[ev.id] = self._deliveries.get(ev.id, 0) + 1
        self._start_nack_timer_locked(ev.id, token)
        return ev, token

    def _start_nack_timer_locked(self, eval_id: str, token: str) -> None:
        self._timers.set(("nack", eval_id), self.nack_timeout,
                         lambda: self._nack_timeout(eval_id, token))

    def _nack_timeout(self, eval_id: str, token: str) -> None:
        try:
            self.nack(eval_id, token)
        except EvalBrokerError:
            pass  # acked or nacked in the meantime

    # -- outstanding evals -------------------------------------------------------
    def outstanding(self, eval_id: str) -> str | None:
        """The token of ``eval_id``'s current delivery, None if not unacked."""
        with self._cond:
            unacked = self._unacked.get(eval_id)
            return unacked.token if unacked else None

    def _unacked_locked(self, eval_id: str, token: str) -> _Unacked:
        unacked = self._unacked.get(eval_id)
        if unacked is None:
            raise EvalBrokerError(f"evaluation {eval_id} is not outstanding")
        if unacked.token != token:
            raise EvalBrokerError(f"token does not match for evaluation {eval_id}")
        return unacked

    def pause_nack_timeout(self, eval_id: str, token: str) -> None:
        """Stop the nack clock while the eval's plan waits in the plan queue
        (an unbounded wait that is not the worker's fault)."""
        with self._cond:
            unacked = self._unacked_locked(eval_id, token)
            if not self._timers.cancel(("nack", eval_id)):
                raise EvalBrokerError(f"evaluation {eval_id} reached its nack timeout")
            unacked.paused = True

    def resume_nack_timeout(self, eval_id: str, token: str) -> None:
        with self._cond:
            unacked = self._unacked_locked(eval_id, token)
            unacked.paused = False
            self._start_nack_timer_locked(eval_id, token)

    # -- ack / nack --------------------------------------------------------------
    def ack(self, eval_id: str, token: str) -> None:
        """Processing finished: forget the eval and release the job's next one."""
        with self._cond:
            requeued = self._requeue.pop(token, None)
            unacked = self._unacked_locked(eval_id, token)
            if not unacked.paused and not self._timers.cancel(("nack", eval_id)):
                raise EvalBrokerError(f"evaluation {eval_id} acked after its nack timeout")
            del self._unacked[eval_id]
            self._deliveries.pop(eval_id, None)
            key = _job_key(unacked.eval)
            self._job_evals.pop(key, None)
            pending = self._pending.pop(key, None)
            if pending:
                keep = heapq.heappop(pending)[3]
                self._cancelable.extend(entry[3] for entry in pending)
                self._enqueue_locked(keep, keep.type)
            if requeued is not None:
                self._process_enqueue_locked(requeued, "")

    def nack(self, eval_id: str, token: str) -> None:
        """Processing failed: deliver again after a delay, or give up into the
        failed queue once the delivery limit is reached."""
        with self._cond:
            self._requeue.pop(token, None)
            unacked = self._unacked_locked(eval_id, token)
            self._timers.cancel(("nack", eval_id))
            del self._unacked[eval_id]
            ev = unacked.eval
            deliveries = self._deliveries.get(eval_id, 0)
            if deliveries >= self.delivery_limit:
                self._enqueue_locked(ev, FAILED_QUEUE)
                return
            delay = self._nack_delay(deliveries)
            if delay > 0:
                self._waiting.add(ev.id)
                self._timers.set(("wait", ev.id), delay, lambda: self._release_waiting(ev))
            else:
                self._enqueue_locked(ev, ev.type)

    def _nack_delay(self, deliveries: int) -> float:
        if deliveries <= 0:
            return 0.0
        if deliveries == 1:
            return self.initial_nack_delay
        return (deliveries - 1) * self.subsequent_nack_delay

    # -- the leader's housekeeping -----------------------------------------------
    def cancelable(self, batch_size: int = 1000) -> list[Evaluation]:
        """Take up to ``batch_size`` evals made redundant by a newer one of their job."""
        with self._cond:
            batch, self._cancelable = (self._cancelable[:batch_size],
                                       self._cancelable[batch_size:])
            return batch

    def stats(self) -> BrokerStats:
        with self._cond:
            return BrokerStats(
                total_ready=sum(len(q) for q in self._ready.values()),
                total_unacked=len(self._unacked),
                total_pending=sum(len(p) for p in self._pending.values()),
                total_waiting=len(self._waiting),
                total_cancelable=len(self._cancelable),
                ready_by_scheduler={s: len(q) for s, q in self._ready.items() if q})
