"""HCL's value types and the conversions between them, with cty's rules.

Values are plain Python: ``str``, ``int``/``float`` (HCL has one number type;
whole numbers are kept as ``int``), ``bool``, ``list``, ``dict`` and ``None``
for null.  :func:`convert` applies the same safe and unsafe conversions as
go-cty (``"8080"`` -> 8080, ``80`` -> ``"80"``, ``"true"`` -> True, a list of
numbers -> a list of strings ...) and raises :class:`ConversionError` with a
sentence in the form the whole package uses::

    expected a number, got string "abc"
    element 1: expected a string, got a list

Type constraints (``string``, ``list(number)``, ``map(string)``,
``object({name = string})`` ...) are :class:`TypeSpec` values; variable
declarations spell them in HCL and :func:`parse_type` reads that spelling.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from lark import Tree

from .errors import JobspecError, quote
from .syntax import Expression, subtrees, unwrap

# Numbers beyond this are almost certainly mistakes, and Python would spend
# unbounded time and memory on them (10**10**9); HCL files never need them.
MAX_MAGNITUDE = 10 ** 300


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """A type constraint: a primitive kind or a collection of other types."""

    kind: str  # string, number, bool, any, list, set, map, tuple, object
    element: TypeSpec | None = None
    elements: tuple[TypeSpec, ...] = ()
    attributes: tuple[tuple[str, TypeSpec], ...] = ()
    optional: frozenset[str] = frozenset()

    def __str__(self) -> str:
        if self.kind in ("list", "set", "map"):
            return f"{self.kind}({self.element})"
        if self.kind == "tuple":
            return "tuple([" + ", ".join(str(e) for e in self.elements) + "])"
        if self.kind == "object":
            inner = ", ".join(f"{name} = optional({spec})" if name in self.optional
                              else f"{name} = {spec}" for name, spec in self.attributes)
            return "object({" + inner + "})"
        return self.kind

    @property
    def is_primitive(self) -> bool:
        return self.kind in ("string", "number", "bool")


STRING = TypeSpec("string")
NUMBER = TypeSpec("number")
BOOL = TypeSpec("bool")
ANY = TypeSpec("any")


def list_of(element: TypeSpec) -> TypeSpec:
    return TypeSpec("list", element)


def map_of(element: TypeSpec) -> TypeSpec:
    return TypeSpec("map", element)


class ConversionError(ValueError):
    """A value does not fit a type; the message says what was expected and what came."""


# -- numbers -----------------------------------------------------------------------------
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def number_from_text(text: str) -> int | float:
    """A number from its decimal spelling; raises ConversionError if it is not one."""
    if not _NUMBER_TEXT.fullmatch(text) or len(text) > 400:
        raise ConversionError(f"expected a number, got string {quote(text)}")
    try:
        decimal = Decimal(text)
    except InvalidOperation:
        raise ConversionError(f"expected a number, got string {quote(text)}") from None
    return number_from_decimal(decimal)


def number_from_decimal(decimal: Decimal) -> int | float:
    if not decimal.is_finite() or (decimal and decimal.adjusted() > 300):
        raise ConversionError("number is out of range (larger than 1e300)")
    if decimal == decimal.to_integral_value():
        return int(decimal)
    return float(decimal)


def normalize_number(value: int | float) -> int | float:
    """Whole floats become ints; infinities and huge values are errors."""
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value) or abs(value) > 1e300:
            raise ConversionError("number is out of range")
        if value.is_integer():
            return int(value)
        return value
    if abs(value) > MAX_MAGNITUDE:
        raise ConversionError("number is out of range (larger than 1e300)")
    return value


def format_number(value: int | float) -> str:
    """A number the way HCL prints it: ``80``, ``1.5``, never ``1e-07``."""
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        text = repr(value)
        if "e" in text or "E" in text:
            text = format(Decimal(text), "f")
        return text
    return str(value)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# -- describing values -------------------------------------------------------------------
def describe(value: Any) -> str:
    """A short phrase naming a value's type and, for primitives, the value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"bool {'true' if value else 'false'}"
    if is_number(value):
        return f"number {format_number(value)}"
    if isinstance(value, str):
        return f"string {quote(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def expected(spec: TypeSpec) -> str:
    return {
        "string": "a string", "number": "a number", "bool": "a bool (true or false)",
        "list": "a list", "set": "a list", "tuple": "a list", "map": "a map",
        "object": "an object", "any": "a value",
    }[spec.kind]


