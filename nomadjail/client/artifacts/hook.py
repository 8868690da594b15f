"""The prestart hook that downloads a task's artifacts (Nomad's ``artifact_hook.go``).

It runs after the task directory and environment exist and before templates
are rendered (Nomad's hook order), so a template may read a downloaded file.

* Each artifact is fetched once per task: its :meth:`TaskArtifact.hash` is
  recorded in the hook state when it landed, so a restart (or a retry after
  another artifact failed) does not fetch it again; with every artifact
  recorded the hook does nothing, and emits no event.
* "Downloading Artifacts" is emitted before the first fetch of an attempt.
  Up to three artifacts are fetched at once, as in Nomad.
* A failure is a "Failed Artifact Download" event whose message reads
  ``failed to download artifact "<source>": <why>``; the attempt fails with
  a recoverable error, so the restart policy decides what happens next.
* ``source``, ``options`` and ``headers`` are interpolated with the task's
  environment; ``destination`` as a host path (``${NOMAD_TASK_DIR}`` is the
  client's path to ``local/``), relative to the task directory, and it must
  stay inside the task directory or the shared ``alloc/`` directory.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from ...structs.artifact import GetterMode, TaskArtifact
from .. import events
from ..hooks.base import HookContext, HookError
from ..taskenv import TaskEnv
from .errors import ArtifactError
from .getter import Download, fetch
from .source import build_url

MAX_CONCURRENT_DOWNLOADS = 3
DOWNLOADED = "1"  # any non-empty value marks an artifact done (Nomad's)


class ArtifactHook:
    name = "artifacts"

    def prestart(self, ctx: HookContext) -> None:
        if not ctx.task.artifacts:
            return
        state = ctx.hook_state.setdefault(self.name, {})
        pending = [a for a in ctx.task.artifacts if not state.get(a.hash())]
        if not pending:
            return
        ctx.emit(events.downloading_artifacts())
        with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_DOWNLOADS,
                                thread_name_prefix="artifact") as pool:
            outcomes = list(pool.map(lambda artifact: _download(ctx, artifact), pending))
        failure: HookError | None = None
        for artifact, error in zip(pending, outcomes, strict=True):
            if error is None:
                state[artifact.hash()] = DOWNLOADED
            else:
                message = f'failed to download artifact "{artifact.getter_source}": {error}'
                failure = HookError(message, event=events.artifact_download_failed(message),
                                    recoverable=True)
        if failure is not None:
            raise failure


def _download(ctx: HookContext, artifact: TaskArtifact) -> ArtifactError | None:
    """Fetch one artifact; the error instead of raising it, so the others finish."""
    try:
        fetch(download_of(ctx, artifact), ctx.config.artifact)
    except ArtifactError as err:
        return err
    except OSError as err:
        return ArtifactError(str(err))
    return None


def client_env(ctx: HookContext) -> TaskEnv:
    """The task's environment with the directories as the client sees them."""
    env = ctx.env or TaskEnv()
    task_dir = ctx.task_dir
    return TaskEnv(env={**env.env, "NOMAD_ALLOC_DIR": task_dir.shared_alloc_dir,
                        "NOMAD_TASK_DIR": task_dir.local_dir,
                        "NOMAD_SECRETS_DIR": task_dir.secrets_dir},
                   node_attrs=env.node_attrs)


def _inside(root: str, path: str) -> bool:
    return path == root or path.startswith(root + os.sep)


def client_path(ctx: HookContext, raw: str) -> str:
    """Nomad's ``TaskEnv.ClientPath(dest, joinEscape=true)``: interpolated, relative to
    the task directory; ArtifactError when it still escapes."""
    task_dir = ctx.task_dir
    path = client_env(ctx).replace(raw)

    def escapes(candidate: str) -> bool:
        return not (_inside(task_dir.dir, candidate)
                    or _inside(task_dir.shared_alloc_dir, candidate))

    if not os.path.isabs(path) or escapes(os.path.normpath(path)):
        path = os.path.join(task_dir.dir, path.lstrip("/"))
    path = os.path.normpath(path)
    if escapes(path):
        raise ArtifactError("artifact destination path escapes alloc directory",
                            recoverable=False)
    return path


def download_of(ctx: HookContext, artifact: TaskArtifact) -> Download:
    env = ctx.env or TaskEnv()
    options = {key: env.replace(value) for key, value in artifact.getter_options.items()}
    return Download(
        source=build_url(env.replace(artifact.getter_source), options),
        destination=client_path(ctx, artifact.relative_dest),
        mode=GetterMode(artifact.getter_mode or GetterMode.ANY),
        task_dir=ctx.task_dir.dir,
        alloc_dir=ctx.alloc_dir.path,
        headers={key: env.replace(value) for key, value in artifact.getter_headers.items()},
        insecure=artifact.getter_insecure,
        chown_user=ctx.task.user if artifact.chown else "",
        cancelled=ctx.cancelled)
