"""Nomad's JSON shape for the dataclasses in :mod:`nomadjail.structs`.

Every struct is a plain dataclass whose snake_case attributes map to the
PascalCase keys Nomad's HTTP API uses (``memory_mb`` -> ``MemoryMB``,
``node_id`` -> ``NodeID``).  The mapping is derived from the attribute name
with a short acronym table; the few names Nomad spells differently declare
their key with ``field(..., key="Cpu")``.

Decoding is forgiving in the ways Nomad is: unknown keys are ignored,
explicit ``null`` means "not set" (the field keeps its default) and numbers
may arrive as integral floats.  It is strict about types: a string where a
number belongs raises :class:`DecodeError` naming the full path of the value
(``Job.TaskGroups[0].Count``), so a bad request changes nothing.

Status fields are typed with the ``StrEnum`` of :mod:`.consts` for them
(``client_status: AllocClientStatus``) and decode to its members; a string
that is not one of them is a :class:`DecodeError` listing the values allowed.
Where Go's zero value ``""`` means "not set yet" (a job's status before the
server derives it), the field says so in its type (``JobStatus | Literal[""]``)
and ``""`` decodes as itself.  Members encode back to the plain strings, so the
JSON is byte for byte what came in.

Durations stay integers in nanoseconds, exactly as on the wire, and
timestamps stay whatever Nomad sends (ns integers or RFC 3339 strings), so
no conversion happens between the API, the raft log and the state store.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Literal, TypeVar

from .errors import BadRequest

T = TypeVar("T")

# Words Nomad writes in capitals inside PascalCase names.
_ACRONYMS = {
    "id": "ID",
    "ids": "IDs",
    "mb": "MB",
    "ip": "IP",
    "http": "HTTP",
    "tls": "TLS",
    "dns": "DNS",
    "cidr": "CIDR",
    "ttl": "TTL",
    "acl": "ACL",
    "ui": "UI",
}


def api_key(name: str) -> str:
    """The PascalCase key Nomad uses for a snake_case attribute name."""
    return "".join(_ACRONYMS.get(part, part[:1].upper() + part[1:]) for part in name.split("_"))


def field(default: Any = dataclasses.MISSING, *, key: str | None = None,
          default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field with an explicit Nomad JSON key.

    Use it only where :func:`api_key` would guess wrong (``Cpu`` rather than
    ``CPU``, ``MBits`` rather than ``Mbits``).
    """
    metadata = {"key": key} if key else {}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


class DecodeError(BadRequest):
    """A JSON value does not fit the struct it is decoded into.

    ``path`` says where (``Job.TaskGroups[1].Tasks[0].Resources.CPU``).
    """

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


Decoder = Callable[[Any, str], Any]
Encoder = Callable[[Any], Any]


class _Plan(typing.NamedTuple):
    """What to do for every field of one dataclass, worked out once per class."""

    fields: tuple[tuple[str, str, Decoder, Encoder], ...]  # attr, key, decode, encode
    by_key: dict[str, tuple[str, Decoder]]
    by_key_folded: dict[str, tuple[str, Decoder]]


