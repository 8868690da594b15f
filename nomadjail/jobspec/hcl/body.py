"""Evaluated HCL: bodies of attributes and blocks whose values are Python values.

:func:`parse_body` is the entry point for any HCL file (agent configs use it
directly)::

    body = parse_body('server { enabled = true }\\nports { http = 4646 }', "agent.hcl")
    body.blocks[0].type, body.blocks[0].body.attributes["enabled"].value  # "server", True

An :class:`Attribute`'s value is computed on first access and then kept, so a
decoder that rejects an unknown block reports that before any error hiding in
the block's expressions; :func:`parse_body` touches every value before
returning, so its callers see every error up front.

``dynamic "x" { for_each = ... content { ... } }`` blocks are expanded here
(HCL's dynblock extension, which Nomad enables for job files): each element of
``for_each`` yields one ``x`` block whose content sees ``x.key``/``x.value``
(or the name given by ``iterator``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .conversion import ConversionError, describe, to_string
from .errors import JobspecError, Position, quote
from .evaluate import EvalContext, evaluate
from .syntax import Expression, SyntaxBlock, SyntaxBody, parse_syntax, unwrap

_UNSET: Any = object()


class Attribute:
    """``name = value``: ``pos`` is where the name is, ``value_pos`` where the value starts.

    ``is_object_literal`` says the value was written as ``{ ... }`` (Nomad's task
    ``config`` treats such values specially).
    """

    __slots__ = ("name", "pos", "value_pos", "is_object_literal", "_value", "_expression",
                 "_context")

    def __init__(self, name: str, value: Any = _UNSET, pos: Position | None = None, *,
                 value_pos: Position | None = None, is_object_literal: bool = False,
                 expression: Expression | None = None, context: EvalContext | None = None):
        self.name = name
        self.pos = pos or Position("", 1, 1)
        self.value_pos = value_pos or self.pos
        self.is_object_literal = is_object_literal
        self._value = value
        self._expression = expression
        self._context = context

    @property
    def value(self) -> Any:
        if self._value is _UNSET:
            if self._expression is None:
                self._value = None
            else:
                self._value = evaluate(self._expression, self._context)
        return self._value

    @property
    def expression(self) -> Expression | None:
        return self._expression

    def __repr__(self) -> str:
        shown = "<not evaluated>" if self._value is _UNSET else repr(self._value)
        return f"Attribute({self.name!r}, {shown}, {self.pos})"


@dataclass(slots=True)
class Block:
    """``type "label" ... { body }``; ``pos`` is where the type name is."""

    type: str
    labels: list[str]
    body: Body
    pos: Position
    label_positions: list[Position] = field(default_factory=list)


@dataclass(slots=True)
class Body:
    attributes: dict[str, Attribute] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)
    pos: Position = Position("", 1, 1)

    def blocks_of(self, block_type: str) -> list[Block]:
        return [b for b in self.blocks if b.type == block_type]

    def evaluate_all(self) -> None:
        """Compute every attribute value in this body and the blocks inside it."""
        for attribute in self.attributes.values():
            attribute.value  # noqa: B018 - evaluating is the point
        for block in self.blocks:
            block.body.evaluate_all()


def parse_body(text: str, filename: str, *, context: EvalContext | None = None) -> Body:
    """Parse and evaluate HCL ``text``; every error is a located :class:`JobspecError`.

    Without a ``context`` expressions may use functions but no variables.
    """
    body = bind(parse_syntax(text, filename), context or EvalContext())
    body.evaluate_all()
    return body


def bind(syntax: SyntaxBody, context: EvalContext) -> Body:
    """A body whose attributes evaluate in ``context`` (dynamic blocks expanded)."""
    body = Body(pos=syntax.pos)
    for name, attribute in syntax.attributes.items():
        body.attributes[name] = Attribute(
            name, pos=attribute.pos, value_pos=attribute.expression.pos,
            is_object_literal=unwrap(attribute.expression.node).data == "object",
            expression=attribute.expression, context=context)
    for block in syntax.blocks:
        if block.type == "dynamic":
            body.blocks.extend(_expand_dynamic(block, context))
        else:
            body.blocks.append(Block(block.type, list(block.labels), bind(block.body, context),
                                     block.pos, list(block.label_positions)))
    return body


_DYNAMIC_ATTRIBUTES = ("for_each", "iterator", "labels")


def _expand_dynamic(block: SyntaxBlock, context: EvalContext) -> list[Block]:
    if len(block.labels) != 1:
        raise JobspecError('a dynamic block needs one label, the type of block it generates, as '
                           'in dynamic "port" { ... }', block.pos)
    block_type = block.labels[0]
    attributes = block.body.attributes
    for name, attribute in attributes.items():
        if name not in _DYNAMIC_ATTRIBUTES:
            message = f"unknown attribute {quote(name)} in dynamic {quote(block_type)}"
            close = difflib.get_close_matches(name, _DYNAMIC_ATTRIBUTES, n=1)
            hint = f"; did you mean {quote(close[0])}?" if close else \
                "; put the generated block's attributes inside content { ... }"
            raise JobspecError(message + hint, attribute.pos)
    contents = [b for b in block.body.blocks if b.type == "content"]
    for other in block.body.blocks:
        if other.type != "content":
            raise JobspecError(f"unexpected block {quote(other.type)} in dynamic "
                               f"{quote(block_type)}; only content {{ ... }} is allowed",
                               other.pos)
    if len(contents) != 1:
        raise JobspecError(f"dynamic {quote(block_type)} needs exactly one content {{ ... }} "
                           f"block, got {len(contents)}",
                           contents[1].pos if len(contents) > 1 else block.pos)
    if "for_each" not in attributes:
        raise JobspecError(f"dynamic {quote(block_type)} needs a for_each attribute", block.pos)
    iterator = block_type
    if "iterator" in attributes:
        expression = attributes["iterator"].expression
        node = unwrap(expression.node)
        if node.data != "identifier":
            raise JobspecError("iterator must be a bare name, as in iterator = item",
                               expression.pos)
        iterator = str(node.children[0])
    for_each_expression = attributes["for_each"].expression
    collection = evaluate(for_each_expression, context)
    if isinstance(collection, list):
        items = list(enumerate(collection))
    elif isinstance(collection, Mapping):
        items = [(key, collection[key]) for key in sorted(collection)]
    else:
        raise JobspecError(f"for_each must be a list or a map, got {describe(collection)}",
                           for_each_expression.pos)
    generated = []
    for key, value in items:
        child = context.with_variables({iterator: {"key": key, "value": value}})
        labels: list[str] = []
        label_pos = block.pos
        if "labels" in attributes:
            labels_expression = attributes["labels"].expression
            label_pos = labels_expression.pos
            raw = evaluate(labels_expression, child)
            if not isinstance(raw, list):
                raise JobspecError(f"labels must be a list of strings, got {describe(raw)}",
                                   label_pos)
            try:
                labels = [to_string(label) for label in raw]
            except ConversionError as err:
                raise JobspecError(f"labels: {err}", label_pos) from None
        content = contents[0]
        generated.append(Block(block_type, labels, bind(content.body, child), block.pos,
                               [label_pos] * len(labels)))
    return generated
