"""Decode an evaluated :class:`~.body.Body` against the shape a caller expects.

A :class:`Schema` lists the attributes a body may set (each with a converter
such as :func:`as_integer` or :func:`as_duration`), the blocks it may contain
(with their labels and whether they may repeat) and the names Nomad knows but
nomadjail does not support yet.  :func:`decode_body` checks the body against it
-- unknown names with a did-you-mean, an attribute written as a block and vice
versa, wrong label counts, a single block given twice -- and then converts
every attribute, so callers read plain, already-typed values::

    GROUP = Schema(attributes={"count": as_integer}, blocks={"task": BlockSpec(("name",), True)})
    group = decode_body(block.body, GROUP, where='group "web"', pos=block.pos)
    group.get("count"), group.blocks_of("task")

The job decoder and the agent-config decoder share these helpers, so both
speak the same error sentences::

    job.nomad:12:5: unknown block "taks" in group "web"; did you mean "task"?
    job.nomad:7:13: invalid value for "count" in group "web": expected a number, got string "abc"
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ...structs import parse_duration
from .body import Attribute, Block, Body
from .conversion import (
    ANY,
    BOOL,
    NUMBER,
    STRING,
    ConversionError,
    convert,
    describe,
    list_of,
    map_of,
    to_number,
)
from .errors import JobspecError, Position, quote

Converter = Callable[[Any], Any]


# -- converters --------------------------------------------------------------------------
def as_string(value: Any) -> str:
    return convert(value, STRING)


def as_number(value: Any) -> int | float:
    return convert(value, NUMBER)


def as_bool(value: Any) -> bool:
    return convert(value, BOOL)


def as_any(value: Any) -> Any:
    return convert(value, ANY)


def as_integer(value: Any) -> int:
    number = to_number(value)
    if isinstance(number, float):
        raise ConversionError(f"expected a whole number, got {describe(value)}")
    return number


def as_duration(value: Any) -> int:
    """Nanoseconds from a Go duration string (``"30s"``) or a number of nanoseconds."""
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError:
            raise ConversionError(f'expected a duration such as "30s", "5m" or "1h30m", got '
                                  f'{describe(value)}') from None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float):
            raise ConversionError(f"expected a whole number of nanoseconds, got {describe(value)}")
        return value
    raise ConversionError(f'expected a duration such as "30s", got {describe(value)}')


def _no_nulls(items: Any, what: str) -> None:
    for key, item in (items.items() if isinstance(items, Mapping) else enumerate(items)):
        if item is None:
            label = f"key {quote(str(key))}" if isinstance(items, Mapping) else f"element {key}"
            raise ConversionError(f"{label}: expected {what}, got null")


def as_string_list(value: Any) -> list[str]:
    items = convert(value, list_of(STRING))
    _no_nulls(items, "a string")
    return items


def as_string_map(value: Any) -> dict[str, str]:
    items = convert(value, map_of(STRING))
    _no_nulls(items, "a string")
    return items


def as_list(value: Any) -> list[Any]:
    return convert(value, list_of(ANY))


def as_map(value: Any) -> dict[str, Any]:
    return convert(value, map_of(ANY))


# -- schemas -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BlockSpec:
    """A block a body may contain: its label names and whether it may repeat."""

    labels: tuple[str, ...] = ()
    repeated: bool = False


@dataclass(frozen=True, slots=True)
class Schema:
    attributes: Mapping[str, Converter] = field(default_factory=dict)
    blocks: Mapping[str, BlockSpec] = field(default_factory=dict)
    required: frozenset[str] = frozenset()
    unsupported: frozenset[str] = frozenset()  # Nomad has them; nomadjail does not yet


@dataclass(slots=True)
class Decoded:
    """A body checked against a schema: converted attribute values and blocks by type."""

    where: str
    body: Body
    values: dict[str, Any]
    blocks: dict[str, list[Block]]

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def has(self, name: str) -> bool:
        return name in self.values

    def blocks_of(self, block_type: str) -> list[Block]:
        return self.blocks.get(block_type, [])

    def block(self, block_type: str) -> Block | None:
        found = self.blocks.get(block_type)
        return found[0] if found else None

    def attribute(self, name: str) -> Attribute | None:
        return self.body.attributes.get(name)


def decode_body(body: Body, schema: Schema, where: str, pos: Position | None = None) -> Decoded:
    """Check ``body`` against ``schema`` and convert its attributes.

    ``where`` names the body in messages (``group "web"``); ``pos`` is where a
    missing required attribute is reported (the block's position).  An
    attribute set to ``null`` counts as not set.
    """
    check_names(body, schema, where)
    blocks: dict[str, list[Block]] = {}
    for block in body.blocks:
        spec = schema.blocks[block.type]
        check_labels(block, spec)
        previous = blocks.get(block.type)
        if previous and not spec.repeated:
            raise JobspecError(f"only one {block.type} block is allowed in {where}; the first is "
                               f"at line {previous[0].pos.line}", block.pos)
        blocks.setdefault(block.type, []).append(block)
    values: dict[str, Any] = {}
    for name, attribute in body.attributes.items():
        converter = schema.attributes[name]
        value = attribute.value
        if value is None:
            continue
        values[name] = convert_attribute(attribute, converter, where)
    for name in sorted(schema.required):
        if name not in values:
            raise JobspecError(f"{where} needs the attribute {quote(name)}", pos or body.pos)
    return Decoded(where, body, values, blocks)


def convert_attribute(attribute: Attribute, converter: Converter, where: str) -> Any:
    try:
        return converter(attribute.value)
    except ConversionError as err:
        raise JobspecError(f"invalid value for {quote(attribute.name)} in {where}: {err}",
                           attribute.value_pos) from None


def check_names(body: Body, schema: Schema, where: str) -> None:
    """Reject attribute and block names the schema does not know, with a suggestion."""
    for name, attribute in body.attributes.items():
        if name in schema.attributes:
            continue
        if name in schema.unsupported:
            raise JobspecError(f"attribute {quote(name)} is not supported by nomadjail yet",
                               attribute.pos)
        if name in schema.blocks:
            raise JobspecError(f"{quote(name)} in {where} is a block, not an attribute: write "
                               f"{name} {{ ... }}", attribute.pos)
        raise JobspecError(f"unknown attribute {quote(name)} in {where}"
                           f"{_suggestion(name, schema.attributes)}", attribute.pos)
    for block in body.blocks:
        if block.type in schema.blocks:
            continue
        if block.type in schema.unsupported:
            raise JobspecError(f"block {quote(block.type)} is not supported by nomadjail yet",
                               block.pos)
        if block.type in schema.attributes:
            raise JobspecError(f"{quote(block.type)} in {where} is an attribute, not a block: "
                               f"write {block.type} = ...", block.pos)
        raise JobspecError(f"unknown block {quote(block.type)} in {where}"
                           f"{_suggestion(block.type, schema.blocks)}", block.pos)


class LabeledBlock(Protocol):
    """What label checking needs: evaluated :class:`Block` and ``SyntaxBlock`` both fit."""

    type: str
    labels: list[str]
    label_positions: list[Position]
    pos: Position


def check_labels(block: LabeledBlock, spec: BlockSpec) -> None:
    """Raise unless ``block`` has exactly the labels ``spec`` names."""
    wanted = len(spec.labels)
    given = len(block.labels)
    if given == wanted:
        return
    if wanted == 0:
        raise JobspecError(f"block {quote(block.type)} takes no labels, got "
                           f"{quote(block.labels[0])}", block.label_positions[0]
                           if block.label_positions else block.pos)
    example = " ".join([block.type, *(f'"{label}"' for label in spec.labels), "{ ... }"])
    names = ", ".join(spec.labels)
    plural = "" if wanted == 1 else "s"
    if given < wanted:
        raise JobspecError(f"block {quote(block.type)} needs {wanted} label{plural} ({names}), "
                           f"as in {example}", block.pos)
    raise JobspecError(f"block {quote(block.type)} takes {wanted} label{plural} ({names}), got "
                       f"{given}", block.label_positions[wanted] if len(block.label_positions) >
                       wanted else block.pos)


def _suggestion(name: str, candidates: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {quote(close[0])}?" if close else ""


def string_map(decoded: Decoded, name: str) -> dict[str, str] | None:
    """A map given either as ``name = { ... }`` or as a ``name { ... }`` block.

    Both spellings are Nomad's (``meta``, ``env``); giving both is an error.
    Returns None when neither is present.
    """
    block = decoded.block(name)
    attribute = decoded.attribute(name)
    if block is not None and attribute is not None:
        raise JobspecError(f"{name} is given twice in {decoded.where}: as an attribute at line "
                           f"{attribute.pos.line} and as a block", block.pos)
    if attribute is not None:
        return decoded.get(name)
    if block is None:
        return None
    where = f"{name} in {decoded.where}"
    if block.body.blocks:
        inner = block.body.blocks[0]
        raise JobspecError(f"{where} holds only name = value pairs, not blocks", inner.pos)
    return {attr_name: convert_attribute(attribute, as_string_map_value, where)
            for attr_name, attribute in block.body.attributes.items()}


def as_string_map_value(value: Any) -> str:
    if value is None:
        raise ConversionError("expected a string, got null")
    return as_string(value)
