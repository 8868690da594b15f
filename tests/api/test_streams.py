"""nomadjail.api._streams: log frames decoded from a body cut into arbitrary chunks."""

from __future__ import annotations

import base64
import json

import pytest

from nomadjail.api._errors import ApiError
from nomadjail.api._streams import StreamFrame, decode_frames, plain_frames


def encoded(data: bytes = b"", offset: int = 0, file: str = "alloc/logs/web.stdout.0",
            file_event: str = "") -> bytes:
    obj: dict[str, object] = {"File": file, "Offset": offset}
    if data:
        obj["Data"] = base64.b64encode(data).decode()
    if file_event:
        obj["FileEvent"] = file_event
    return json.dumps(obj).encode()


def cut(body: bytes, size: int) -> list[bytes]:
    return [body[i:i + size] for i in range(0, len(body), size)]


def test_frames_survive_every_chunk_size():
    body = encoded(b"h\xc3\xa9llo ", 0) + b"\n  " + encoded("wörld\n".encode(), 7) + b"\n"
    expected = [StreamFrame(b"h\xc3\xa9llo ", 0, "alloc/logs/web.stdout.0"),
                StreamFrame("wörld\n".encode(), 7, "alloc/logs/web.stdout.0")]
    for size in range(1, len(body) + 1):
        assert list(decode_frames(cut(body, size))) == expected, f"chunk size {size}"


def test_a_utf8_character_split_between_chunks_is_joined():
    body = json.dumps({"File": "ünïcode.log", "Offset": 1}, ensure_ascii=False).encode()
    split = body.index("ü".encode()) + 1  # between the two bytes of "ü"
    frames = list(decode_frames([body[:split], body[split:]]))
    assert frames == [StreamFrame(b"", 1, "ünïcode.log")]


def test_heartbeats_and_non_objects_are_dropped():
    body = b"{}" + encoded(b"a", 0) + b" [1, 2] 3 {} " + encoded(b"b", 1)
    assert [f.data for f in decode_frames([body])] == [b"a", b"b"]


def test_file_events_are_frames_without_data():
    body = encoded(file="alloc/logs/web.stdout.0", file_event="file truncated")
    [frame] = decode_frames([body])
    assert frame.file_event == "file truncated" and frame.data == b""
    assert not frame.is_heartbeat()


def test_is_heartbeat_only_when_every_field_is_empty():
    assert StreamFrame().is_heartbeat()
    for frame in (StreamFrame(data=b"x"), StreamFrame(offset=1), StreamFrame(file="f"),
                  StreamFrame(file_event="file deleted")):
        assert not frame.is_heartbeat()


def test_a_body_that_ends_inside_an_object_is_an_error_after_the_whole_frames():
    stream = decode_frames([encoded(b"ok"), b'{"Data": "aGk'])
    assert next(stream).data == b"ok"
    with pytest.raises(ApiError, match="failed to decode log endpoint response") as caught:
        next(stream)
    assert caught.value.status == 200


def test_data_that_is_not_base64_is_an_error():
    with pytest.raises(ApiError, match="log frame Data is not base64: 'abc'"):
        list(decode_frames([b'{"Data": "abc"}']))


def test_an_empty_body_has_no_frames():
    assert list(decode_frames([])) == []
    assert list(decode_frames([b"", b"  \n"])) == []


def test_plain_frames_are_the_chunks_as_they_came_without_empty_ones():
    assert list(plain_frames([b"one\n", b"", b"two"])) == [StreamFrame(b"one\n"),
                                                           StreamFrame(b"two")]
