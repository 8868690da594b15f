"""consul-template's functions that read nothing outside their arguments.

Argument order is consul-template's, which puts the piped value last:
``{{ key "x" | split "," | join ";" }}``, ``{{ 7 | subtract 2 }}`` is 5,
``{{ "foo.bar" | trimSuffix ".bar" }}``.  Errors are :class:`FuncError` with
consul-template's wording (``parseInt: strconv.ParseInt: parsing "x": invalid
syntax``); the executor adds ``error calling <name>:`` and the position.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..builtins import FuncError
from ..gofmt import go_type_name
from . import gojson, goregex


def _str(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if hasattr(value, "String") and callable(value.String):
        return str(value.String())
    raise FuncError(f"{name}: expected a string, got {go_type_name(value)}")


# -- encodings ------------------------------------------------------------

def base64_decode(s: Any) -> str:
    try:
        return base64.b64decode(_str("base64Decode", s), validate=True).decode(
            errors="replace")
    except (binascii.Error, ValueError) as err:
        raise FuncError(f"base64Decode: illegal base64 data: {err}") from None


def base64_encode(s: Any) -> str:
    return base64.b64encode(_str("base64Encode", s).encode()).decode()


def base64_url_decode(s: Any) -> str:
    try:
        text = _str("base64URLDecode", s)
        if any(c in text for c in "+/"):
            raise ValueError("not URL-safe")
        return base64.urlsafe_b64decode(text).decode(errors="replace")
    except (binascii.Error, ValueError) as err:
        raise FuncError(f"base64URLDecode: illegal base64 data: {err}") from None


def base64_url_encode(s: Any) -> str:
    return base64.urlsafe_b64encode(_str("base64URLEncode", s).encode()).decode()


def to_json(value: Any) -> str:
    return _json("toJSON", value, indent="", escape_html=True)


def to_json_pretty(value: Any) -> str:
    return _json("toJSONPretty", value, indent="  ", escape_html=True)


def to_unescaped_json(value: Any) -> str:
    return _json("toUnescapedJSON", value, indent="", escape_html=False)


def to_unescaped_json_pretty(value: Any) -> str:
    return _json("toUnescapedJSONPretty", value, indent="  ", escape_html=False)


def _json(name: str, value: Any, *, indent: str, escape_html: bool) -> str:
    try:
        return gojson.encode(value, indent=indent, escape_html=escape_html)
    except gojson.JSONError as err:
        raise FuncError(f"{name}: {err}") from None


def parse_json(s: Any) -> Any:
    """Go decodes JSON numbers into float64 (1 prints as 1, 1e6 as 1e+06)."""
    text = _str("parseJSON", s)
    if text == "":
        return {}
    try:
        return json.loads(text, parse_int=float)
    except ValueError as err:
        raise FuncError(f"parseJSON: {err}") from None


# -- parsing --------------------------------------------------------------

_INT = re.compile(r"[+-]?[0-9]+")
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def parse_bool(s: Any) -> bool:
    text = _str("parseBool", s)
    if text == "" or text in _FALSE:
        return False
    if text in _TRUE:
        return True
    raise FuncError(f'parseBool: strconv.ParseBool: parsing "{text}": invalid syntax')


def parse_int(s: Any) -> int:
    text = _str("parseInt", s)
    if text == "":
        return 0
    if not _INT.fullmatch(text):
        raise FuncError(f'parseInt: strconv.ParseInt: parsing "{text}": invalid syntax')
    value = int(text)
    if not -(2 ** 63) <= value < 2 ** 63:
        raise FuncError(f'parseInt: strconv.ParseInt: parsing "{text}": value out of range')
    return value


def parse_uint(s: Any) -> int:
    text = _str("parseUint", s)
    if text == "":
        return 0
    if not text.isdigit():
        raise FuncError(f'parseUint: strconv.ParseUint: parsing "{text}": invalid syntax')
    value = int(text)
    if value >= 2 ** 64:
        raise FuncError(f'parseUint: strconv.ParseUint: parsing "{text}": value out of range')
    return value


def parse_float(s: Any) -> float:
    text = _str("parseFloat", s)
    if text == "":
        return 0.0
    try:
        if text.strip() != text or "_" in text:
            raise ValueError(text)
        return float(text)
    except ValueError:
        raise FuncError(
            f'parseFloat: strconv.ParseFloat: parsing "{text}": invalid syntax') from None


# -- strings --------------------------------------------------------------

def to_lower(s: Any) -> str:
    return _str("toLower", s).lower()


def to_upper(s: Any) -> str:
    return _str("toUpper", s).upper()


def to_title(s: Any) -> str:
    """strings.Title: upper-case the first letter of every word (words end at non-letters)."""
    out = []
    prev_letter = False
    for ch in _str("toTitle", s):
        is_word = ch.isalnum() or ch == "_" or ch == "'"
        out.append(ch.upper() if is_word and not prev_letter else ch)
        prev_letter = is_word
    return "".join(out)


def split(sep: Any, s: Any) -> list[str]:
    text = _str("split", s).strip()
    if text == "":
        return []
    sep = _str("split", sep)
    if sep == "":
        return list(text)
    return text.split(sep)


def split_to_map(sep: Any, kv_sep: Any, s: Any) -> dict[str, str]:
    """Split into items on ``sep``, each into key and value on ``kv_sep`` (else skipped)."""
    out: dict[str, str] = {}
    for item in _str("splitToMap", s).split(_str("splitToMap", sep) or "\n"):
        key, found, value = item.partition(_str("splitToMap", kv_sep))
        if found:
            out[key] = value
    return out


def join(sep: Any, items: Any) -> str:
    if not isinstance(items, (list, tuple)):
        raise FuncError(f"join: expected a list, got {go_type_name(items)}")
    return _str("join", sep).join(_str("join", i) for i in items)


def trim_space(s: Any) -> str:
    return _str("trimSpace", s).strip(" \t\n\r\v\f\x85\xa0")


def trim(cutset: Any, s: Any) -> str:
    return _str("trim", s).strip(_str("trim", cutset))


def trim_prefix(prefix: Any, s: Any) -> str:
    text, prefix = _str("trimPrefix", s), _str("trimPrefix", prefix)
    return text[len(prefix):] if prefix and text.startswith(prefix) else text


def trim_suffix(suffix: Any, s: Any) -> str:
    text, suffix = _str("trimSuffix", s), _str("trimSuffix", suffix)
    return text[:-len(suffix)] if suffix and text.endswith(suffix) else text


def replace_all(old: Any, new: Any, s: Any) -> str:
    text, old, new = _str("replaceAll", s), _str("replaceAll", old), _str("replaceAll", new)
    if old == "":
        # Go inserts the replacement around every rune when old is empty.
        return new + new.join(text) + new if text else new
    return text.replace(old, new)


def regex_replace_all(pattern: Any, replacement: Any, s: Any) -> str:
    try:
        return goregex.replace_all(_str("regexReplaceAll", pattern),
                                   _str("regexReplaceAll", replacement),
                                   _str("regexReplaceAll", s))
    except goregex.RegexError as err:
        raise FuncError(f"regexReplaceAll: {err}") from None


def regex_match(pattern: Any, s: Any) -> bool:
    try:
        return goregex.match(_str("regexMatch", pattern), _str("regexMatch", s))
    except goregex.RegexError as err:
        raise FuncError(f"regexMatch: {err}") from None


def indent(spaces: Any, s: Any) -> str:
    """Prefix every non-empty line with ``spaces`` spaces."""
    if isinstance(spaces, bool) or not isinstance(spaces, int):
        raise FuncError(f"indent: expected an integer, got {go_type_name(spaces)}")
    if spaces < 0:
        raise FuncError("indent value must be a positive integer")
    prefix = " " * spaces
    out = []
    at_line_start = True
    for ch in _str("indent", s):
        if at_line_start and ch != "\n":
            out.append(prefix)
        out.append(ch)
        at_line_start = ch == "\n"
    return "".join(out)


def sha256_hex(s: Any) -> str:
    return hashlib.sha256(_str("sha256Hex", s).encode()).hexdigest()


def md5sum(s: Any) -> str:
    return hashlib.md5(_str("md5sum", s).encode(), usedforsecurity=False).hexdigest()


def hmac_sha256_hex(message: Any, secret: Any) -> str:
    return hmac.new(_str("hmacSHA256Hex", secret).encode(),
                    _str("hmacSHA256Hex", message).encode(), hashlib.sha256).hexdigest()


# -- collections ------------------------------------------------------------

def _in(items: Any, value: Any) -> bool:
    if isinstance(items, str):
        return isinstance(value, str) and value in items
    if isinstance(items, (list, tuple)):
        return any(type(v) is type(value) and v == value for v in items)
    return False


def in_(items: Any, value: Any) -> bool:
    return _in(items, value)


def contains(value: Any, items: Any) -> bool:
    return _in(items, value)


def _seq(name: str, value: Any) -> Sequence[Any]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise FuncError(f"{name}: expected a list, got {go_type_name(value)}")
    return value


def contains_all(values: Any, items: Any) -> bool:
    return all(_in(items, v) for v in _seq("containsAll", values))


def contains_any(values: Any, items: Any) -> bool:
    return any(_in(items, v) for v in _seq("containsAny", values))


def contains_none(values: Any, items: Any) -> bool:
    return not any(_in(items, v) for v in _seq("containsNone", values))


def contains_not_all(values: Any, items: Any) -> bool:
    return not all(_in(items, v) for v in _seq("containsNotAll", values))


def by_key(pairs: Any) -> dict[str, dict[str, Any]]:
    """KV pairs grouped by their top-level folder, keyed by the rest of the key."""
    import copy
    out: dict[str, dict[str, Any]] = {}
    for pair in _seq("byKey", pairs):
        top, _, rest = pair.Key.partition("/")
        if rest == "":
            continue
        moved = copy.copy(pair)
        moved.Key = rest
        out.setdefault(top, {})[rest] = moved
    return out


def by_tag(services: Any) -> dict[str, list[Any]]:
    """Services grouped by each of their tags (a service appears under every tag)."""
    out: dict[str, list[Any]] = {}
    for service in _seq("byTag", services):
        for tag in getattr(service, "Tags", []) or []:
            out.setdefault(tag, []).append(service)
    return out


def _explode_into(into: dict[str, Any], key: str, value: Any, whole: str) -> None:
    if "/" in key:
        top, _, rest = key.partition("/")
        nest = into.setdefault(top, {})
        if not isinstance(nest, dict):
            raise FuncError(f'explode: not a map: "{whole}": "{top}" already has value '
                            f'"{nest}"')
        _explode_into(nest, rest, value, key)
    elif key:
        into[key] = value


def explode(pairs: Any) -> dict[str, Any]:
    """KV pairs as nested maps along the ``/`` of their keys."""
    out: dict[str, Any] = {}
    for pair in _seq("explode", pairs):
        _explode_into(out, pair.Key, pair.Value, pair.Key)
    return out


def explode_map(mapping: Any) -> dict[str, Any]:
    if not isinstance(mapping, Mapping):
        raise FuncError(f"explodeMap: expected a map, got {go_type_name(mapping)}")
    out: dict[str, Any] = {}
    for key in sorted(mapping):
        _explode_into(out, str(key), mapping[key], str(key))
    return out


def _merge(base: Mapping[str, Any], piped: Mapping[str, Any], override: bool) -> dict[str, Any]:
    out = dict(base)
    for key, value in piped.items():
        mine = out.get(key)
        if isinstance(mine, Mapping) and isinstance(value, Mapping):
            out[key] = _merge(mine, value, override)
        elif override or key not in out or mine in (None, "", 0, False):
            # Without override, only empty values of the base are filled (mergo.Merge).
            out[key] = value
    return out


def merge_map(base: Any, piped: Any) -> dict[str, Any]:
    """``$over | mergeMap $base``: deep merge in which the base's values win."""
    if not isinstance(base, Mapping) or not isinstance(piped, Mapping):
        raise FuncError("mergeMap: both arguments must be maps")
    return _merge(base, piped, override=False)


