"""An allocation's directory on the client, laid out as Nomad lays it out::

    <alloc_root>/<alloc_id>/
        alloc/            shared by the group's tasks (NOMAD_ALLOC_DIR)
            data/         ephemeral_disk data
            logs/         <task>.stdout.N / <task>.stderr.N
            tmp/
        <task>/           one per task (the raw_exec working directory)
            local/        NOMAD_TASK_DIR
            secrets/      NOMAD_SECRETS_DIR
            tmp/

The directory stays after the allocation stops (its logs remain readable) and
goes only when the allocation is garbage collected (:meth:`AllocDir.destroy`).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

SHARED_ALLOC_NAME = "alloc"
LOG_DIR_NAME = "logs"
SHARED_SUBDIRS = ("data", LOG_DIR_NAME, "tmp")
TASK_SUBDIRS = ("local", "secrets", "tmp")
DIR_MODE = 0o777  # tasks may run as other users; they must reach the shared dirs


@dataclass(frozen=True, slots=True)
class TaskDir:
    """The host paths of one task's directories."""

    dir: str
    local_dir: str
    secrets_dir: str
    tmp_dir: str
    shared_alloc_dir: str
    log_dir: str


class AllocDir:
    def __init__(self, alloc_root: str, alloc_id: str) -> None:
        self.alloc_id = alloc_id
        self.path = os.path.join(alloc_root, alloc_id)
        self.shared_dir = os.path.join(self.path, SHARED_ALLOC_NAME)
        self.log_dir = os.path.join(self.shared_dir, LOG_DIR_NAME)

    def exists(self) -> bool:
        return os.path.isdir(self.path)

    def build(self) -> None:
        """Create the allocation root and the shared ``alloc/`` tree (idempotent)."""
        os.makedirs(self.path, exist_ok=True)
        for sub in SHARED_SUBDIRS:
            _make_dir(os.path.join(self.shared_dir, sub))

    def task_dir(self, task: str) -> TaskDir:
        root = os.path.join(self.path, task)
        return TaskDir(dir=root, local_dir=os.path.join(root, "local"),
                       secrets_dir=os.path.join(root, "secrets"),
                       tmp_dir=os.path.join(root, "tmp"), shared_alloc_dir=self.shared_dir,
                       log_dir=self.log_dir)

    def build_task(self, task: str) -> TaskDir:
        """Create ``<task>/{local,secrets,tmp}`` (idempotent)."""
        paths = self.task_dir(task)
        os.makedirs(paths.dir, exist_ok=True)
        for sub in (paths.local_dir, paths.secrets_dir, paths.tmp_dir):
            _make_dir(sub)
        return paths

    def destroy(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _make_dir(path: str) -> None:
    os.makedirs(path, exist_ok=True)
    try:
        os.chmod(path, DIR_MODE)
    except PermissionError:
        pass
