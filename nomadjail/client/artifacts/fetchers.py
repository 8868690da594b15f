"""The getters: fetch one http(s) file, a local file or directory, or a git repository.

Each writes to a path the caller chose (a fresh temporary location inside the
allocation directory) and raises :class:`ArtifactError` with go-getter's
wording where it has one.  HTTP follows Nomad's getter settings: the
artifact's headers, no HEAD request first, the whole download bounded by
``http_read_timeout`` and ``http_max_size`` counted while streaming (the
partial file is removed).  git runs the ``git`` binary with a minimal
environment, no terminal prompts and ``git_timeout``.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from .errors import ArtifactError

_CHUNK = 1 << 16
_USER_AGENT = "nomadjail-artifact (go-getter compatible)"


def _never() -> bool:
    return False


CANCELLED = "download cancelled: the task is being stopped"


@dataclass(frozen=True, slots=True)
class HTTPSettings:
    headers: Mapping[str, str]
    insecure: bool = False
    read_timeout: float = 1800.0  # seconds for the whole download
    max_bytes: int = 0  # 0 = no limit
    cancelled: Callable[[], bool] = _never  # checked between chunks


def http_get_file(url: str, dst: str, settings: HTTPSettings,
                  proxies: Mapping[str, str] | None = None) -> None:
    """GET ``url`` into the file ``dst``."""
    request = urllib.request.Request(url, method="GET")
    request.add_header("User-Agent", _USER_AGENT)
    for name, value in settings.headers.items():
        request.add_header(name, value)
    context = ssl.create_default_context()
    if settings.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    # Proxies only from set_environment_variables: the client's own environment is not
    # the download's (as in Nomad's sandbox); an empty map means none.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler(dict(proxies or {})),
                                         urllib.request.HTTPSHandler(context=context))
    deadline = time.monotonic() + settings.read_timeout if settings.read_timeout else None
    timeout = min(settings.read_timeout, 60.0) if settings.read_timeout else 60.0
    os.makedirs(os.path.dirname(dst), mode=0o755, exist_ok=True)
    too_long = (f"download took longer than http_read_timeout "
                f"({settings.read_timeout:g}s)")
    try:
        with opener.open(request, timeout=timeout) as response, open(dst, "wb") as out, \
                _Watchdog(response, settings.cancelled, deadline) as watchdog:
            length = response.headers.get("Content-Length")
            written = 0
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except (OSError, ValueError):
                    if watchdog.reason:
                        break
                    raise
                if watchdog.reason or not chunk:
                    break
                written += len(chunk)
                if settings.max_bytes and written > settings.max_bytes:
                    raise ArtifactError(f"download larger than http_max_size: more than "
                                        f"{settings.max_bytes} bytes")
                out.write(chunk)
            if watchdog.reason:
                raise ArtifactError(CANCELLED if watchdog.reason == _STOPPING else too_long)
            if length is not None and length.isdigit() and written < int(length):
                raise ArtifactError(f"short write: got {written} of {length} bytes")
    except urllib.error.HTTPError as err:
        _remove(dst)
        raise ArtifactError(f"bad response code: {err.code}") from None
    except TimeoutError:
        _remove(dst)
        raise ArtifactError(f"GET {_redact(url)}: no data for {timeout:g}s; the download must "
                            f"finish within http_read_timeout ({settings.read_timeout:g}s)"
                            ) from None
    except ArtifactError:
        _remove(dst)
        raise
    except (urllib.error.URLError, OSError, ValueError) as err:
        _remove(dst)
        reason = getattr(err, "reason", err)
        raise ArtifactError(f"GET {_redact(url)}: {reason}") from None


_STOPPING, _TOO_LONG = "stopping", "too long"


class _Watchdog:
    """Ends a download that must stop -- the task is being stopped, or the whole
    download outlasts ``http_read_timeout`` -- by shutting its connection down from a
    thread of its own: a read blocked on a silent server returns at once."""

    _POLL = 0.1  # seconds between looks

    def __init__(self, response: Any, cancelled: Callable[[], bool],
                 deadline: float | None) -> None:
        self._response = response
        self._cancelled = cancelled
        self._deadline = deadline
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="artifact-watchdog",
                                        daemon=True)
        self.reason = ""

    def __enter__(self) -> _Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._done.wait(self._POLL):
            if self._cancelled():
                self.reason = _STOPPING
            elif self._deadline is not None and time.monotonic() > self._deadline:
                self.reason = _TOO_LONG
            else:
                continue
            try:
                with socket.socket(fileno=os.dup(self._response.fileno())) as sock:
                    sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed: the reader ends by itself
            return


def _redact(url: str) -> str:
    """The URL without a password (go-getter's RedactURL)."""
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:redacted@{parts.hostname}"
        if parts.port:
            netloc += f":{parts.port}"
        return parts._replace(netloc=netloc).geturl()
    return url


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def local_path(url: str) -> str:
    """The host path of a ``file://`` URL."""
    parts = urlsplit(url)
    return unquote(parts.path) if parts.netloc in ("", "localhost") else unquote(
        "/" + parts.netloc + parts.path)


def local_is_dir(url: str) -> bool:
    return os.path.isdir(local_path(url))


def file_get_file(url: str, dst: str) -> None:
    """Copy a local file (its contents: a link is followed, never reproduced)."""
    path = local_path(url)
    if not os.path.exists(path):
        raise ArtifactError(f"source path error: stat {path}: no such file or directory")
    if os.path.isdir(path):
        raise ArtifactError("source path must be a file")
    os.makedirs(os.path.dirname(dst), mode=0o755, exist_ok=True)
    shutil.copyfile(path, dst)
    os.chmod(dst, os.stat(path).st_mode & 0o777)


def file_get_dir(url: str, dst: str) -> None:
    """Copy a local directory; links are copied as links and inspected afterwards."""
    path = local_path(url)
    if not os.path.exists(path):
        raise ArtifactError(f"source path error: stat {path}: no such file or directory")
    if not os.path.isdir(path):
        raise ArtifactError("source path must be a directory")
    shutil.copytree(path, dst, symlinks=True, dirs_exist_ok=True)


@dataclass(frozen=True, slots=True)
class GitSettings:
    timeout: float = 1800.0
    env: Mapping[str, str] | None = None  # the download's environment
    cancelled: Callable[[], bool] = _never  # polled while git runs


def git_get(url: str, dst: str, query: Mapping[str, str], settings: GitSettings) -> None:
    """Clone ``url`` into ``dst`` (go-getter's GitGetter: ``ref``, ``depth``, ``sshkey``)."""
    git = shutil.which("git", path=(settings.env or os.environ).get("PATH", os.defpath))
    if git is None:
        raise ArtifactError("git must be available and on the PATH")
    ref = query.get("ref", "")
    try:
        depth = int(query.get("depth", "0") or 0)
    except ValueError:
        depth = 0
    env = dict(settings.env if settings.env is not None else os.environ)
    env["GIT_TERMINAL_PROMPT"] = "0"
    deadline = time.monotonic() + settings.timeout
    with tempfile.TemporaryDirectory(prefix="nomadjail-git-") as scratch:
        if query.get("sshkey"):
            key_file = os.path.join(scratch, "key")
            try:
                key = base64.b64decode(query["sshkey"], validate=False)
            except ValueError as err:
                raise ArtifactError(f"Error using ssh key: {err}") from None
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(key)
            env["GIT_SSH_COMMAND"] = f"ssh -i {key_file} -o IdentitiesOnly=yes"
        args = [git, "clone"]
        if depth > 0:
            args += ["--depth", str(depth)]
            if ref:
                args += ["--branch", ref]
        args += ["--", url, dst]
        run = _GitRun(env, deadline, url, settings.cancelled)
        run(args)
        if ref and depth <= 0:
            run([git, "checkout", ref], cwd=dst)
        run([git, "submodule", "update", "--init", "--recursive"], cwd=dst)


@dataclass(frozen=True, slots=True)
class _GitRun:
    """Runs git commands until the deadline, ending one (by its PID) when the task is
    being stopped."""

    env: Mapping[str, str]
    deadline: float
    url: str
    cancelled: Callable[[], bool]

    def __call__(self, args: list[str], cwd: str | None = None) -> None:
        with tempfile.TemporaryFile() as output:
            proc = subprocess.Popen(args, env=dict(self.env), cwd=cwd, stdout=output,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            try:
                while True:
                    try:
                        code = proc.wait(timeout=0.1)
                        break
                    except subprocess.TimeoutExpired:
                        pass
                    if self.cancelled():
                        raise ArtifactError(CANCELLED)
                    if time.monotonic() > self.deadline:
                        raise ArtifactError(f"error downloading {_redact(self.url)!r}: git "
                                            f"{args[1]} took longer than git_timeout")
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            if code != 0:
                output.seek(0)
                text = output.read().decode("utf-8", "replace").strip()
                raise ArtifactError(f"error downloading {_redact(self.url)!r}: {args[0]} "
                                    f"exited with {code}: {text}")
