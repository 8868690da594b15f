"""Finding and ending the processes of one supervised command, by pid *and* identity.

A supervisor process (:mod:`.supervisor`) leads a session of its own and
starts its command as the leader of a process group inside that session, so
the command's pid is its group id and the supervisor's pid is the session id
of everything the command ever starts -- even after the supervisor died.
Pids are recycled, though: every lookup here checks that a pid still names
the process it named (by start time, by the spec file on its command line,
by session and group), so an unrelated process that inherited a pid is never
signalled.
"""

from __future__ import annotations

import os

import psutil

# How close a process's start time must be to the recorded one to be the same process.
CREATE_TIME_TOLERANCE = 0.05


def process_matches(pid: int, create_time: float) -> psutil.Process | None:
    """The live process ``pid`` if it is the one started at ``create_time`` (a zombie
    is not live; ``create_time`` 0.0 means "not recorded": any live ``pid`` matches)."""
    if pid <= 0:
        return None
    try:
        proc = psutil.Process(pid)
        if create_time and abs(proc.create_time() - create_time) > CREATE_TIME_TOLERANCE:
            return None  # the pid was recycled by an unrelated process
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def create_time(pid: int) -> float:
    """When ``pid`` started (0.0 if it is gone or cannot be inspected)."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0.0


def group_leader_create_time(pid: int, session_id: int) -> float:
    """``pid``'s start time if it still leads its own process group inside session
    ``session_id`` -- i.e. it is still the command that supervisor started -- else 0.0."""
    try:
        if os.getpgid(pid) == pid and os.getsid(pid) == session_id:
            return create_time(pid)
    except OSError:
        pass
    return 0.0


def find_supervisor(spec_path: str, supervisor_pid: int) -> psutil.Process | None:
    """The live supervisor started with ``spec_path`` (``supervisor_pid`` if known, else
    any process): its command line names the spec, which is unique to one start
    attempt, so a recycled pid is never mistaken for it."""
    candidates: list[psutil.Process] = []
    if supervisor_pid > 0:
        try:
            candidates.append(psutil.Process(supervisor_pid))
        except psutil.Error:
            pass
    else:
        candidates = list(psutil.process_iter())
    for proc in candidates:
        try:
            if spec_path in proc.cmdline() and proc.status() != psutil.STATUS_ZOMBIE:
                return proc
        except psutil.Error:
            continue
    return None


def kill_session(supervisor: psutil.Process | None, session_id: int, grace: float) -> None:
    """SIGKILL a supervisor and every process of its session (the command's group
    included), waiting up to ``grace`` seconds for each.

    ``session_id`` is used only if no *other* process now holds that pid (a
    recycled pid leads a different session, and that one is left alone).
    """
    if supervisor is not None:
        try:
            supervisor.kill()
            supervisor.wait(grace)
        except psutil.Error:
            pass
    elif session_id > 0:
        try:
            if psutil.Process(session_id).status() != psutil.STATUS_ZOMBIE:
                return  # the pid belongs to another process now: not our session
        except psutil.Error:
            pass  # the leader is gone; its session's members keep its id
    if session_id <= 0:
        return
    members = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and os.getsid(proc.pid) == session_id:
                members.append(proc)
        except (OSError, psutil.Error):
            continue
    for proc in members:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(members, timeout=grace)
