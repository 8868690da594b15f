"""Nomad's structured job diff (``JobDiff`` JSON) as ``job plan`` and ``job history -p`` print it.

::

    +/- Job: "example"
    +/- Task Group: "cache" (1 create/destroy update)
      +/- Task: "redis" (forces create/destroy update)
        +/- Config {
          +/- image: "redis:7" => "redis:8"
            }

Markers: ``+`` added, ``-`` deleted, ``+/-`` edited; objects nest with two
more spaces per level and markers are padded so names line up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .format import go_quote

_UPDATE_COLORS = {
    "ignore": "",
    "create": "[green]",
    "destroy": "[red]",
    "migrate": "[blue]",
    "in-place update": "[cyan]",
    "create/destroy update": "[yellow]",
    "canary": "[light_yellow]",
}
_ANNOTATION_COLORS = {
    "forces create": "[green]",
    "forces destroy": "[red]",
    "forces in-place update": "[cyan]",
    "forces create/destroy update": "[yellow]",
}

Diff = Mapping[str, Any]


def diff_marker(diff_type: str) -> tuple[str, int]:
    """The coloured marker for a diff type and its printed width."""
    if diff_type == "Added":
        return "[green]+[reset] ", 2
    if diff_type == "Deleted":
        return "[red]-[reset] ", 2
    if diff_type == "Edited":
        return "[light_yellow]+/-[reset] ", 4
    return "", 0


def _list(value: Any) -> Sequence[Diff]:
    return value if isinstance(value, list) else []


def color_annotations(annotations: Sequence[str]) -> str:
    return ", ".join(f"{_ANNOTATION_COLORS[a]}{a}[reset]" if a in _ANNOTATION_COLORS else a
                     for a in annotations)


def format_job_diff(job: Diff, verbose: bool) -> str:
    marker, _ = diff_marker(job.get("Type", ""))
    out = f'{marker}[bold]Job: {go_quote(job.get("ID", ""))}\n'
    fields, objects = _list(job.get("Fields")), _list(job.get("Objects"))
    groups = _list(job.get("TaskGroups"))
    longest_field, longest_marker = _longest_prefixes(fields, objects)
    for group in groups:
        longest_marker = max(longest_marker, diff_marker(group.get("Type", ""))[1])
    if job.get("Type") == "Edited" or verbose:
        block = _aligned(fields, objects, 0, longest_field, longest_marker)
        out += block
        if block:
            out += "\n"
    for group in groups:
        _, width = diff_marker(group.get("Type", ""))
        out += _format_group(group, longest_marker - width, verbose) + "\n"
    return out


def _format_group(group: Diff, group_prefix: int, verbose: bool) -> str:
    marker, _ = diff_marker(group.get("Type", ""))
    out = f'{marker}{" " * group_prefix}[bold]Task Group: {go_quote(group.get("Name", ""))}[reset]'
    updates = group.get("Updates") or {}
    if updates:
        parts = [f"[reset]{_UPDATE_COLORS.get(kind, '')}{updates[kind]} {kind}"
                 for kind in sorted(updates)]
        out += f" ({', '.join(parts)}[reset])\n"
    else:
        out += "[reset]\n"
    fields, objects = _list(group.get("Fields")), _list(group.get("Objects"))
    tasks = _list(group.get("Tasks"))
    longest_field, longest_marker = _longest_prefixes(fields, objects)
    for task in tasks:
        longest_marker = max(longest_marker, diff_marker(task.get("Type", ""))[1])
    start = group_prefix + 2
    if group.get("Type") == "Edited" or verbose:
        block = _aligned(fields, objects, start, longest_field, longest_marker)
        out += block
        if block:
            out += "\n"
    for task in tasks:
        _, width = diff_marker(task.get("Type", ""))
        out += _format_task(task, start, longest_marker - width, verbose) + "\n"
    return out


def _format_task(task: Diff, start: int, task_prefix: int, verbose: bool) -> str:
    marker, _ = diff_marker(task.get("Type", ""))
    out = f'{" " * start}{marker}{" " * task_prefix}[bold]Task: {go_quote(task.get("Name", ""))}'
    annotations = task.get("Annotations") or []
    if annotations:
        out += f" [reset]({color_annotations(annotations)})"
    kind = task.get("Type", "")
    if kind == "None" or (kind in ("Deleted", "Added") and not verbose):
        return out
    out += "\n"
    fields, objects = _list(task.get("Fields")), _list(task.get("Objects"))
    longest_field, longest_marker = _longest_prefixes(fields, objects)
    return out + _aligned(fields, objects, start + 2, longest_field, longest_marker)


def _format_object(diff: Diff, start: int, key_prefix: int) -> str:
    marker, marker_width = diff_marker(diff.get("Type", ""))
    out = f'{" " * start}{marker}{" " * key_prefix}{diff.get("Name", "")} {{\n'
    fields, objects = _list(diff.get("Fields")), _list(diff.get("Objects"))
    longest_field, longest_marker = _longest_prefixes(fields, objects)
    out += _aligned(fields, objects, start + key_prefix + 2, longest_field, longest_marker)
    return f'{out}\n{" " * (start + marker_width + key_prefix)}}}'


def _format_field(diff: Diff, start: int, key_prefix: int, value_prefix: int) -> str:
    marker, _ = diff_marker(diff.get("Type", ""))
    out = f'{" " * start}{marker}{" " * key_prefix}{diff.get("Name", "")}: {" " * value_prefix}'
    kind = diff.get("Type", "")
    if kind == "Added":
        out += go_quote(diff.get("New"))
    elif kind == "Deleted":
        out += go_quote(diff.get("Old"))
    elif kind == "Edited":
        out += f'{go_quote(diff.get("Old"))} => {go_quote(diff.get("New"))}'
    else:
        out += go_quote(diff.get("New"))
    annotations = diff.get("Annotations") or []
    if annotations:
        out += f" ({color_annotations(annotations)})"
    return out


def _aligned(fields: Sequence[Diff], objects: Sequence[Diff], start: int, longest_field: int,
             longest_marker: int) -> str:
    out = ""
    for i, item in enumerate(fields):
        _, width = diff_marker(item.get("Type", ""))
        out += _format_field(item, start, longest_marker - width,
                             longest_field - len(item.get("Name", "")))
        if i + 1 != len(fields) or objects:
            out += "\n"
    for i, item in enumerate(objects):
        _, width = diff_marker(item.get("Type", ""))
        out += _format_object(item, start, longest_marker - width)
        if i + 1 != len(objects):
            out += "\n"
    return out


def _longest_prefixes(fields: Sequence[Diff], objects: Sequence[Diff]) -> tuple[int, int]:
    longest_field = max((len(f.get("Name", "")) for f in fields), default=0)
    longest_marker = max((diff_marker(d.get("Type", ""))[1] for d in (*fields, *objects)),
                         default=0)
    return longest_field, longest_marker
