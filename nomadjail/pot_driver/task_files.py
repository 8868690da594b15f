"""The pot driver's own files, in ``<task_dir>/.pot/`` (the task directory is not
mounted into the pot, so nothing here is visible inside it).

``<invocation>.env.json``     the task's environment (mode 0600), for ``pot exec``;
                              removed when the task is destroyed
``<invocation>.resolv.conf``  the dns block's resolv.conf, handed to ``pot prepare -d
                              custom:<file>``; removed once pot has its own copy

(``<invocation>`` is the last part of the task id: one set per start attempt.)
The supervised ``pot start`` keeps its files where every supervised command
does (:mod:`nomadjail.drivers.invocation`).
"""

from __future__ import annotations

import json
import os

from ..drivers.base import DriverError
from ..helper.atomic_file import write_atomically
from .naming import invocation_of

RUNTIME_DIR = ".pot"


def runtime_path(task_dir: str, task_id: str, suffix: str) -> str:
    return os.path.join(task_dir, RUNTIME_DIR, f"{invocation_of(task_id)}.{suffix}")


def env_path(task_dir: str, task_id: str) -> str:
    return runtime_path(task_dir, task_id, "env.json")


def resolv_conf_path(task_dir: str, task_id: str) -> str:
    return runtime_path(task_dir, task_id, "resolv.conf")


def write_file(path: str, text: str, mode: int) -> None:
    """Write ``text`` atomically with ``mode`` (directories made 0700); DriverError
    (recoverable: the disk may have room again) if it cannot be written."""
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        write_atomically(path, text, mode=mode)
    except OSError as err:
        raise DriverError(f"cannot write {path}: {err}", recoverable=True) from err


def write_env(path: str, env: dict[str, str]) -> None:
    write_file(path, json.dumps(env), 0o600)


def read_env(path: str) -> dict[str, str]:
    """The environment :func:`write_env` saved; {} if it is gone or unreadable."""
    try:
        with open(path, encoding="utf-8") as src:
            env = json.load(src)
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else {}


def forget_file(path: str) -> None:
    """Remove ``path`` if it exists ("" names nothing)."""
    if not path:
        return
    try:
        os.unlink(path)
    except OSError:
        pass
