"""The functions HCL expressions may call, with go-cty's semantics.

Each :class:`Function` declares its parameters' types; the evaluator converts
every argument with :func:`~.conversion.convert` before calling the Python
implementation, so implementations only see values of the right shape and
raise :class:`FunctionError` for anything else they reject.  ``try`` and
``can`` are not here: they need their arguments unevaluated, so the evaluator
implements them.

File-system functions (``file``, ``templatefile`` ...) are deliberately absent:
job files may be parsed by a server that must not read its own disk on a
user's behalf (Nomad disables them the same way).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .conversion import (
    ANY,
    BOOL,
    NUMBER,
    STRING,
    ConversionError,
    TypeSpec,
    convert,
    describe,
    distinct,
    equal,
    is_number,
    list_of,
    map_of,
    normalize_number,
    number_from_text,
    to_string,
)
from .printf import FormatError, format_values, go_json


class FunctionError(ValueError):
    """A function rejected its arguments; ``argument`` (0-based) says which, if one."""

    def __init__(self, message: str, argument: int | None = None):
        super().__init__(message)
        self.argument = argument


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: TypeSpec = ANY
    allow_null: bool = False


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    params: tuple[Param, ...]
    impl: Callable[..., Any]
    var_param: Param | None = None
    required: int | None = None  # how many of ``params`` are required; None = all

    def signature(self) -> str:
        names = [p.name for p in self.params]
        if self.required is not None:
            names = names[: self.required] + [f"[{n}]" for n in names[self.required:]]
        if self.var_param is not None:
            names.append(f"{self.var_param.name}...")
        return f"{self.name}({', '.join(names)})"


FUNCTIONS: dict[str, Function] = {}


def _register(name: str, *params: Param, var_param: Param | None = None,
              required: int | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(impl: Callable[..., Any]) -> Callable[..., Any]:
        FUNCTIONS[name] = Function(name, params, impl, var_param, required)
        return impl
    return decorate


LIST = list_of(ANY)
MAP = map_of(ANY)
STRINGS = list_of(STRING)


# -- strings -----------------------------------------------------------------------------
@_register("upper", Param("str", STRING))
def _upper(text: str) -> str:
    return text.upper()


@_register("lower", Param("str", STRING))
def _lower(text: str) -> str:
    return text.lower()


def _is_separator(char: str) -> bool:
    if char <= "\x7f":
        return not (char.isascii() and (char.isalnum() or char == "_"))
    if char.isalpha() or char.isdigit():
        return False
    return char.isspace()


@_register("title", Param("str", STRING))
def _title(text: str) -> str:
    out, previous = [], " "
    for char in text:
        out.append(char.title() if _is_separator(previous) else char)
        previous = char
    return "".join(out)


@_register("trimspace", Param("str", STRING))
def _trimspace(text: str) -> str:
    return text.strip()


@_register("trim", Param("str", STRING), Param("cutset", STRING))
def _trim(text: str, cutset: str) -> str:
    return text.strip(cutset) if cutset else text


@_register("trimprefix", Param("str", STRING), Param("prefix", STRING))
def _trimprefix(text: str, prefix: str) -> str:
    return text.removeprefix(prefix)


@_register("trimsuffix", Param("str", STRING), Param("suffix", STRING))
def _trimsuffix(text: str, suffix: str) -> str:
    return text.removesuffix(suffix)


@_register("chomp", Param("str", STRING))
def _chomp(text: str) -> str:
    return re.sub(r"(?:\r\n?|\n)*\Z", "", text)


@_register("indent", Param("spaces", NUMBER), Param("str", STRING))
def _indent(spaces: int | float, text: str) -> str:
    return text.replace("\n", "\n" + " " * _whole(spaces, 0))


@_register("strlen", Param("str", STRING))
def _strlen(text: str) -> int:
    return len(text)


@_register("strrev", Param("str", STRING))
def _strrev(text: str) -> str:
    return text[::-1]


@_register("substr", Param("str", STRING), Param("offset", NUMBER), Param("length", NUMBER))
def _substr(text: str, offset: int | float, length: int | float) -> str:
    start, count = _whole(offset, 1), _whole(length, 2)
    if start < 0:
        start = max(0, len(text) + start)
    elif count == 0:
        return ""
    if start >= len(text):
        return ""
    return text[start:] if count < 0 else text[start:start + count]


@_register("split", Param("separator", STRING), Param("str", STRING))
def _split(separator: str, text: str) -> list[str]:
    return list(text) if separator == "" else text.split(separator)


@_register("join", Param("separator", STRING), var_param=Param("lists", STRINGS))
def _join(separator: str, *lists: list[str]) -> str:
    if not lists:
        raise FunctionError("at least one list is required")
    items = [item for items in lists for item in items]
    if any(item is None for item in items):
        raise FunctionError("cannot join a list that contains null values")
    return separator.join(items)


@_register("replace", Param("str", STRING), Param("substr", STRING), Param("replace", STRING))
def _replace(text: str, old: str, new: str) -> str:
    return text.replace(old, new)


def _go_replacement(template: str) -> str:
    """Go's regexp replacement syntax ($1, ${name}, $$) in Python's (\\g<1>)."""
    out = []
    i = 0
    while i < len(template):
        char = template[i]
        if char == "\\":
            out.append("\\\\")
        elif char == "$" and template.startswith("$$", i):
            out.append("$")
            i += 1
        elif char == "$":
            match = re.match(r"\$(?:\{(\w+)\}|(\w+))", template[i:])
            if match is None:
                out.append("$")
            else:
                out.append(f"\\g<{match.group(1) or match.group(2)}>")
                i += match.end() - 1
        else:
            out.append(char)
        i += 1
    return "".join(out)


@_register("regex_replace", Param("str", STRING), Param("pattern", STRING),
           Param("replace", STRING))
def _regex_replace(text: str, pattern: str, replacement: str) -> str:
    try:
        return re.sub(pattern, _go_replacement(replacement), text)
    except (re.error, IndexError) as err:
        raise FunctionError(f"invalid regular expression or replacement: {err}") from None


@_register("format", Param("format", STRING), var_param=Param("args", ANY, allow_null=True))
def _format(template: str, *args: Any) -> str:
    try:
        return format_values(template, list(args))
    except FormatError as err:
        raise FunctionError(str(err)) from None


@_register("formatlist", Param("format", STRING), var_param=Param("args", ANY, allow_null=True))
def _formatlist(template: str, *args: Any) -> list[str]:
    length = None
    for index, arg in enumerate(args):
        if isinstance(arg, list):
            if length is not None and len(arg) != length:
                raise FunctionError(f"argument {index + 2} has length {len(arg)}, which is "
                                    f"inconsistent with an earlier argument of length {length}")
            length = len(arg)
    rows = []
    for row in range(1 if length is None else length):
        values = [arg[row] if isinstance(arg, list) else arg for arg in args]
        try:
            rows.append(format_values(template, values))
        except FormatError as err:
            raise FunctionError(f"error on format iteration {row}: {err}") from None
    return rows


# -- collections -------------------------------------------------------------------------
@_register("length", Param("value", ANY))
def _length(value: Any) -> int:
    if isinstance(value, (str, list)) or isinstance(value, Mapping):
        return len(value)
    raise FunctionError(f"expected a string, list or map, got {describe(value)}", 0)


@_register("concat", var_param=Param("lists", LIST))
def _concat(*lists: list[Any]) -> list[Any]:
    if not lists:
        raise FunctionError("at least one list is required")
    return [item for items in lists for item in items]


@_register("contains", Param("list", LIST), Param("value", ANY, allow_null=True))
def _contains(items: list[Any], value: Any) -> bool:
    return any(equal(item, value) for item in items)


@_register("distinct", Param("list", LIST))
def _distinct(items: list[Any]) -> list[Any]:
    return distinct(items)


@_register("element", Param("list", LIST), Param("index", NUMBER))
def _element(items: list[Any], index: int | float) -> Any:
    position = _whole(index, 1)
    if not items:
        raise FunctionError("cannot use element function with an empty list")
    return items[position % len(items)]


@_register("flatten", Param("list", LIST))
def _flatten(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if isinstance(item, list):
            out.extend(_flatten(item))
        else:
            out.append(item)
    return out


@_register("index", Param("list", LIST), Param("value", ANY))
def _index(items: list[Any], value: Any) -> int:
    for position, item in enumerate(items):
        if equal(item, value):
            return position
    raise FunctionError("item not found")


def _sorted_keys(value: Mapping[str, Any]) -> list[str]:
    return sorted(value)


@_register("keys", Param("map", MAP))
def _keys(value: dict[str, Any]) -> list[str]:
    return _sorted_keys(value)


@_register("values", Param("map", MAP))
def _values(value: dict[str, Any]) -> list[Any]:
    return [value[key] for key in _sorted_keys(value)]


_NO_DEFAULT = object()


@_register("lookup", Param("map", MAP), Param("key", STRING),
           Param("default", ANY, allow_null=True), required=2)
def _lookup(value: dict[str, Any], key: str, default: Any = _NO_DEFAULT) -> Any:
    if key in value:
        return value[key]
    if default is _NO_DEFAULT:
        raise FunctionError(f"the map has no key {json.dumps(key)} and no default was given")
    return default


@_register("merge", var_param=Param("maps", MAP, allow_null=True))
def _merge(*maps: dict[str, Any] | None) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for value in maps:
        if value is not None:
            merged.update(value)
    return merged


@_register("range", var_param=Param("params", NUMBER))
def _range(*params: int | float) -> list[int | float]:
    start: int | float
    end: int | float
    step: int | float
    if len(params) == 1:
        start, end, step = 0, params[0], (-1 if params[0] < 0 else 1)
    elif len(params) == 2:
        start, end = params
        step = -1 if end < start else 1
    elif len(params) == 3:
        start, end, step = params
    else:
        raise FunctionError("must have one, two, or three arguments")
    if step == 0:
        raise FunctionError("step must not be zero", 2)
    if step < 0 and end > start:
        raise FunctionError("end must be less than start when step is negative", 1)
    if step > 0 and end < start:
        raise FunctionError("end must be greater than start when step is positive", 1)
    values: list[int | float] = []
    number = start
    while (number > end) if step < 0 else (number < end):
        if len(values) >= 1024:
            raise FunctionError("more than 1024 values were generated; either decrease the "
                                "difference between start and end or use a smaller step")
        values.append(normalize_number(number))
        number = number + step
    return values


@_register("reverse", Param("list", LIST))
def _reverse(items: list[Any]) -> list[Any]:
    return items[::-1]


@_register("slice", Param("list", LIST), Param("start_index", NUMBER), Param("end_index", NUMBER))
def _slice(items: list[Any], start: int | float, end: int | float) -> list[Any]:
    first, last = _whole(start, 1), _whole(end, 2)
    if first < 0:
        raise FunctionError("start index must not be negative", 1)
    if last > len(items):
        raise FunctionError("end index must not be greater than the length of the list", 2)
    if first > last:
        raise FunctionError("start index must not be greater than end index", 1)
    return items[first:last]


@_register("sort", Param("list", STRINGS))
def _sort(items: list[str]) -> list[str]:
    if any(item is None for item in items):
        raise FunctionError("given list element must not be null")
    return sorted(items)


@_register("compact", Param("list", STRINGS))
def _compact(items: list[str | None]) -> list[str]:
    return [item for item in items if item]


@_register("coalesce", var_param=Param("vals", ANY, allow_null=True))
def _coalesce(*values: Any) -> Any:
    present = [value for value in values if value is not None]
    kinds = {("number" if is_number(v) else type(v).__name__) for v in present}
    as_strings = len(kinds) > 1 and kinds <= {"str", "number", "bool"}
    for value in present:
        if as_strings:
            value = to_string(value)
        if value == "" and isinstance(value, str):
            continue
        return value
    raise FunctionError("no non-null, non-empty-string arguments")


@_register("coalescelist", var_param=Param("vals", LIST, allow_null=True))
def _coalescelist(*lists: list[Any] | None) -> list[Any]:
    for items in lists:
        if items:
            return items
    raise FunctionError("no non-null, non-empty lists")


@_register("zipmap", Param("keys", STRINGS), Param("values", LIST))
def _zipmap(keys: list[str], values: list[Any]) -> dict[str, Any]:
    if len(keys) != len(values):
        raise FunctionError(f"number of keys ({len(keys)}) does not match number of values "
                            f"({len(values)})")
    return dict(zip(keys, values, strict=True))


@_register("chunklist", Param("list", LIST), Param("size", NUMBER))
def _chunklist(items: list[Any], size: int | float) -> list[list[Any]]:
    chunk = _whole(size, 1)
    if chunk < 0:
        raise FunctionError("the size argument must be positive", 1)
    if chunk == 0:
        return [items]
    return [items[i:i + chunk] for i in range(0, len(items), chunk)]


@_register("setunion", var_param=Param("sets", LIST))
def _setunion(*sets: list[Any]) -> list[Any]:
    return distinct([item for items in sets for item in items])


@_register("setintersection", var_param=Param("sets", LIST))
def _setintersection(*sets: list[Any]) -> list[Any]:
    if not sets:
        return []
    return [item for item in distinct(list(sets[0]))
            if all(any(equal(item, other) for other in rest) for rest in sets[1:])]


# -- numbers -----------------------------------------------------------------------------
def _whole(value: int | float, argument: int) -> int:
    if isinstance(value, float):
        raise FunctionError(f"expected a whole number, got {describe(value)}", argument)
    return value


@_register("abs", Param("num", NUMBER))
def _abs(number: int | float) -> int | float:
    return abs(number)


@_register("ceil", Param("num", NUMBER))
def _ceil(number: int | float) -> int:
    return math.ceil(number)


@_register("floor", Param("num", NUMBER))
def _floor(number: int | float) -> int:
    return math.floor(number)


@_register("max", var_param=Param("numbers", NUMBER))
def _max(*numbers: int | float) -> int | float:
    if not numbers:
        raise FunctionError("must pass at least one number")
    return max(numbers)


@_register("min", var_param=Param("numbers", NUMBER))
def _min(*numbers: int | float) -> int | float:
    if not numbers:
        raise FunctionError("must pass at least one number")
    return min(numbers)


@_register("pow", Param("num", NUMBER), Param("power", NUMBER))
def _pow(number: int | float, power: int | float) -> int | float:
    if number != 0 and abs(power) * math.log10(abs(number)) > 300:
        raise FunctionError("the result is out of range (larger than 1e300)")
    try:
        return normalize_number(number ** power if isinstance(power, int) and power >= 0
                                else float(number) ** power)
    except (ZeroDivisionError, OverflowError, ValueError, ConversionError, TypeError) as err:
        raise FunctionError(f"cannot compute: {err}") from None


@_register("signum", Param("num", NUMBER))
def _signum(number: int | float) -> int:
    return (number > 0) - (number < 0)


@_register("log", Param("num", NUMBER), Param("base", NUMBER))
def _log(number: int | float, base: int | float) -> int | float:
    try:
        return normalize_number(math.log(number, base))
    except (ValueError, ZeroDivisionError, ConversionError) as err:
        raise FunctionError(f"cannot compute the logarithm: {err}") from None


@_register("parseint", Param("number", STRING), Param("base", NUMBER))
def _parseint(text: str, base: int | float) -> int:
    radix = _whole(base, 1)
    if not 2 <= radix <= 36:
        raise FunctionError("base must be a whole number between 2 and 36 inclusive", 1)
    try:
        return normalize_number(int(text, radix))  # type: ignore[return-value]
    except (ValueError, ConversionError):
        raise FunctionError(f"cannot parse {json.dumps(text)} as a base {radix} integer") from None


# -- encodings and hashes ----------------------------------------------------------------
@_register("jsonencode", Param("val", ANY, allow_null=True))
def _jsonencode(value: Any) -> str:
    try:
        return go_json(value)
    except FormatError as err:
        raise FunctionError(str(err)) from None


@_register("jsondecode", Param("str", STRING))
def _jsondecode(text: str) -> Any:
    def reject(name: str) -> Any:
        raise FunctionError(f"invalid JSON: {name} is not a number JSON allows")

    try:
        return json.loads(text, parse_int=number_from_text, parse_float=number_from_text,
                          parse_constant=reject)
    except json.JSONDecodeError as err:
        raise FunctionError(f"invalid JSON: {err.msg} at line {err.lineno} column {err.colno}") \
            from None
    except (ConversionError, RecursionError) as err:
        raise FunctionError(f"invalid JSON: {err}") from None


@_register("base64encode", Param("str", STRING))
def _base64encode(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@_register("base64decode", Param("str", STRING))
def _base64decode(text: str) -> str:
    try:
        return base64.b64decode(text.encode(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise FunctionError("the string is not valid base64 or does not decode to UTF-8 text") \
            from None


@_register("urlencode", Param("str", STRING))
def _urlencode(text: str) -> str:
    return urllib.parse.quote_plus(text, safe="")


def _hash(name: str) -> Callable[[str], str]:
    def digest(text: str) -> str:
        return hashlib.new(name, text.encode()).hexdigest()
    return digest


for _name in ("md5", "sha1", "sha256", "sha512"):
    _register(_name, Param("str", STRING))(_hash(_name))


@_register("uuidv4")
def _uuidv4() -> str:
    return str(uuid.uuid4())


_UUID_NAMESPACES = {"dns": uuid.NAMESPACE_DNS, "url": uuid.NAMESPACE_URL,
                    "oid": uuid.NAMESPACE_OID, "x500": uuid.NAMESPACE_X500}


@_register("uuidv5", Param("namespace", STRING), Param("name", STRING))
def _uuidv5(namespace: str, name: str) -> str:
    space = _UUID_NAMESPACES.get(namespace)
    if space is None:
        try:
            space = uuid.UUID(namespace)
        except ValueError:
            raise FunctionError("namespace must be dns, url, oid, x500 or a UUID", 0) from None
    return str(uuid.uuid5(space, name))


# -- conversions -------------------------------------------------------------------------
@_register("tostring", Param("v", ANY, allow_null=True))
def _tostring(value: Any) -> str | None:
    return None if value is None else _convert(value, STRING)


@_register("tonumber", Param("v", ANY, allow_null=True))
def _tonumber(value: Any) -> int | float | None:
    return None if value is None else _convert(value, NUMBER)


@_register("tobool", Param("v", ANY, allow_null=True))
def _tobool(value: Any) -> bool | None:
    return None if value is None else _convert(value, BOOL)


@_register("tolist", Param("v", ANY, allow_null=True))
def _tolist(value: Any) -> list[Any] | None:
    return None if value is None else _convert(value, LIST)


@_register("toset", Param("v", ANY, allow_null=True))
def _toset(value: Any) -> list[Any] | None:
    return None if value is None else _convert(value, TypeSpec("set", ANY))


@_register("tomap", Param("v", ANY, allow_null=True))
def _tomap(value: Any) -> dict[str, Any] | None:
    return None if value is None else _convert(value, MAP)


def _convert(value: Any, spec: TypeSpec) -> Any:
    try:
        return convert(value, spec)
    except ConversionError as err:
        raise FunctionError(str(err), 0) from None


FILESYSTEM_FUNCTIONS = frozenset({"file", "filebase64", "fileexists", "fileset", "templatefile",
                                  "abspath", "basename", "dirname", "pathexpand"})
