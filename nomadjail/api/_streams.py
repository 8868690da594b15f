"""Streamed file contents (``/v1/client/fs/logs``) as :class:`StreamFrame` objects.

Nomad streams a file as JSON objects written back to back, one per frame
(``{"File": …, "Offset": …, "Data": base64, "FileEvent": …}``), with empty
``{}`` heartbeats while nothing happens; with ``plain=true`` it sends the raw
bytes instead.  The transport hands over whatever chunks the socket delivered,
so a frame, and even one UTF-8 character of the JSON, may be cut anywhere: the
decoder here buffers until an object is whole and only gives up when the
stream *ends* inside one.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ._errors import ApiError

__all__ = ["StreamFrame", "decode_frames", "plain_frames"]


@dataclass(frozen=True, slots=True)
class StreamFrame:
    """One frame of a streamed file (``/v1/client/fs/logs``): raw bytes and where they are."""

    data: bytes = b""
    offset: int = 0
    file: str = ""
    file_event: str = ""

    def is_heartbeat(self) -> bool:
        return not self.data and not self.file_event and not self.file and not self.offset


def plain_frames(chunks: Iterable[bytes]) -> Iterator[StreamFrame]:
    """Frames of a ``plain=true`` body: each non-empty chunk as it came."""
    for chunk in chunks:
        if chunk:
            yield StreamFrame(data=chunk)


def decode_frames(chunks: Iterable[bytes]) -> Iterator[StreamFrame]:
    """Frames from a body of JSON objects written back to back (whitespace allowed).

    Heartbeats and values that are not objects are dropped.  Raises
    :class:`ApiError` if the body ends inside an object or a frame's ``Data``
    is not base64.
    """
    decoder = json.JSONDecoder()
    buffer = ""
    pending = b""
    for chunk in chunks:
        pending += chunk
        try:
            text = pending.decode("utf-8")
            pending = b""
        except UnicodeDecodeError as err:  # a multi-byte character split between chunks
            text = pending[:err.start].decode("utf-8")
            pending = pending[err.start:]
        buffer += text
        while True:
            stripped = buffer.lstrip()
            if not stripped:
                buffer = ""
                break
            try:
                obj, end = decoder.raw_decode(stripped)
            except ValueError:
                buffer = stripped
                break  # an incomplete object: wait for more bytes
            buffer = stripped[end:]
            frame = _frame(obj)
            if frame is not None and not frame.is_heartbeat():
                yield frame
    if buffer.strip():
        raise ApiError(200, f"failed to decode log endpoint response as JSON: {buffer[:80]!r}")


def _frame(obj: Any) -> StreamFrame | None:
    if not isinstance(obj, dict):
        return None
    data = obj.get("Data") or ""
    try:
        raw = base64.b64decode(data) if data else b""
    except ValueError:
        raise ApiError(200, f"log frame Data is not base64: {str(data)[:40]!r}") from None
    return StreamFrame(data=raw, offset=int(obj.get("Offset") or 0), file=obj.get("File") or "",
                       file_event=obj.get("FileEvent") or "")
