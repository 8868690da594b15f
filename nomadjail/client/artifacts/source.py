"""What an artifact's ``source`` names, read the way go-getter reads it.

go-getter's source grammar, in the order it applies:

* a *forced getter* prefix: ``git::https://host/repo.git``, ``file::./x``;
* detection for strings that are not URLs: ``git@host:org/repo.git`` (scp-like
  SSH, becomes ``git::ssh://git@host/org/repo.git``), ``github.com/org/repo``
  and ``gitlab.com/org/repo`` (git over https), an absolute path (``file``) and
  any other string, a path relative to the task directory (``file``);
* a *subdirectory* after a double slash, ``https://host/a.tgz//dir?x=1``: the
  whole source is fetched, then only ``dir`` (a glob) is kept;
* *magic query parameters* taken out of the URL before it is fetched:
  ``archive`` (an archive type, or ``false`` not to unpack), ``checksum``
  (``type:hex``, a bare hex digest, or ``file:<url>``) and ``filename`` (the
  file's name in mode ``any``); git's ``ref``, ``depth`` and ``sshkey`` are
  read by the git getter.

Nomad first merges the artifact's ``options`` into the URL's query
(:func:`build_url`), so ``options { checksum = ... }`` and ``?checksum=`` mean
the same.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from .errors import ArtifactError

_FORCED = re.compile(r"^([A-Za-z0-9]+)::(.+)$", re.DOTALL)
_HAS_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SCP_LIKE = re.compile(r"^(?P<user>[\w.-]+)@(?P<host>[\w.-]+):(?P<path>[^/].*)$")
_GIT_HOSTS = ("github.com/", "gitlab.com/", "bitbucket.org/")
GITHUB_SSH_PREFIX = "git@github.com:"


class GetterKind(StrEnum):
    """The getters nomadjail has (go-getter's names)."""

    HTTP = "http"
    HTTPS = "https"
    FILE = "file"
    GIT = "git"


@dataclass(frozen=True, slots=True)
class Source:
    """A source split into what go-getter acts on."""

    getter: GetterKind
    url: str  # what the getter fetches: magic parameters and subdir removed
    path: str  # the URL's path (for the archive type and the file name)
    subdir: str = ""
    archive: str = ""  # "" = by extension; "-" = do not unpack; else a type ("tgz")
    checksum: str = ""  # as written: "sha256:...", "<hex>" or "file:<url>"
    filename: str = ""  # ?filename=: the file's name in mode any
    query: dict[str, str] = field(default_factory=dict)  # the rest (git reads ref, depth)


def build_url(source: str, options: dict[str, str]) -> str:
    """Nomad's ``getURL``: ``options`` set into the source's query string.

    The query is re-encoded with its keys sorted (Go's ``url.Values.Encode``); a
    ``git@github.com:`` source keeps its prefix, which is not a URL.
    """
    prefix = ""
    if source.startswith(GITHUB_SSH_PREFIX):
        prefix, source = GITHUB_SSH_PREFIX, source[len(GITHUB_SSH_PREFIX):]
    if not options:
        return prefix + source
    forced, rest = _split_forced(source)
    parts = urlsplit(rest)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(options)
    encoded = urlencode(sorted(query.items()), quote_via=quote)
    rebuilt = urlunsplit(parts._replace(query=encoded))
    return prefix + (f"{forced}::" if forced else "") + rebuilt


def _split_forced(source: str) -> tuple[str, str]:
    match = _FORCED.match(source)
    if match and not _HAS_SCHEME.match(source):
        return match.group(1), match.group(2)
    return "", source


def _detect(source: str, pwd: str) -> tuple[str, str]:
    """(forced getter or "", URL) for a source that may not be a URL yet."""
    forced, rest = _split_forced(source)
    if forced:
        if forced == GetterKind.FILE and not _HAS_SCHEME.match(rest):
            return forced, _file_url(rest, pwd)
        scp = _SCP_LIKE.match(rest) if forced == GetterKind.GIT else None
        if scp:
            return forced, _ssh_url(scp)
        return forced, rest
    if _HAS_SCHEME.match(source) or source.startswith("file:"):
        return "", source
    scp = _SCP_LIKE.match(source)
    if scp:
        return GetterKind.GIT, _ssh_url(scp)
    if source.startswith(_GIT_HOSTS):
        return GetterKind.GIT, "https://" + source
    return "", _file_url(source, pwd)


def _ssh_url(scp: re.Match[str]) -> str:
    return f"ssh://{scp.group('user')}@{scp.group('host')}/{scp.group('path')}"


def _file_url(path: str, pwd: str) -> str:
    if not os.path.isabs(path):
        if not pwd:
            raise ArtifactError("relative paths require a module with a pwd")
        path = os.path.join(pwd, path)
    return "file://" + quote(os.path.normpath(path))


def split_subdir(source: str) -> tuple[str, str]:
    """go-getter's ``SourceDirSubdir``: ``proto://host/p//sub?q`` -> (``proto://host/p?q``,
    ``sub``)."""
    stop = source.find("?")
    stop = len(source) if stop < 0 else stop
    scheme_end = source.find("://", 0, stop)
    offset = scheme_end + 3 if scheme_end >= 0 else 0
    index = source.find("//", offset, stop)
    if index < 0:
        return source, ""
    subdir = source[index + 2:]
    source = source[:index]
    query_at = subdir.find("?")
    if query_at >= 0:
        source += subdir[query_at:]
        subdir = subdir[:query_at]
    return source, subdir


def parse_source(source: str, pwd: str) -> Source:
    """The :class:`Source` a (fully interpolated) source string names; ``pwd`` is
    where relative paths start (the task directory)."""
    if not source:
        raise ArtifactError("source must be specified")
    forced, url = _detect(source, pwd)
    url, subdir = split_subdir(url)
    if subdir:
        subdir = posixpath.normpath(subdir)
        if ".." in subdir.split("/"):
            raise ArtifactError(
                "subdirectory component contain path traversal out of the repository")
        subdir = subdir.lstrip("/")
    try:
        parts = urlsplit(url)
    except ValueError as err:
        raise ArtifactError(f"failed to parse source URL {source!r}: {err}") from None
    kind = forced or parts.scheme
    try:
        getter = GetterKind(kind)
    except ValueError:
        raise ArtifactError(f"download not supported for scheme {kind!r} (nomadjail fetches "
                            "http, https, file and git sources)") from None
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    archive = query.pop("archive", "")
    if archive.lower() in ("false", "0", "f"):
        archive = "-"
    checksum = query.pop("checksum", "")
    filename = query.pop("filename", "")
    if filename and ".." in re.split(r"[/\\]", filename):
        raise ArtifactError("filename query parameter contain path traversal")
    rest = urlunsplit(parts._replace(query=urlencode(sorted(query.items()), quote_via=quote)))
    if getter == GetterKind.GIT:
        rest = urlunsplit(parts._replace(query=""))
    return Source(getter=getter, url=rest, path=parts.path, subdir=subdir, archive=archive,
                  checksum=checksum, filename=filename, query=query)