# -- conversion --------------------------------------------------------------------------
def convert(value: Any, spec: TypeSpec) -> Any:
    """``value`` converted to ``spec`` by cty's rules; null stays null."""
    if value is None or spec.kind == "any":
        return value
    kind = spec.kind
    if kind == "string":
        return to_string(value)
    if kind == "number":
        return to_number(value)
    if kind == "bool":
        return to_bool(value)
    if kind in ("list", "set", "tuple"):
        if not isinstance(value, list):
            raise ConversionError(f"expected {expected(spec)}, got {describe(value)}")
        if kind == "tuple":
            if len(value) != len(spec.elements):
                raise ConversionError(f"expected a list of {len(spec.elements)} elements, got "
                                      f"{len(value)}")
            specs = list(spec.elements)
        else:
            assert spec.element is not None
            specs = [spec.element] * len(value)
        items = []
        for index, (item, item_spec) in enumerate(zip(value, specs, strict=True)):
            try:
                items.append(convert(item, item_spec))
            except ConversionError as err:
                raise ConversionError(f"element {index}: {err}") from None
        if kind == "set":
            return distinct(items)
        return items
    if kind == "map":
        if not isinstance(value, Mapping):
            raise ConversionError(f"expected {expected(spec)}, got {describe(value)}")
        assert spec.element is not None
        result = {}
        for key, item in value.items():
            try:
                result[str(key)] = convert(item, spec.element)
            except ConversionError as err:
                raise ConversionError(f"key {quote(str(key))}: {err}") from None
        return result
    if kind == "object":
        if not isinstance(value, Mapping):
            raise ConversionError(f"expected {expected(spec)}, got {describe(value)}")
        result = {}
        for name, attr_spec in spec.attributes:
            if name not in value:
                if name in spec.optional:
                    result[name] = None
                    continue
                raise ConversionError(f"attribute {quote(name)} is required")
            try:
                result[name] = convert(value[name], attr_spec)
            except ConversionError as err:
                raise ConversionError(f"attribute {quote(name)}: {err}") from None
        return result
    raise ConversionError(f"unknown type {spec}")  # pragma: no cover - specs come from parse_type


def to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return format_number(value)
    raise ConversionError(f"expected a string, got {describe(value)}")


def to_number(value: Any) -> int | float:
    if is_number(value):
        return value
    if isinstance(value, str):
        return number_from_text(value)
    raise ConversionError(f"expected a number, got {describe(value)}")


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value in ("true", "1"):
            return True
        if value in ("false", "0"):
            return False
        if value.lower() in ("true", "false"):
            raise ConversionError(f"expected a bool, got {describe(value)}; write "
                                  f"{value.lower()} in lower case")
    raise ConversionError(f"expected a bool (true or false), got {describe(value)}")


