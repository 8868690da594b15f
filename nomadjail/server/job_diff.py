"""``job plan -diff``: what changes between the stored job and a submitted one.

The result has the shape of Nomad's ``JobDiff`` (``Type``, ``ID``, ``Fields``,
``Objects``, ``TaskGroups`` with ``Tasks`` and ``Updates``), which the CLI
prints as ``+/- Job: "web"``, ``+ Count: "1" => "3"`` and so on.  ``Type`` is
one of ``Added``, ``Deleted``, ``Edited`` and ``None``.

The diff is derived from the dataclasses themselves rather than written per
field: primitive attributes become fields; maps become fields named
``Meta[key]`` (task ``Config`` becomes an object of flattened fields, as in
Nomad); nested structs become objects; lists of structs are compared as
sets, each element an added or deleted object; lists of strings become a
set object whose fields all carry the list's name.  Within an edited object
unchanged fields are listed with type ``None`` (Nomad's contextual diff), so
the CLI can show them with ``-verbose``.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any

from ..structs import Job, PlanAnnotations, Task, TaskGroup
from ..structs.codec import api_key

ADDED, DELETED, EDITED, NONE = "Added", "Deleted", "Edited", "None"

# Fields the server sets, or that are diffed elsewhere (Nomad's filters).
_JOB_SKIP = {"id", "status", "status_description", "version", "stable", "create_index",
             "modify_index", "job_modify_index", "update", "submit_time", "task_groups"}
_GROUP_SKIP = {"name", "tasks"}
_TASK_SKIP = {"name"}

_PRIMITIVES = (str, int, float, bool)


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _key(f: dataclasses.Field) -> str:
    return f.metadata.get("key") or api_key(f.name)


def _field_diff(name: str, old: str | None, new: str | None) -> dict[str, Any]:
    if old == new:
        kind = NONE
    elif old is None:
        kind = ADDED
    elif new is None:
        kind = DELETED
    else:
        kind = EDITED
    return {"Type": kind, "Name": name, "Old": old or "", "New": new or "",
            "Annotations": None}


def _flatten(value: Any, prefix: str, out: dict[str, str]) -> None:
    """Nomad's flatmap: ``a.b``, ``a[0]``, ``Meta[k]`` keys to string values."""
    if dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            _flatten(getattr(value, f.name), f"{prefix}.{_key(f)}" if prefix else _key(f), out)
    elif isinstance(value, dict):
        for k in sorted(value, key=str):
            _flatten(value[k], f"{prefix}[{k}]" if prefix else str(k), out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _flatten(item, f"{prefix}[{i}]", out)
    elif value is not None:
        out[prefix] = _format(value) if isinstance(value, _PRIMITIVES) else json.dumps(value)


def _kind(old: Any, new: Any, children_changed: bool) -> str:
    if old is None and new is not None:
        return ADDED
    if new is None and old is not None:
        return DELETED
    return EDITED if children_changed else NONE


def _changed(entries: list[dict[str, Any]]) -> bool:
    return any(e["Type"] != NONE for e in entries)


def _singular(name: str) -> str:
    if name.endswith("ies"):
        return name[:-3] + "y"
    return name[:-1] if name.endswith("s") else name


def _parts(old: Any, new: Any, skip: set[str]) -> tuple[list[dict], list[dict]]:
    """Fields and objects of two instances of one dataclass (either may be None)."""
    cls = type(old if old is not None else new)
    hints = typing.get_type_hints(cls)
    fields: list[dict[str, Any]] = []
    objects: list[dict[str, Any]] = []
    for f in dataclasses.fields(cls):
        if f.name in skip or f.name.startswith("_"):
            continue
        name = _key(f)
        a = getattr(old, f.name) if old is not None else None
        b = getattr(new, f.name) if new is not None else None
        hint = hints[f.name]
        origin = typing.get_origin(hint)
        args = [t for t in typing.get_args(hint) if t is not type(None)]
        inner = args[0] if origin in (typing.Union, types.UnionType) and len(args) == 1 else hint
        inner_origin = typing.get_origin(inner)
        inner_args = typing.get_args(inner)
        if dataclasses.is_dataclass(inner):
            diff = _object(name, a, b, set())
            if diff is not None:
                objects.append(diff)
        elif inner_origin is list and inner_args and dataclasses.is_dataclass(inner_args[0]):
            objects.extend(_set_of_objects(_singular(name), a or [], b or []))
        elif inner_origin is list:
            diff = _string_set(name, a or [], b or [])
            if diff is not None:
                objects.append(diff)
        elif inner_origin is dict and inner_args and dataclasses.is_dataclass(inner_args[1]):
            for k in sorted(set(a or {}) | set(b or {})):
                diff = _object(f"{name}[{k}]", (a or {}).get(k), (b or {}).get(k), set())
                if diff is not None:
                    objects.append(diff)
        elif inner_origin is dict and inner_args and inner_args[1] is Any:
            diff = _flat_object(name, a or {}, b or {})
            if diff is not None:
                objects.append(diff)
        elif inner_origin is dict:
            for k in sorted(set(a or {}) | set(b or {})):
                fa, fb = (a or {}).get(k), (b or {}).get(k)
                fields.append(_field_diff(f"{name}[{k}]", None if fa is None else _format(fa),
                                          None if fb is None else _format(fb)))
        else:
            if a is None and b is None:
                continue
            fields.append(_field_diff(name, None if a is None else _format(a),
                                      None if b is None else _format(b)))
    return fields, objects


def _object(name: str, old: Any, new: Any, skip: set[str]) -> dict[str, Any] | None:
    if old is None and new is None:
        return None
    fields, objects = _parts(old, new, skip)
    kind = _kind(old, new, _changed(fields) or _changed(objects))
    if kind == NONE:
        return None
    return {"Type": kind, "Name": name, "Fields": fields, "Objects": objects or None}


def _flat_object(name: str, old: dict, new: dict) -> dict[str, Any] | None:
    a: dict[str, str] = {}
    b: dict[str, str] = {}
    _flatten(old, "", a)
    _flatten(new, "", b)
    if not a and not b:
        return None
    fields = [_field_diff(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b))]
    kind = ADDED if not a else DELETED if not b else EDITED if _changed(fields) else NONE
    if kind == NONE:
        return None
    return {"Type": kind, "Name": name, "Fields": fields, "Objects": None}


