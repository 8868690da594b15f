"""The function map of one render: consul-template's data functions over a DataSource,
plus the pure functions and the sprig subset, with Nomad's denylist applied.

Make one :class:`TemplateFunctions` per render: it records which dependencies the
render *used* (watch them for changes) and which were *missing* (the source had no
data yet: do not write the file, render again when it has).  Data functions never
block; a missing dependency yields an empty value (``""``, ``[]``, ``{}``, ``false``)
so the rest of the template still renders and every missing dependency is found in
one pass -- consul-template's contract.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..builtins import FuncError
from . import golayout
from .dependency import MISSING, DataSource, Dependency, DependencyKind
from .pure import PURE
from .shapes import KeyPair, NomadVarItems, Scratch
from .sprig import SPRIG

# Nomad's default ``template { function_denylist }`` client setting.
DEFAULT_DENYLIST = ("plugin", "writeToFile")

_KV_RE = re.compile(r"/?(?P<key>[^@?]*?)/?(?:\?(?P<query>[^@]*))?(?:@(?P<dc>[\w.-]+))?")
_SERVICE_RE = re.compile(
    r"(?:(?P<tag>[\w\-.]+)\.)?(?P<name>[\w\-/]+)(?:\?(?P<query>[^@~|]*))?(?:@(?P<dc>[\w.\-]+))?"
    r"(?:~(?P<near>[\w.\-]+))?(?:\|(?P<filter>[\w,]+))?")
_DC_RE = re.compile(r"(?:\?(?P<query>[^@]*))?(?:@(?P<dc>[\w.\-]+))?")
_NOMAD_SERVICE_RE = re.compile(
    r"(?:(?P<tag>[\w\-.=]+)\.)?(?P<name>[\w\-/]+)(?:\?ns=(?P<ns>[\w\-]+))?"
    r"(?:@(?P<region>[\w.\-]+))?")
_NOMAD_SERVICES_RE = re.compile(r"(?:\?ns=(?P<ns>[\w\-]+))?(?:@(?P<region>[\w.\-]+))?")
_VAR_RE = re.compile(r"(?P<path>[^@]*)(?:@(?P<ns>[\w\-]+)(?:\.(?P<region>[\w\-]+))?)?")
_HEALTH = ("any", "passing", "warning", "critical", "maintenance", "unknown")


class TemplateFunctions(Mapping[str, Callable[..., Any]]):
    """Name -> function for ``Template.execute``; ``used``/``missing`` after the render."""

    def __init__(self, source: DataSource, *, env: Mapping[str, str] | None = None,
                 sandbox_dir: str | os.PathLike[str] | None = None,
                 namespace: str = "", denylist: tuple[str, ...] = DEFAULT_DENYLIST,
                 now: Callable[[], datetime] | None = None) -> None:
        self.source = source
        self.env = dict(os.environ) if env is None else dict(env)
        self.sandbox = Path(sandbox_dir).resolve() if sandbox_dir is not None else None
        self.namespace = namespace
        self.now = now or (lambda: datetime.now(UTC))
        self.used: set[Dependency] = set()
        self.missing: set[Dependency] = set()
        self.scratch = Scratch()
        funcs: dict[str, Callable[..., Any]] = {}
        funcs.update(PURE)
        funcs.update(SPRIG)
        funcs.update({
            "key": self.key, "keyExists": self.key_exists, "keyOrDefault": self.key_or_default,
            "ls": self.ls, "safeLs": self.safe_ls, "tree": self.tree,
            "safeTree": self.safe_tree, "service": self.service, "services": self.services,
            "nomadService": self.nomad_service, "nomadServices": self.nomad_services,
            "nomadVar": self.nomad_var, "nomadVarExists": self.nomad_var_exists,
            "nomadVarList": self.nomad_var_list, "nomadVarListSafe": self.nomad_var_list_safe,
            "file": self.file, "env": self.getenv, "envOrDefault": self.env_or_default,
            "mustEnv": self.must_env, "timestamp": self.timestamp,
            "scratch": lambda: self.scratch,
        })
        for name in denylist:
            funcs[name] = _disabled(name)
        self._funcs = funcs

    # Mapping protocol
    def __getitem__(self, name: str) -> Callable[..., Any]:
        return self._funcs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._funcs)

    def __len__(self) -> int:
        return len(self._funcs)

    # -- the brain -------------------------------------------------------------

    def _recall(self, dep: Dependency) -> Any:
        self.used.add(dep)
        value = self.source.fetch(dep)
        if value is MISSING:
            self.missing.add(dep)
        return value

    # -- Consul KV ---------------------------------------------------------------

    def _kv(self, name: str, path: Any, **extra: Any) -> Dependency:
        if not isinstance(path, str):
            raise FuncError(f"{name}: expected a string key, got {type(path).__name__}")
        match = _KV_RE.fullmatch(path.strip())
        if not match:
            raise FuncError(f'kv.get: invalid format: "{path}"')
        if not match["key"]:
            raise FuncError(f'kv.get: invalid format: "{path}"')
        return Dependency(DependencyKind.KV_GET, path=match["key"],
                          namespace=_query_ns(match["query"]), datacenter=match["dc"] or "",
                          **extra)

    def key(self, path: Any) -> str:
        """The key's value; waits (missing) until the key exists."""
        value = self._recall(self._kv("key", path, block=True))
        return value if isinstance(value, str) else ""

    def key_exists(self, path: Any) -> bool:
        value = self._recall(self._kv("keyExists", path))
        return isinstance(value, str)

    def key_or_default(self, path: Any, default: Any) -> Any:
        value = self._recall(self._kv("keyOrDefault", path))
        return value if isinstance(value, str) and value != "" else default

    def _list(self, name: str, prefix: Any, safe: bool, top_level: bool) -> list[KeyPair]:
        if not isinstance(prefix, str):
            raise FuncError(f"{name}: expected a string prefix")
        match = _KV_RE.fullmatch(prefix.strip()) if prefix.strip("/ ") else None
        if prefix.strip("/ ") and not match:
            raise FuncError(f'kv.list: invalid format: "{prefix}"')
        dep = Dependency(DependencyKind.KV_LIST, path=match["key"] if match else "",
                         namespace=_query_ns(match["query"]) if match else "",
                         datacenter=(match["dc"] or "") if match else "")
        value = self._recall(dep)
        if value is MISSING:
            return []
        pairs = []
        for pair in value or []:
            if top_level:
                if pair.Key and "/" not in pair.Key:
                    pairs.append(pair)
            elif pair.Key and not pair.Key.endswith("/"):
                pairs.append(pair)
        if safe and not pairs:
            self.missing.add(dep)
        return pairs

    def ls(self, prefix: Any) -> list[KeyPair]:
        return self._list("ls", prefix, safe=False, top_level=True)

    def safe_ls(self, prefix: Any) -> list[KeyPair]:
        return self._list("safeLs", prefix, safe=True, top_level=True)

    def tree(self, prefix: Any) -> list[KeyPair]:
        return self._list("tree", prefix, safe=False, top_level=False)

    def safe_tree(self, prefix: Any) -> list[KeyPair]:
        return self._list("safeTree", prefix, safe=True, top_level=False)

    # -- Consul catalog ------------------------------------------------------------

    def service(self, *args: Any) -> list[Any]:
        """``service "tag.name@dc~near|passing,warning"`` (or the filter as a 2nd arg)."""
        if not 1 <= len(args) <= 2 or not all(isinstance(a, str) for a in args):
            raise FuncError(f"service: expected 1 or 2 string arguments, got {len(args)}")
        query = "|".join(args)
        match = _SERVICE_RE.fullmatch(query)
        if not match:
            raise FuncError(f'health.service: invalid format: "{query}"')
        health: tuple[str, ...] = ("passing",)
        if match["filter"]:
            health = tuple(f for f in match["filter"].split(",") if f)
            for status in health:
                if status not in _HEALTH:
                    raise FuncError(f'health.service: invalid filter: "{status}" in "{query}"')
            if "any" in health and len(health) > 1:
                raise FuncError('health.service: cannot specify extra keys when using "any"')
        dep = Dependency(DependencyKind.CATALOG_SERVICE, path=match["name"],
                         tag=match["tag"] or "", datacenter=match["dc"] or "",
                         namespace=_query_ns(match["query"]), near=match["near"] or "",
                         health=health)
        value = self._recall(dep)
        return [] if value is MISSING else list(value or [])

    def services(self, *args: Any) -> list[Any]:
        if len(args) > 1 or not all(isinstance(a, str) for a in args):
            raise FuncError(f"services: expected 0 or 1 string arguments, got {len(args)}")
        match = _DC_RE.fullmatch(args[0] if args else "")
        if not match:
            raise FuncError(f'catalog.services: invalid format: "{args[0]}"')
        value = self._recall(Dependency(DependencyKind.CATALOG_SERVICES,
                                        namespace=_query_ns(match["query"]),
                                        datacenter=match["dc"] or ""))
        return [] if value is MISSING else list(value or [])

    # -- Nomad services --------------------------------------------------------------

    def nomad_service(self, *args: Any) -> list[Any]:
        """``nomadService "tag.name?ns=x@region"`` or ``nomadService 2 $key "name"``."""
        choose: tuple[int, str] | None = None
        if len(args) == 3:
            count, key, query = args
            if isinstance(count, str) and count.isdigit():
                count = int(count)
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise FuncError("nomadService: the count must be a positive integer")
            choose = (count, str(key))
        elif len(args) == 1:
            query = args[0]
        else:
            raise FuncError(f"nomadService: expected 1 or 3 arguments, got {len(args)}")
        match = _NOMAD_SERVICE_RE.fullmatch(query) if isinstance(query, str) else None
        if not match:
            raise FuncError(f'nomad.service: invalid format: "{query}"')
        dep = Dependency(DependencyKind.NOMAD_SERVICE, path=match["name"], tag=match["tag"] or "",
                         namespace=match["ns"] or self.namespace,
                         region=match["region"] or "", choose=choose)
        value = self._recall(dep)
        return [] if value is MISSING else list(value or [])

    def nomad_services(self, *args: Any) -> list[Any]:
        if len(args) > 1 or not all(isinstance(a, str) for a in args):
            raise FuncError(f"nomadServices: expected 0 or 1 string arguments, got {len(args)}")
        match = _NOMAD_SERVICES_RE.fullmatch(args[0] if args else "")
        if not match:
            raise FuncError(f'nomad.services: invalid format: "{args[0]}"')
        value = self._recall(Dependency(DependencyKind.NOMAD_SERVICES,
                                        namespace=match["ns"] or self.namespace,
                                        region=match["region"] or ""))
        return [] if value is MISSING else list(value or [])

    # -- Nomad variables ---------------------------------------------------------------

    def _var(self, name: str, path: Any, kind: DependencyKind, block: bool) -> Dependency:
        if not isinstance(path, str):
            raise FuncError(f"{name}: expected a string path")
        match = _VAR_RE.fullmatch(path.strip().strip("/"))
        if not match:
            raise FuncError(f'{kind.value}: invalid format: "{path}"')
        return Dependency(kind, path=match["path"].strip("/"),
                          namespace=match["ns"] or self.namespace,
                          region=match["region"] or "", block=block)

    def nomad_var(self, path: Any) -> NomadVarItems:
        """The variable's items; waits (missing) until the variable exists."""
        value = self._recall(self._var("nomadVar", path, DependencyKind.NOMAD_VAR_GET, True))
        return value if isinstance(value, NomadVarItems) else NomadVarItems()

    def nomad_var_exists(self, path: Any) -> bool:
        value = self._recall(self._var("nomadVarExists", path, DependencyKind.NOMAD_VAR_GET,
                                       False))
        return value is not MISSING and value is not None

    def _var_list(self, name: str, args: tuple[Any, ...], safe: bool) -> list[Any]:
        if len(args) > 1:
            raise FuncError(f"{name}: expected 0 or 1 arguments, got {len(args)}")
        dep = self._var(name, args[0] if args else "", DependencyKind.NOMAD_VAR_LIST, False)
        value = self._recall(dep)
        if value is MISSING:
            return []
        metas = list(value or [])
        if safe and not metas:
            self.missing.add(dep)
        return metas

    def nomad_var_list(self, *args: Any) -> list[Any]:
        return self._var_list("nomadVarList", args, safe=False)

    def nomad_var_list_safe(self, *args: Any) -> list[Any]:
        return self._var_list("nomadVarListSafe", args, safe=True)

    # -- files, environment, time ------------------------------------------------------

    def file(self, path: Any) -> str:
        """A file's contents, inside the sandbox (the task directory) when there is one."""
        if not isinstance(path, str) or not path:
            raise FuncError("file: expected a file path")
        resolved = Path(path)
        if self.sandbox is not None:
            # consul-template joins even absolute paths under the sandbox root.
            joined = Path(os.path.normpath(self.sandbox / path.lstrip("/")))
            if joined != self.sandbox and self.sandbox not in joined.parents:
                raise FuncError(f"'{path}' is outside of sandbox")
            real = joined.resolve()
            if real != self.sandbox and self.sandbox not in real.parents:
                raise FuncError(f"'{path}' is outside of sandbox")
            resolved = joined
        value = self._recall(Dependency(DependencyKind.FILE, path=str(resolved)))
        return value if isinstance(value, str) else ""

    def getenv(self, name: Any) -> str:
        return self.env.get(str(name), "")

    def env_or_default(self, name: Any, default: Any) -> Any:
        """The variable's value when it is set, even to ""; else the default."""
        return self.env.get(str(name), default)

    def must_env(self, name: Any) -> str:
        value = self.env.get(str(name), "")
        if value == "":
            raise FuncError(f"mustEnv: environment variable {name} is not set or empty")
        return value

    def timestamp(self, *args: Any) -> str:
        """Now in UTC: RFC 3339, ``"unix"`` seconds, or any Go layout."""
        if len(args) > 1:
            raise FuncError(f"timestamp: wrong number of arguments, expected 0 or 1, but got "
                            f"{len(args)}")
        now = self.now().astimezone(UTC)
        layout = args[0] if args else golayout.RFC3339
        if layout == "unix":
            return str(int(now.timestamp()))
        return golayout.format_time(now, str(layout))


def _query_ns(query: str | None) -> str:
    """The namespace of a consul-template "?ns=x&partition=y" query suffix."""
    for part in (query or "").split("&"):
        key, _, value = part.partition("=")
        if key == "ns":
            return value
    return ""


def _disabled(name: str) -> Callable[..., Any]:
    def disabled(*_args: Any) -> Any:
        raise FuncError(f'function "{name}" is disabled by the client\'s function_denylist')
    return disabled


def consul_template_functions(source: DataSource, *, env: Mapping[str, str] | None = None,
                              sandbox_dir: str | os.PathLike[str] | None = None,
                              namespace: str = "",
                              denylist: tuple[str, ...] = DEFAULT_DENYLIST,
                              now: Callable[[], datetime] | None = None) -> TemplateFunctions:
    """The functions of one render (see the module docstring)."""
    return TemplateFunctions(source, env=env, sandbox_dir=sandbox_dir, namespace=namespace,
                             denylist=denylist, now=now)
