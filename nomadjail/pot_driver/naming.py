"""The name of the pot a task runs in, computed exactly as ``pot prepare`` computes it.

``pot prepare -n <name> -a <allocation tag>`` creates the pot
``<name>_<allocation tag>`` and then turns every ``.`` into ``_`` (jail names
cannot hold dots).  The driver passes the task's name as ``-n`` and
``<invocation>_<alloc id>`` as ``-a`` (the Go driver's layout, so pot names
look the same as with it), and addresses the pot by the name pot really uses:
a task called ``web.v2`` lives in ``web_v2_<invocation>_<alloc id>``.

The invocation (the last part of the task's ``<alloc>/<task>/<invocation>``
id) differs for every start attempt, so a restarted task never collides with
the pot of its previous attempt.
"""

from __future__ import annotations

import re

# What pot names may hold once pot replaced the dots (they become jail names,
# host names and file names in pot's configuration, which is space-separated).
_POT_NAME_CHARACTERS = re.compile(r"^[A-Za-z0-9_-]+$")


def allocation_tag(alloc_id: str, invocation: str) -> str:
    """The ``-a`` argument of ``pot prepare``."""
    return f"{invocation}_{alloc_id}"


def pot_name(task_name: str, alloc_id: str, invocation: str) -> str:
    """The pot ``pot prepare -n task_name -a allocation_tag(...)`` creates."""
    return f"{task_name}_{allocation_tag(alloc_id, invocation)}".replace(".", "_")


def invocation_of(task_id: str) -> str:
    """The start attempt's part of a task id ``<alloc id>/<task>/<invocation>``."""
    invocation = task_id.rsplit("/", 1)[-1]
    if not invocation or invocation == task_id:
        raise ValueError(f"task id {task_id!r} is not of the form <alloc id>/<task>/<invocation>")
    return invocation


def task_name_problem(task_name: str) -> str:
    """Why ``task_name`` cannot name a pot ("" if it can)."""
    if not _POT_NAME_CHARACTERS.match(task_name.replace(".", "_")):
        return (f"task name {task_name!r} cannot be part of a pot name: use only letters, "
                "digits, '.', '_' and '-'")
    return ""
