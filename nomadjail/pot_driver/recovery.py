"""What is left of a pot task's start after the client died inside it.

The client persists the start record (which names the pot) before
``start_task``; after a restart ``recover_start`` must decide what exists
before it re-attaches or destroys.  Two things may still be moving:

* **pot commands of the interrupted start** -- a ``pot prepare`` (it may be
  downloading the image) or a configuration command outlives the agent that
  ran it.  :func:`wait_for_leftover_commands` finds them by their command
  line (the pot's name or its allocation tag), lets them finish and kills
  them after the prepare timeout, so the pot is not destroyed while pot is
  still creating it (which would leave a half-made pot behind).
* **state of a shape this driver does not know** (another version wrote
  it): :func:`readable_pot_name` still finds the pot it names, so that pot
  is destroyed rather than leaked.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from typing import Any

import psutil

from .naming import allocation_tag, invocation_of

log = logging.getLogger("nomadjail.pot_driver")

# `pot <verb>` commands that are not part of a start being prepared: the supervised
# `pot start` itself (re-attached to, not waited for) and an operator's `pot exec`.
_NOT_A_START_STEP = ("start", "exec")


def readable_pot_name(state: Any) -> str:
    """The pot a handle's or start record's state names, "" if none: enough to destroy
    the pot even when the rest of the state has a shape this driver does not know."""
    name = state.get("pot_name") if isinstance(state, dict) else None
    return name if isinstance(name, str) and name.strip() == name and name else ""


def is_leftover_command(args: Sequence[str], *, pot_names: set[str], name: str,
                        tag: str) -> bool:
    """Whether command line ``args`` is a pot command of the start that prepares pot
    ``name`` (allocation tag ``tag``): ``pot <verb> ...`` -- run directly, by ``sh``
    or by an interpreter, so ``pot`` may be any of the first three arguments -- whose
    verb is a start step and whose arguments name the pot or the tag."""
    where = next((i for i, arg in enumerate(args[:3]) if os.path.basename(arg) in pot_names),
                 None)
    if where is None or where + 1 >= len(args):
        return False
    if args[where + 1] in _NOT_A_START_STEP:
        return False
    return name in args or tag in args


def leftover_commands(name: str, task_id: str, *, pot_bin: str) -> list[psutil.Process]:
    """The running pot commands of the start of task ``task_id`` into pot ``name``."""
    tag = allocation_tag(task_id.split("/", 1)[0], invocation_of(task_id))
    pot_names = {"pot", os.path.basename(pot_bin)}
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            args = list(proc.info["cmdline"] or [])
        except psutil.Error:
            continue
        if proc.pid != os.getpid() and is_leftover_command(args, pot_names=pot_names,
                                                           name=name, tag=tag):
            found.append(proc)
    return found


def wait_for_leftover_commands(name: str, task_id: str, *, pot_bin: str,
                               timeout: float) -> None:
    """Let the pot commands an interrupted start left running finish; SIGKILL those
    still running after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    procs = leftover_commands(name, task_id, pot_bin=pot_bin)
    while procs and time.monotonic() < deadline:
        _, procs = psutil.wait_procs(procs, timeout=1.0)
    for proc in procs:
        log.warning("pot %s: killing pot command pid %d left by an interrupted start",
                    name, proc.pid)
        try:
            proc.kill()
        except psutil.Error:
            pass
