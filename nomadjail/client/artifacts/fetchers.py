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
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from .errors import ArtifactError

_CHUNK = 1 << 16
_USER_AGENT = "nomadjail-artifact (go-getter compatible)"


@dataclass(frozen=True, slots=True)
class HTTPSettings:
    headers: Mapping[str, str]
    insecure: bool = False
    read_timeout: float = 1800.0  # seconds for the whole download
    max_bytes: int = 0  # 0 = no limit


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
    try:
        with opener.open(request, timeout=timeout) as response, open(dst, "wb") as out:
            length = response.headers.get("Content-Length")
            written = 0
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                written += len(chunk)
                if settings.max_bytes and written > settings.max_bytes:
                    raise ArtifactError(f"download larger than http_max_size: more than "
                                        f"{settings.max_bytes} bytes")
                if deadline is not None and time.monotonic() > deadline:
                    raise ArtifactError(f"download took longer than http_read_timeout "
                                        f"({settings.read_timeout:g}s)")
                out.write(chunk)
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
        _run_git(args, env, deadline, url)
        if ref and depth <= 0:
            _run_git([git, "checkout", ref], env, deadline, url, cwd=dst)
        _run_git([git, "submodule", "update", "--init", "--recursive"], env, deadline, url,
                 cwd=dst)


def _run_git(args: list[str], env: Mapping[str, str], deadline: float, url: str,
             cwd: str | None = None) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise ArtifactError(f"error downloading {_redact(url)!r}: git_timeout exceeded")
    try:
        done = subprocess.run(args, env=dict(env), cwd=cwd, capture_output=True,
                              timeout=remaining, check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ArtifactError(f"error downloading {_redact(url)!r}: git {args[1]} took longer "
                            "than git_timeout") from None
    if done.returncode != 0:
        output = (done.stderr or done.stdout).decode("utf-8", "replace").strip()
        raise ArtifactError(f"error downloading {_redact(url)!r}: {args[0]} exited with "
                            f"{done.returncode}: {output}")
