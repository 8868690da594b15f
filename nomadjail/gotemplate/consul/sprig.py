"""The common subset of sprig that Nomad's templates reach as ``sprig_<name>``.

consul-template registers every sprig function under a ``sprig_`` prefix; these are
the ones job files use in practice:

* strings: upper lower title trim trimAll trimPrefix trimSuffix contains hasPrefix
  hasSuffix repeat replace substr trunc quote squote cat indent nindent nospace splitList
  join toString toStrings regexMatch regexReplaceAll regexFindAll print snakecase
* defaults and flow: default empty coalesce ternary fail kindOf typeOf
* lists: list first last rest initial append prepend concat reverse uniq without has
  compact sortAlpha until untilStep
* dicts: dict get set unset hasKey keys values pick omit
* numbers: int int64 atoi float64 add add1 sub mul div mod max min
* encodings: b64enc b64dec sha256sum sha1sum toJson toPrettyJson

Not here: random, crypto/certificate generation, semver, dates other than ``now``,
reflection helpers beyond ``kindOf``/``typeOf``.  Argument order is sprig's (the piped
value last): ``{{ "x" | sprig_repeat 3 }}``, ``{{ .v | sprig_default "none" }}``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from ..builtins import FuncError, truth
from ..gofmt import format_value, go_type_name, sprint
from . import gojson, goregex
from .pure import to_title


def _s(value: Any) -> str:
    """sprig's toString: strings as they are, nil as "", anything else as %v."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return format_value(value, "v")


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value)) if value.strip() else 0
        except ValueError:
            return 0
    return 0


