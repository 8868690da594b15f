"""GET /v1/client/fs/logs/:alloc — a task's stdout/stderr, once or followed.

Parameters and errors are Nomad's (``task``, ``type``, ``origin``, ``offset``,
``follow``, ``plain``).  Without ``plain`` the body is a sequence of Nomad
``StreamFrame`` JSON objects (``{"File", "Offset", "Data": base64}``), one per
line; with it, the raw bytes.  A follower parks no thread between polls (each
bounded read runs briefly in the thread pool) and ends once the task is dead
and everything it wrote has been sent, as ``nomad alloc logs -f`` expects.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable

import falcon.asgi

from ..client.logs import FRAME_SIZE, POLL_INTERVAL, LogChunk, LogFollower, read_logs
from ..structs import BadRequest, NotFound, TaskStateName
from .query import bool_param, int_param
from .resource import Resource

HEARTBEAT_EVERY = 1.0  # seconds between empty frames while following (Nomad's rate)
FOLLOW_BATCH = 4 * FRAME_SIZE  # the most a follower reads before sending it


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

        client = await self.client_for(req, resp, alloc_id)
        if client is None:
            return  # answered by the agent that runs the allocation
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
                      plain: bool, task_dead: Callable[[], bool]) -> AsyncIterator[bytes]:
        """Stream new output until the task is dead and drained, the agent stops, or the
        reader goes away.  Files are read off the event loop, one bounded batch at a
        time, and the next batch is read only after the previous one was sent, so a slow
        reader of a chatty task costs one batch of memory, not the whole log."""
        follower = await asyncio.to_thread(LogFollower, alloc_dir, task, kind, origin=origin,
                                           offset=offset)
        loop = asyncio.get_running_loop()
        last_sent = loop.time()
        while not self.agent.shutting_down:
            dead = task_dead()  # checked before reading: what it wrote last is read next
            chunks = await asyncio.to_thread(follower.poll, FOLLOW_BATCH)
            for chunk in chunks:
                for part in _split(chunk):
                    yield part.data if plain else frame(part)
                last_sent = loop.time()
            if chunks:
                continue  # more may be waiting: read on before sleeping
            if dead:
                return  # dead before the last read, which found nothing new: all sent
            if not plain and loop.time() - last_sent >= HEARTBEAT_EVERY:
                last_sent = loop.time()
                yield b"{}\n"
            await asyncio.sleep(POLL_INTERVAL)