def _string_set(name: str, old: list, new: list) -> dict[str, Any] | None:
    a, b = [_format(v) for v in old], [_format(v) for v in new]
    fields = [_field_diff(name, v, None) for v in a if v not in b]
    fields += [_field_diff(name, None, v) for v in b if v not in a]
    fields += [_field_diff(name, v, v) for v in a if v in b]
    if not fields or not _changed(fields):
        return None
    kind = ADDED if not a else DELETED if not b else EDITED
    return {"Type": kind, "Name": name, "Fields": fields, "Objects": None}


def _set_of_objects(name: str, old: list, new: list) -> list[dict[str, Any]]:
    """Elements compared as a set: changed ones show as one deleted and one added."""
    diffs = []
    for item in old:
        if item not in new:
            diffs.append(_object(name, item, None, set()))
    for item in new:
        if item not in old:
            diffs.append(_object(name, None, item, set()))
    return [d for d in diffs if d is not None]


def _task_diff(old: Task | None, new: Task | None) -> dict[str, Any]:
    fields, objects = _parts(old, new, _TASK_SKIP)
    kind = _kind(old, new, _changed(fields) or _changed(objects))
    name = (new or old).name  # type: ignore[union-attr]
    return {"Type": kind, "Name": name, "Fields": fields, "Objects": objects or None,
            "Annotations": None}


def _group_diff(old: TaskGroup | None, new: TaskGroup | None) -> dict[str, Any]:
    fields, objects = _parts(old, new, _GROUP_SKIP)
    old_tasks = {t.name: t for t in (old.tasks if old else [])}
    new_tasks = {t.name: t for t in (new.tasks if new else [])}
    tasks = [_task_diff(old_tasks.get(n), new_tasks.get(n))
             for n in sorted(set(old_tasks) | set(new_tasks))]
    kind = _kind(old, new, _changed(fields) or _changed(objects) or _changed(tasks))
    name = (new or old).name  # type: ignore[union-attr]
    return {"Type": kind, "Name": name, "Fields": fields, "Objects": objects or None,
            "Tasks": tasks, "Updates": None}


def diff_jobs(old: Job | None, new: Job | None) -> dict[str, Any]:
    """Nomad's JobDiff between the stored job (None if new) and the submitted one."""
    if old is None and new is None:
        return {"Type": NONE, "ID": "", "Fields": None, "Objects": None, "TaskGroups": None}
    fields, objects = _parts(old, new, _JOB_SKIP)
    old_groups = {g.name: g for g in (old.task_groups if old else [])}
    new_groups = {g.name: g for g in (new.task_groups if new else [])}
    groups = [_group_diff(old_groups.get(n), new_groups.get(n))
              for n in sorted(set(old_groups) | set(new_groups))]
    kind = _kind(old, new, _changed(fields) or _changed(objects) or _changed(groups))
    return {"Type": kind, "ID": (new or old).id,  # type: ignore[union-attr]
            "Fields": [f for f in fields if f["Type"] != NONE] or None,
            "Objects": objects or None, "TaskGroups": groups}


# DesiredUpdates attribute -> the words `job plan` prints next to a task group.
_UPDATE_WORDS = (("ignore", "ignore"), ("place", "create"), ("migrate", "migrate"),
                 ("stop", "destroy"), ("canary", "canary"), ("in_place_update", "in-place update"),
                 ("destructive_update", "create/destroy update"),
                 ("reschedule_now", "reschedule now"), ("reschedule_later", "reschedule later"),
                 ("preemptions", "preempt"))


def annotate_diff(diff: dict[str, Any], annotations: PlanAnnotations | None) -> None:
    """Attach the scheduler's per-group counts (``(2 create, 1 ignore)``)."""
    if annotations is None:
        return
    for group in diff.get("TaskGroups") or []:
        desired = annotations.desired_tg_updates.get(group["Name"])
        if desired is None:
            continue
        updates = {word: getattr(desired, attr) for attr, word in _UPDATE_WORDS
                   if getattr(desired, attr)}
        group["Updates"] = updates or None