def equal(left: Any, right: Any) -> bool:
    """HCL's ``==``: equal type and equal value (``1 == "1"`` and ``true == 1`` are false)."""
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if is_number(left) or is_number(right):
        return is_number(left) and is_number(right) and left == right
    if isinstance(left, str) or isinstance(right, str):
        return isinstance(left, str) and isinstance(right, str) and left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(
            equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return (set(left) == set(right)) and all(equal(left[k], right[k]) for k in left)
    return False


def distinct(items: list[Any]) -> list[Any]:
    result: list[Any] = []
    for item in items:
        if not any(equal(item, seen) for seen in result):
            result.append(item)
    return result


def type_of(value: Any) -> TypeSpec | None:
    """The type a variable takes from its default when it declares none."""
    if value is None:
        return None
    if isinstance(value, bool):
        return BOOL
    if is_number(value):
        return NUMBER
    if isinstance(value, str):
        return STRING
    if isinstance(value, list):
        return list_of(ANY)
    return map_of(ANY)


# -- type expressions --------------------------------------------------------------------
_PRIMITIVES = {"string": STRING, "number": NUMBER, "bool": BOOL, "any": ANY}
_CONSTRUCTORS = ("list", "set", "map", "tuple", "object")


def parse_type(expr: Expression) -> TypeSpec:
    """The type constraint an expression such as ``list(string)`` spells."""
    return _type(expr, expr.node, allow_optional=False)


def _type(expr: Expression, node: Tree, allow_optional: bool) -> TypeSpec:
    node = unwrap(node)
    pos = expr.position_of(node)
    if node.data == "identifier":
        name = str(node.children[0])
        if name in _PRIMITIVES:
            return _PRIMITIVES[name]
        if name in _CONSTRUCTORS:
            example = {"tuple": "tuple([string, number])",
                       "object": "object({name = string})"}.get(name, f"{name}(string)")
            raise JobspecError(f"type {quote(name)} needs its element types, as in {example}",
                               pos)
        raise JobspecError(_unknown_type(name), pos)
    if node.data == "function_call":
        name_node = subtrees(node)[0]
        name = str(name_node.children[0])
        arguments = next((t for t in subtrees(node) if t.data == "arguments"), None)
        args = subtrees(arguments) if arguments is not None else []
        if name == "optional" and not allow_optional:
            raise JobspecError("optional(...) is only allowed for an attribute inside "
                               "object({...})", pos)
        if name not in _CONSTRUCTORS and name != "optional":
            raise JobspecError(_unknown_type(name), pos)
        if len(args) != 1:
            raise JobspecError(f"{name}(...) takes exactly one argument, got {len(args)}", pos)
        arg = unwrap(args[0])
        if name in ("list", "set", "map", "optional"):
            return TypeSpec(name, _type(expr, args[0], False)) if name != "optional" else \
                _type(expr, args[0], False)
        if name == "tuple":
            if arg.data != "tuple":
                raise JobspecError("tuple(...) takes a list of types, as in "
                                   "tuple([string, number])", expr.position_of(arg))
            return TypeSpec("tuple", elements=tuple(_type(expr, item, False)
                                                    for item in subtrees(arg)))
        if arg.data != "object":
            raise JobspecError("object(...) takes an object of attribute types, as in "
                               "object({name = string})", expr.position_of(arg))
        attributes = []
        optional = set()
        for element in subtrees(arg):
            key_node, value_node = subtrees(element)[0], subtrees(element)[-1]
            key = unwrap(subtrees(key_node)[0]) if subtrees(key_node) else key_node
            if key.data == "identifier" or key.data == "keyword":
                attr_name = str(key.children[0])
            else:
                raise JobspecError("object type attribute names must be bare names",
                                   expr.position_of(key))
            value_inner = unwrap(value_node)
            if value_inner.data == "function_call" and \
                    str(subtrees(value_inner)[0].children[0]) == "optional":
                optional.add(attr_name)
            attributes.append((attr_name, _type(expr, value_node, allow_optional=True)))
        return TypeSpec("object", attributes=tuple(attributes), optional=frozenset(optional))
    if node.data == "string":
        raise JobspecError("a type is written without quotes, as in type = string", pos)
    raise JobspecError("expected a type such as string, number, bool, list(string) or "
                       "map(string)", pos)


def _unknown_type(name: str) -> str:
    message = f"unknown type {quote(name)}"
    close = difflib.get_close_matches(name, [*_PRIMITIVES, *_CONSTRUCTORS], n=1)
    if close:
        message += f"; did you mean {quote(close[0])}?"
    else:
        message += "; expected string, number, bool, any, list(...), set(...), map(...), " \
                   "tuple([...]) or object({...})"
    return message


def plain(value: Any) -> Any:
    """``value`` with every mapping turned into a dict (lazy scopes are mappings)."""
    if isinstance(value, Mapping) and not isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


__all__ = ["ANY", "BOOL", "NUMBER", "STRING", "ConversionError", "TypeSpec", "convert", "describe",
           "distinct", "equal", "expected", "format_number", "is_number", "list_of", "map_of",
           "normalize_number", "number_from_decimal", "number_from_text", "parse_type", "plain",
           "to_bool", "to_number", "to_string", "type_of"]
