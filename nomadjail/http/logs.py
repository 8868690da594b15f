"""GET /v1/client/fs/logs/:alloc — a task's stdout/stderr, once or followed.

Parameters and errors are Nomad's (``task``, ``type``, ``origin``, ``offset``,
``follow``, ``plain``).  Without ``plain`` the body is a sequence of Nomad
``StreamFrame`` JSON objects (``{"File", "Offset", "Data": base64}``), one per
line; with it, the raw bytes.  Following polls the files from the event loop
(no thread per follower) and ends once the task is dead and everything it
wrote has been sent, as ``nomad alloc logs -f`` expects.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import AsyncIterator

import falcon.asgi

from ..client.logs import FRAME_SIZE, LogChunk, afollow_logs, read_logs
from ..structs import BadRequest, NotFound, TaskStateName
from .query import bool_param, int_param
from .resource import Resource

HEARTBEAT_EVERY = 10.0  # seconds between empty frames while following, as Nomad
DEAD_CHECK_EVERY = 0.5


def frame(chunk: LogChunk) -> bytes:
    return json.dumps({"Offset": chunk.offset, "File": chunk.file,
                       "Data": base64.b64encode(chunk.data).decode()}).encode() + b"\n"


def _split(chunk: LogChunk) -> list[LogChunk]:
    """One chunk per FRAME_SIZE bytes, each with the offset just past its data."""
    if len(chunk.data) <= FRAME_SIZE:
        return [chunk]
    start = chunk.offset - len(chunk.data)
    parts = []
    for i in range(0, len(chunk.data), FRAME_SIZE):
        piece = chunk.data[i:i + FRAME_SIZE]
        parts.append(LogChunk(piece, chunk.file, start + i + len(piece)))
    return parts


class LogsResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     alloc_id: str) -> None:
        task = req.get_param("task") or ""
        if not task:
            raise BadRequest("must provide task name")
        kind = req.get_param("type") or ""
        if kind not in ("stdout", "stderr"):
            raise BadRequest("must provide log type (stdout/stderr)")
        origin = req.get_param("origin") or "start"
        if origin not in ("start", "end"):
            raise BadRequest("origin must be start or end")
        offset = int_param(req, "offset")
        follow = bool_param(req, "follow")
        plain = bool_param(req, "plain")

        client = self.agent.require_client()
        runner = client.alloc_runner(alloc_id)
        alloc_dir = client.alloc_dir(alloc_id)
        if runner is None or alloc_dir is None:
            raise NotFound(f'Unknown allocation "{alloc_id}"')
        if task not in runner.task_states():
            raise NotFound(f'task "{task}" not found in allocation "{alloc_id}"')
        resp.content_type = falcon.MEDIA_TEXT if plain else falcon.MEDIA_JSON

        if not follow:
            chunk = await asyncio.to_thread(read_logs, alloc_dir, task, kind, origin=origin,
                                            offset=offset)
            resp.data = chunk.data if plain else b"".join(frame(c) for c in _split(chunk))
            return

        def task_dead() -> bool:
            state = runner.task_states().get(task)
            return state is None or state.state == TaskStateName.DEAD

        # Fail with 404 now, not silently inside the stream, when nothing was written yet.
        await asyncio.to_thread(read_logs, alloc_dir, task, kind, origin=origin, limit=0)
        resp.stream = self._follow(alloc_dir, task, kind, origin, offset, plain, task_dead)

    async def _follow(self, alloc_dir: str, task: str, kind: str, origin: str, offset: int,
                      plain: bool, task_dead) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[LogChunk | None] = asyncio.Queue()

        async def pump() -> None:
            try:
                async for chunk in afollow_logs(alloc_dir, task, kind, origin=origin,
                                                offset=offset):
                    await queue.put(chunk)
            finally:
                await queue.put(None)

        reader = asyncio.create_task(pump())
        loop = asyncio.get_running_loop()
        last_sent = loop.time()
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(queue.get(), DEAD_CHECK_EVERY)
                except asyncio.TimeoutError:
                    if self.agent.shutting_down:
                        return
                    if task_dead() and queue.empty():
                        await asyncio.sleep(0.3)  # one more poll for the final writes
                        if queue.empty():
                            return
                    if not plain and loop.time() - last_sent > HEARTBEAT_EVERY:
                        last_sent = loop.time()
                        yield b"{}\n"
                    continue
                if chunk is None:
                    return
                last_sent = loop.time()
                if plain:
                    yield chunk.data
                else:
                    for part in _split(chunk):
                        yield frame(part)
        finally:
            reader.cancel()
