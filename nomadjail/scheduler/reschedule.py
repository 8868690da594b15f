"""When a failed allocation may be replaced: Nomad's reschedule policy math.

A task group's ``reschedule`` block allows either a number of ``attempts``
within an ``interval`` or ``unlimited`` attempts, each after a ``delay`` that
grows by ``delay_function`` (``constant``, ``exponential``, ``fibonacci``) up
to ``max_delay``.  The history lives on the replacement allocation's
``RescheduleTracker``: one event per reschedule (when, from which allocation
and node, with which delay), so the chain of replacements carries its own
count.  Everything here is a pure function of the allocation and ``now``.
"""

from __future__ import annotations

from ..structs import (
    Allocation,
    AllocClientStatus,
    AllocDesiredStatus,
    JobType,
    RescheduleEvent,
    ReschedulePolicy,
    RescheduleTracker,
    TaskStateName,
    parse_rfc3339,
)
from .descriptions import LAST_RESCHEDULE_SUCCESS

# With unlimited rescheduling only the most recent events are carried along.
MAX_PAST_RESCHEDULE_EVENTS = 5


def reschedule_policy(alloc: Allocation) -> ReschedulePolicy | None:
    group = alloc.lookup_task_group()
    return group.reschedule_policy if group is not None else None


def last_event_time(alloc: Allocation) -> int:
    """When the allocation failed: its tasks' latest finish time, else its
    last modification (ns since the epoch; 0 when unknown)."""
    latest = 0
    for state in alloc.task_states.values():
        finished = parse_rfc3339(state.finished_at)
        if finished > latest:
            latest = finished
    return latest or alloc.modify_time


def last_reschedule_failed(alloc: Allocation) -> bool:
    """The scheduler tried to replace this allocation and found no node."""
    tracker = alloc.reschedule_tracker
    return (tracker is not None and tracker.last_reschedule != ""
            and tracker.last_reschedule != LAST_RESCHEDULE_SUCCESS)


def ran_successfully(alloc: Allocation) -> bool:
    """Every task ran to completion without failing (meaningful for batch)."""
    if not alloc.task_states:
        return False
    return all(s.state == TaskStateName.DEAD and not s.failed for s in alloc.task_states.values())


def next_delay(alloc: Allocation) -> int:
    """How long after its failure ``alloc`` may be replaced (ns)."""
    policy = reschedule_policy(alloc)
    if policy is None:
        return 0
    base = policy.delay or 0
    max_delay = policy.max_delay or 0
    events = alloc.reschedule_tracker.events if alloc.reschedule_tracker else []
    if not events:
        return base
    if policy.delay_function == "exponential":
        delay = events[-1].delay * 2
    elif policy.delay_function == "fibonacci":
        delay = base
        if len(events) >= 2:
            last, before = events[-1].delay, events[-2].delay
            # After the ceiling was hit and the series restarted, start over.
            delay = last if (before == max_delay and last == base) else last + before
    else:
        return base
    if max_delay > 0 and delay > max_delay:
        delay = max_delay
        # A long quiet period since the last reschedule resets the series.
        if last_event_time(alloc) - events[-1].reschedule_time > delay:
            delay = base
    return delay


def _attempts_in_interval(tracker: RescheduleTracker, policy: ReschedulePolicy,
                          fail_time: int) -> int:
    interval = policy.interval or 0
    return sum(1 for event in tracker.events if fail_time - event.reschedule_time < interval)


def next_reschedule_time(alloc: Allocation) -> tuple[int, bool]:
    """(time at or after which ``alloc`` may be replaced, whether it may be at all)."""
    policy = reschedule_policy(alloc)
    attempts = (policy.attempts or 0) if policy else 0
    unlimited = bool(policy.unlimited) if policy else False
    if policy is None or (attempts == 0 and not unlimited):
        return 0, False
    fail_time = last_event_time(alloc)
    rescheduled_batch = (alloc.job is not None and alloc.job.type == JobType.BATCH
                         and bool(alloc.desired_transition.reschedule))
    if ((alloc.desired_status == AllocDesiredStatus.STOP and not last_reschedule_failed(alloc))
            or (not rescheduled_batch and alloc.client_status not in (
                AllocClientStatus.FAILED, AllocClientStatus.LOST))
            or fail_time == 0):
        return 0, False
    delay = next_delay(alloc)
    tracker = alloc.reschedule_tracker
    if attempts > 0 and tracker is not None and tracker.events:
        eligible = (_attempts_in_interval(tracker, policy, fail_time) < attempts
                    and delay < (policy.interval or 0))
    else:
        eligible = unlimited or attempts > 0
    return fail_time + delay, eligible


def reschedule_eligible(alloc: Allocation, fail_time: int) -> bool:
    """Whether the group's policy allows another replacement of ``alloc``
    failing at ``fail_time`` (Nomad's RescheduleTracker.RescheduleEligible):
    unlimited, or fewer reschedules inside the interval than ``attempts``."""
    policy = reschedule_policy(alloc)
    if policy is None:
        return False
    attempts = policy.attempts or 0
    if policy.unlimited:
        return True
    if attempts <= 0:
        return False
    tracker = alloc.reschedule_tracker
    if tracker is None or not tracker.events:
        return True
    return _attempts_in_interval(tracker, policy, fail_time) < attempts


def extend_reschedule_tracker(replacement: Allocation, previous: Allocation, now: int) -> None:
    """Give ``replacement`` the history of ``previous`` plus this reschedule.

    Events outside the policy's interval are dropped (limited policies), or
    only the last few are kept (unlimited), so the tracker stays small along a
    long chain of replacements.
    """
    policy = reschedule_policy(previous)
    carried: list[RescheduleEvent] = []
    tracker = previous.reschedule_tracker
    if tracker is not None and policy is not None:
        if (policy.attempts or 0) > 0:
            interval = policy.interval or 0
            carried = [RescheduleEvent(e.reschedule_time, e.prev_alloc_id, e.prev_node_id,
                                       e.delay)
                       for e in tracker.events
                       if interval > 0 and now - e.reschedule_time <= interval]
        else:
            carried = [RescheduleEvent(e.reschedule_time, e.prev_alloc_id, e.prev_node_id,
                                       e.delay)
                       for e in tracker.events[-MAX_PAST_RESCHEDULE_EVENTS:]]
    carried.append(RescheduleEvent(reschedule_time=now, prev_alloc_id=previous.id,
                                   prev_node_id=previous.node_id, delay=next_delay(previous)))
    replacement.reschedule_tracker = RescheduleTracker(events=carried,
                                                       last_reschedule=LAST_RESCHEDULE_SUCCESS)
