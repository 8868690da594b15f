"""What an answer's ``X-Nomad-*`` headers say: :class:`QueryMeta` and :class:`WriteMeta`.

Nomad puts the consistency of every answer in headers rather than the body:
the raft index it reflects (the key to the next blocking query), whether the
answering server knows a leader, how stale a ``?stale`` read may be, and the
page token of a paged list.  Header names are matched without regard to case
(HTTP says they are case-insensitive, and proxies do change them); a value that
is missing or not a number reads as 0, as in the Go client.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["QueryMeta", "WriteMeta", "header", "query_meta", "write_meta"]


@dataclass(frozen=True, slots=True)
class QueryMeta:
    """What a read's headers say about the answer.

    ``last_index`` is the index to pass back as ``index=`` to block for the
    next change; ``last_contact`` is how long ago (ns) the answering server
    last heard from the leader.
    """

    last_index: int = 0
    known_leader: bool = False
    last_contact: int = 0  # ns
    next_token: str = ""


@dataclass(frozen=True, slots=True)
class WriteMeta:
    """What a write's headers say: the raft index the write was committed at."""

    last_index: int = 0


def header(headers: Mapping[str, str], name: str) -> str:
    """The value of header ``name`` in any letter case; "" if it is absent."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return ""


def _as_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def query_meta(headers: Mapping[str, str]) -> QueryMeta:
    """A read's QueryMeta; ``X-Nomad-LastContact`` is in ms on the wire, ns here."""
    return QueryMeta(last_index=_as_int(header(headers, "X-Nomad-Index")),
                     known_leader=header(headers, "X-Nomad-KnownLeader") == "true",
                     last_contact=_as_int(header(headers, "X-Nomad-LastContact")) * 1_000_000,
                     next_token=header(headers, "X-Nomad-NextToken"))


def write_meta(headers: Mapping[str, str]) -> WriteMeta:
    """A write's WriteMeta (the ``X-Nomad-Index`` of the commit)."""
    return WriteMeta(last_index=_as_int(header(headers, "X-Nomad-Index")))
