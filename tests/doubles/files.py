"""A real HTTP file server on loopback for artifact downloads.

It serves the bytes a test puts in ``files`` (path -> bytes) with a
Content-Length, answers 404 for anything else, and records every request's
path and headers (``requests``), so a test can see what a client sent and how
often.  ``stream(path, size)`` serves ``size`` bytes of zeros in chunks
without a Content-Length, for size limits; ``stall(path)`` sends the headers
and a few bytes, then nothing until the server closes, for read timeouts.  With a
``certificate`` (cert and key files) it speaks HTTPS.  Not emulated: ranges,
redirects.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]


class FileServer:
    def __init__(self, certificate: tuple[str, str] | None = None) -> None:
        self.files: dict[str, bytes] = {}
        self.streams: dict[str, int] = {}
        self.requests: list[Seen] = []
        self.stalled: set[str] = set()
        self._closing = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's method name
                path = self.path.split("?")[0]
                server.requests.append(Seen(self.path, dict(self.headers.items())))
                if path in server.stalled:
                    self.send_response(200)
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    self.wfile.write(b"partial")
                    self.wfile.flush()
                    server._closing.wait(30)
                    return
                if path in server.streams:
                    self._stream(server.streams[path])
                    return
                body = server.files.get(path)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "9")
                    self.end_headers()
                    self.wfile.write(b"not found")
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _stream(self, size: int) -> None:
                self.send_response(200)
                self.send_header("Connection", "close")
                self.end_headers()
                chunk = b"\0" * 65536
                try:
                    while size > 0:
                        self.wfile.write(chunk[:size])
                        size -= len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading: what a size limit does

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if certificate is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*certificate)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def stream(self, path: str, size: int) -> None:
        self.streams[path] = size

    def stall(self, path: str) -> None:
        self.stalled.add(path)

    def hits(self, path: str) -> int:
        return sum(1 for seen in self.requests if seen.path.split("?")[0] == path)

    def close(self) -> None:
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