def merge_map_with_override(base: Any, piped: Any) -> dict[str, Any]:
    """``$over | mergeMapWithOverride $base``: deep merge in which the piped map's values win."""
    if not isinstance(base, Mapping) or not isinstance(piped, Mapping):
        raise FuncError("mergeMapWithOverride: both arguments must be maps")
    return _merge(base, piped, override=True)


def loop(*args: Any) -> list[int]:
    """loop 3 -> [0 1 2]; loop 2 5 -> [2 3 4]."""
    ints = []
    for a in args:
        if isinstance(a, str):
            try:
                a = int(a)
            except ValueError:
                raise FuncError(f"loop: invalid value {a!r}") from None
        if isinstance(a, bool) or not isinstance(a, int):
            raise FuncError(f"loop: expected an integer, got {go_type_name(a)}")
        ints.append(a)
    if len(ints) == 1:
        return list(range(ints[0]))
    if len(ints) == 2:
        return list(range(ints[0], ints[1]))
    raise FuncError(f"loop: wrong number of arguments, expected 1 or 2, but got {len(ints)}")


# -- math ---------------------------------------------------------------------

def _number(name: str, value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FuncError(f"{name}: unknown type for {_quote_value(value)} ({go_type_name(value)})")
    return value


def _quote_value(value: Any) -> str:
    from ..gofmt import format_value
    return '"' + format_value(value, "v") + '"'


def _math(name: str, op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def fn(b: Any, a: Any) -> Any:
        x, y = _number(name, a), _number(name, b)
        if isinstance(x, float) or isinstance(y, float):
            return float(op(float(x), float(y)))
        return op(x, y)
    fn.__name__ = name
    return fn


def _int_div(a: Any, b: Any) -> Any:
    if b == 0:
        raise FuncError("divide: division by 0")
    if isinstance(a, float):
        return a / b
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _int_mod(a: Any, b: Any) -> Any:
    if isinstance(a, float):
        raise FuncError(f"modulo: unknown type for {_quote_value(a)} (float64)")
    if b == 0:
        raise FuncError("modulo: division by 0")
    r = abs(a) % abs(b)
    return r if a >= 0 else -r


add = _math("add", lambda a, b: a + b)
subtract = _math("subtract", lambda a, b: a - b)
multiply = _math("multiply", lambda a, b: a * b)
divide = _math("divide", _int_div)
modulo = _math("modulo", _int_mod)
minimum = _math("minimum", lambda a, b: min(a, b))
maximum = _math("maximum", lambda a, b: max(a, b))


PURE: dict[str, Callable[..., Any]] = {
    "base64Decode": base64_decode, "base64Encode": base64_encode,
    "base64URLDecode": base64_url_decode, "base64URLEncode": base64_url_encode,
    "toJSON": to_json, "toJSONPretty": to_json_pretty, "toUnescapedJSON": to_unescaped_json,
    "toUnescapedJSONPretty": to_unescaped_json_pretty, "parseJSON": parse_json,
    "parseBool": parse_bool, "parseInt": parse_int, "parseUint": parse_uint,
    "parseFloat": parse_float, "toLower": to_lower, "toUpper": to_upper, "toTitle": to_title,
    "split": split, "splitToMap": split_to_map, "join": join, "trimSpace": trim_space,
    "trim": trim,
    "trimPrefix": trim_prefix, "trimSuffix": trim_suffix, "replaceAll": replace_all,
    "regexReplaceAll": regex_replace_all, "regexMatch": regex_match, "indent": indent,
    "sha256Hex": sha256_hex, "md5sum": md5sum, "hmacSHA256Hex": hmac_sha256_hex,
    "in": in_, "contains": contains, "containsAll": contains_all, "containsAny": contains_any,
    "containsNone": contains_none, "containsNotAll": contains_not_all, "byKey": by_key,
    "byTag": by_tag, "explode": explode, "explodeMap": explode_map, "loop": loop,
    "mergeMap": merge_map, "mergeMapWithOverride": merge_map_with_override,
    "add": add, "subtract": subtract, "multiply": multiply, "divide": divide,
    "modulo": modulo, "minimum": minimum, "maximum": maximum,
}