def _list(name: str, value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    raise FuncError(f"{name}: cannot find type {go_type_name(value)}")


def _indent(spaces: Any, s: Any) -> str:
    pad = " " * _int(spaces)
    return pad + _s(s).replace("\n", "\n" + pad)


def _default(default: Any, *given: Any) -> Any:
    if not given or not truth(given[0]):
        return default
    return given[0]


def _dict(*pairs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(0, len(pairs), 2):
        out[_s(pairs[i])] = pairs[i + 1] if i + 1 < len(pairs) else ""
    return out


def _keys(*dicts: Any) -> list[str]:
    out: list[str] = []
    for d in dicts:
        out.extend(str(k) for k in d)
    return out


def _uniq(items: Any) -> list[Any]:
    out: list[Any] = []
    for item in _list("uniq", items):
        if item not in out:
            out.append(item)
    return out


def _b64dec(s: Any) -> str:
    try:
        return base64.b64decode(_s(s), validate=True).decode(errors="replace")
    except (binascii.Error, ValueError) as err:
        return str(err)


def _substr(start: Any, end: Any, s: Any) -> str:
    text, a, b = _s(s), _int(start), _int(end)
    if a < 0:
        return text[:b]
    if b < 0 or b > len(text):
        return text[a:]
    return text[a:b]


def _trunc(n: Any, s: Any) -> str:
    text, count = _s(s), _int(n)
    if count < 0:
        return text[max(len(text) + count, 0):] if -count < len(text) else text
    return text[:count]


def _until_step(start: Any, stop: Any, step: Any) -> list[int]:
    a, b, c = _int(start), _int(stop), _int(step)
    if c == 0:
        return []
    return list(range(a, b, c))


def _fail(message: Any) -> Any:
    raise FuncError(_s(message))


def _ternary(true_value: Any, false_value: Any, condition: Any) -> Any:
    return true_value if truth(condition) else false_value


def _kind_of(value: Any) -> str:
    name = go_type_name(value)
    return {"[]interface {}": "slice", "map[string]interface {}": "map", "<nil>": "invalid",
            "float64": "float64"}.get(name, name if name in ("int", "string", "bool")
                                      else "struct")


def _min_max(pick: Callable[..., Any]) -> Callable[..., Any]:
    def fn(a: Any, *rest: Any) -> int:
        return int(pick([_int(a)] + [_int(r) for r in rest]))
    return fn


def _div(a: Any, b: Any) -> int:
    x, y = _int(a), _int(b)
    if y == 0:
        raise FuncError("integer divide by zero")
    q = abs(x) // abs(y)
    return q if (x >= 0) == (y >= 0) else -q


def _mod(a: Any, b: Any) -> int:
    x, y = _int(a), _int(b)
    if y == 0:
        raise FuncError("integer divide by zero")
    r = abs(x) % abs(y)
    return r if x >= 0 else -r


def _get(d: Any, key: Any) -> Any:
    if isinstance(d, Mapping) and key in d:
        return d[key]
    return ""


def _set(d: Any, key: Any, value: Any) -> Any:
    d[key] = value
    return d


def _regex_replace_all(regex: Any, s: Any, repl: Any) -> str:
    return goregex.replace_all(_s(regex), _s(repl), _s(s))


SPRIG_BASE: dict[str, Callable[..., Any]] = {
    # strings
    "upper": lambda s: _s(s).upper(), "lower": lambda s: _s(s).lower(),
    "title": lambda s: to_title(_s(s)), "trim": lambda s: _s(s).strip(),
    "trimAll": lambda cut, s: _s(s).strip(_s(cut)),
    "trimPrefix": lambda p, s: _s(s)[len(_s(p)):] if _s(s).startswith(_s(p)) else _s(s),
    "trimSuffix": lambda p, s: (_s(s)[:-len(_s(p))] if _s(p) and _s(s).endswith(_s(p))
                                else _s(s)),
    "contains": lambda sub, s: _s(sub) in _s(s),
    "hasPrefix": lambda p, s: _s(s).startswith(_s(p)),
    "hasSuffix": lambda p, s: _s(s).endswith(_s(p)),
    "repeat": lambda n, s: _s(s) * max(_int(n), 0),
    "replace": lambda old, new, s: _s(s).replace(_s(old), _s(new)),
    "substr": _substr, "trunc": _trunc,
    "quote": lambda *a: " ".join('"' + _s(x).replace("\\", "\\\\").replace('"', '\\"') + '"'
                                 for x in a if x is not None),
    "squote": lambda *a: " ".join("'" + _s(x) + "'" for x in a if x is not None),
    "cat": lambda *a: " ".join(_s(x) for x in a if x is not None),
    "indent": _indent, "nindent": lambda n, s: "\n" + _indent(n, s),
    "nospace": lambda s: "".join(_s(s).split()),
    "splitList": lambda sep, s: _s(s).split(_s(sep)),
    "join": lambda sep, items: _s(sep).join(_s(i) for i in _list("join", items)),
    "toString": _s, "toStrings": lambda items: [_s(i) for i in _list("toStrings", items)],
    "regexMatch": lambda regex, s: goregex.match(_s(regex), _s(s)),
    "regexReplaceAll": _regex_replace_all,
    "regexFindAll": lambda regex, s, n: [m.group(0) for m in goregex.compile_go(
        _s(regex)).finditer(_s(s))][:(None if _int(n) < 0 else _int(n))],
    "print": sprint, "snakecase": lambda s: "_".join(_s(s).lower().split()),
    # defaults and flow
    "default": _default, "empty": lambda v: not truth(v),
    "coalesce": lambda *a: next((x for x in a if truth(x)), None),
    "ternary": _ternary, "fail": _fail,
    "kindOf": _kind_of, "typeOf": go_type_name,
    # lists
    "list": lambda *a: list(a), "first": lambda xs: (_list("first", xs) or [None])[0],
    "last": lambda xs: (_list("last", xs) or [None])[-1], "rest": lambda xs: _list("rest", xs)[1:],
    "initial": lambda xs: _list("initial", xs)[:-1],
    "append": lambda xs, v: _list("append", xs) + [v], "prepend": lambda xs, v: [v] + _list(
        "prepend", xs),
    "concat": lambda *ls: [x for xs in ls for x in _list("concat", xs)],
    "reverse": lambda xs: _list("reverse", xs)[::-1], "uniq": _uniq,
    "without": lambda xs, *v: [x for x in _list("without", xs) if x not in v],
    "has": lambda needle, xs: needle in _list("has", xs),
    "compact": lambda xs: [x for x in _list("compact", xs) if truth(x)],
    "sortAlpha": lambda xs: sorted(_s(x) for x in _list("sortAlpha", xs)),
    "until": lambda n: list(range(_int(n))) if _int(n) >= 0 else list(range(0, _int(n), -1)),
    "untilStep": _until_step,
    # dicts
    "dict": _dict, "get": _get, "set": _set,
    "unset": lambda d, k: (d.pop(k, None), d)[1],
    "hasKey": lambda d, k: isinstance(d, Mapping) and k in d, "keys": _keys,
    "values": lambda d: list(d.values()),
    "pick": lambda d, *ks: {k: d[k] for k in ks if k in d},
    "omit": lambda d, *ks: {k: v for k, v in d.items() if k not in ks},
    # numbers
    "int": _int, "int64": _int, "atoi": _int, "float64": lambda v: float(_int(v)) if not
    isinstance(v, float) else v,
    "add": lambda *a: sum(_int(x) for x in a), "add1": lambda a: _int(a) + 1,
    "sub": lambda a, b: _int(a) - _int(b), "mul": lambda *a: _product(a),
    "div": _div, "mod": _mod, "max": _min_max(max), "min": _min_max(min),
    # encodings and hashes
    "b64enc": lambda s: base64.b64encode(_s(s).encode()).decode(), "b64dec": _b64dec,
    "sha256sum": lambda s: hashlib.sha256(_s(s).encode()).hexdigest(),
    "sha1sum": lambda s: hashlib.sha1(_s(s).encode(), usedforsecurity=False).hexdigest(),
    "toJson": lambda v: gojson.encode(v, escape_html=True),
    "toPrettyJson": lambda v: gojson.encode(v, indent="  ", escape_html=True),
}


def _product(values: tuple[Any, ...]) -> int:
    out = 1
    for v in values:
        out *= _int(v)
    return out


SPRIG: dict[str, Callable[..., Any]] = {"sprig_" + k: v for k, v in SPRIG_BASE.items()}