_PLANS: dict[type, _Plan] = {}


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _decode_int(value: Any, path: str) -> int:
    if isinstance(value, bool):
        raise DecodeError(path, f"expected a number, got {_describe(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise DecodeError(path, f"expected an integer, got {_describe(value)}")


def _decode_float(value: Any, path: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise DecodeError(path, f"expected a number, got {_describe(value)}")


def _decode_str(value: Any, path: str) -> str:
    if isinstance(value, str):
        return value
    raise DecodeError(path, f"expected a string, got {_describe(value)}")


def _decode_bool(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    raise DecodeError(path, f"expected true or false, got {_describe(value)}")


def _decode_any(value: Any, path: str) -> Any:
    return value


def _identity(value: Any) -> Any:
    return value


def _coders(hint: Any) -> tuple[Decoder, Encoder]:
    """Decoder and encoder for one type hint."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        choices = _choices(inner)
        if choices is not None:
            decode_inner, encode_inner = _choice_coders(choices)
        elif len(inner) == 1:
            decode_inner, encode_inner = _coders(inner[0])
        else:
            raise TypeError(f"unsupported union {hint}")
        if len(inner) == len(args):  # no None: nothing to wrap
            return decode_inner, encode_inner

        def decode_optional(value: Any, path: str) -> Any:
            return None if value is None else decode_inner(value, path)

        def encode_optional(value: Any) -> Any:
            return None if value is None else encode_inner(value)

        return decode_optional, encode_optional
    if origin is list:
        decode_item, encode_item = _coders(args[0])

        def decode_list(value: Any, path: str) -> list:
            if not isinstance(value, list):
                raise DecodeError(path, f"expected a list, got {_describe(value)}")
            return [decode_item(item, f"{path}[{i}]") for i, item in enumerate(value)]

        if encode_item is _identity:
            return decode_list, list
        return decode_list, lambda value: [encode_item(item) for item in value]
    if origin is dict:
        decode_value, encode_value = _coders(args[1])

        def decode_dict(value: Any, path: str) -> dict:
            if not isinstance(value, dict):
                raise DecodeError(path, f"expected an object, got {_describe(value)}")
            return {str(k): decode_value(v, f"{path}[{k!r}]") for k, v in value.items()}

        if encode_value is _identity:
            return decode_dict, dict
        return decode_dict, lambda value: {k: encode_value(v) for k, v in value.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return (lambda value, path: from_api(hint, value, path)), to_api
    if hint is bool:
        return _decode_bool, _identity
    if hint is int:
        return _decode_int, _identity
    if hint is float:
        return _decode_float, _identity
    if hint is str:
        return _decode_str, _identity
    choices = _choices([hint])
    if choices is not None:  # a StrEnum status, or a Literal of strings
        return _choice_coders(choices)
    if hint is Any or hint is object:
        return _decode_any, _identity
    raise TypeError(f"unsupported type {hint!r}")


def _choices(options: list[Any]) -> dict[str, str] | None:
    """Wire string -> decoded value, when every option is a StrEnum or a Literal of strings
    (``JobStatus | Literal[""]``); None for any other type."""
    allowed: dict[str, str] = {}
    for option in options:
        if isinstance(option, type) and issubclass(option, StrEnum):
            allowed.update((member.value, member) for member in option)
        elif typing.get_origin(option) is Literal and all(
                isinstance(value, str) for value in typing.get_args(option)):
            allowed.update((value, value) for value in typing.get_args(option))
        else:
            return None
    return allowed


def _choice_coders(allowed: dict[str, str]) -> tuple[Decoder, Encoder]:
    quoted = [json.dumps(value) for value in allowed]
    expected = " or ".join([", ".join(quoted[:-1]), quoted[-1]] if len(quoted) > 1 else quoted)

    def decode_choice(value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise DecodeError(path, f"expected a string, got {_describe(value)}")
        try:
            return allowed[value]
        except KeyError:
            raise DecodeError(path, f"unknown value {_describe(value)}, "
                                    f"expected one of {expected}") from None

    return decode_choice, str


def _plan(cls: type) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is not None:
        return plan
    hints = typing.get_type_hints(cls)
    fields = []
    for f in dataclasses.fields(cls):
        if f.name.startswith("_"):
            continue
        key = f.metadata.get("key") or api_key(f.name)
        decode, encode = _coders(hints[f.name])
        fields.append((f.name, key, decode, encode))
    by_key = {key: (attr, decode) for attr, key, decode, _ in fields}
    plan = _Plan(tuple(fields), by_key, {k.lower(): v for k, v in by_key.items()})
    _PLANS[cls] = plan
    return plan


def from_api(cls: type[T], data: Any, path: str | None = None) -> T:
    """Build ``cls`` from Nomad-shaped JSON data (already ``json.loads``-ed).

    Keys match case-insensitively as a fallback, as Go's encoding/json does.
    """
    path = path if path is not None else cls.__name__
    if not isinstance(data, dict):
        raise DecodeError(path, f"expected an object, got {_describe(data)}")
    plan = _plan(cls)
    kwargs = {}
    for key, value in data.items():
        entry = plan.by_key.get(key) or plan.by_key_folded.get(str(key).lower())
        if entry is None or value is None:
            continue
        attr, decode = entry
        kwargs[attr] = decode(value, f"{path}.{key}")
    return cls(**kwargs)


def to_api(obj: Any) -> Any:
    """Nomad-shaped JSON data (ready for ``json.dumps``) for a struct."""
    if dataclasses.is_dataclass(obj):
        return {key: encode(getattr(obj, attr)) if getattr(obj, attr) is not None else None
                for attr, key, _, encode in _plan(type(obj)).fields}
    if isinstance(obj, list):
        return [to_api(item) for item in obj]
    if isinstance(obj, dict):
        return {k: to_api(v) for k, v in obj.items()}
    return obj
