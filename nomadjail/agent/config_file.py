"""Agent config files (HCL or JSON, Nomad's keys) -> overlays for :func:`config.merge`.

The file's layout is Nomad's (``server { enabled = true }``, ``ports { http =
4646 }``, ``plugin "raw_exec" { config { enabled = true } }``); the overlay's
layout is :class:`~nomadjail.agent.config.AgentConfig`'s.  ``SCHEMA`` says,
for every accepted key, its type and where it lands.  Unknown keys and wrong
types are errors that name the file and line (HCL) or key path (JSON), with a
did-you-mean suggestion, and nothing is loaded.

Types are read the way Nomad's HCL1 decoder reads them, since files written
for Nomad (potluck's ``bootstrap_expect = "3"``) must load here too: a whole
number may be written as a string (``"3"``, ``"0x10"``), a bool as
``"true"``/``"false"``/``1``/``0`` (quoted or not), a string as a number or
bool (``datacenter = 1`` is ``"1"``).  Strings that are not numbers, numbers
that are not whole, and everything else are still errors.  (HCL1 takes no
strings for fractional numbers; nomadjail does, a harmless superset.)
"""

from __future__ import annotations

import difflib
import enum
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..helper.artifact_config import parse_size
from ..structs import BadRequest, parse_duration


class ConfigError(BadRequest):
    """A config file is malformed; the message starts with ``file:line:col`` or ``file:``."""


class Kind(enum.StrEnum):
    """The type a config key holds (and how a file's value is converted to it)."""

    STR = "str"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    PORT = "port"  # a whole number 1-65535
    DURATION = "duration"  # "10s" -> 10.0 seconds
    SIZE = "size"  # "100GB", "1GiB" -> bytes
    STRINGS = "strings"  # a list of strings
    MAP = "map"  # string -> string
    ANY = "any"  # kept as written (plugin config: the driver checks it)


@dataclass(frozen=True, slots=True)
class Key:
    kind: Kind
    target: tuple[str, ...]  # where the value lands in the overlay


@dataclass(frozen=True, slots=True)
class Labeled:
    """A block with one label (``plugin "raw_exec" { ... }``), stored as target[label]."""

    target: tuple[str, ...]
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Section:
    """A block whose mere presence means something: ``consul { }`` turns the
    integration on even with every key left at its default."""

    body: dict[str, Any]
    present: tuple[str, ...]  # set to True in the overlay when the block appears


@dataclass(frozen=True, slots=True)
class LabeledAttributes:
    """A block with one label whose body holds typed attributes (``host_volume "data" {
    path = "/srv" }``), stored as target[label] = {attribute: value}."""

    target: tuple[str, ...]
    body: dict[str, Key]


def _listener_keys(section: str, kind: Kind) -> dict[str, Key]:
    return {name: Key(kind, (section, name)) for name in ("http", "rpc", "serf")}


SCHEMA: dict[str, Any] = {
    "name": Key(Kind.STR, ("name",)),
    "region": Key(Kind.STR, ("region",)),
    "datacenter": Key(Kind.STR, ("datacenter",)),
    "data_dir": Key(Kind.STR, ("data_dir",)),
    "bind_addr": Key(Kind.STR, ("bind_addr",)),
    "log_level": Key(Kind.STR, ("log_level",)),
    "ports": _listener_keys("ports", Kind.PORT),
    "addresses": _listener_keys("addresses", Kind.STR),
    "advertise": _listener_keys("advertise", Kind.STR),
    "server": {
        "enabled": Key(Kind.BOOL, ("server", "enabled")),
        "bootstrap_expect": Key(Kind.INT, ("server", "bootstrap_expect")),
        "num_schedulers": Key(Kind.INT, ("server", "num_schedulers")),
        # Nomad's block; pot_image_scoring_enabled is nomadjail's own key in it
        # (nomadjail.scheduler.pot_images), on unless set false.
        "default_scheduler_config": {
            "pot_image_scoring_enabled": Key(Kind.BOOL, ("server", "pot_image_scoring")),
        },
        "heartbeat_grace": Key(Kind.DURATION, ("server", "heartbeat_grace")),
        "min_heartbeat_ttl": Key(Kind.DURATION, ("server", "min_heartbeat_ttl")),
        "max_heartbeats_per_second": Key(Kind.FLOAT, ("server", "max_heartbeats_per_second")),
        "raft_multiplier": Key(Kind.INT, ("server", "raft_multiplier")),
        "encrypt": Key(Kind.STR, ("server", "encrypt")),
        "server_join": {"retry_join": Key(Kind.STRINGS, ("server", "server_join"))},
        "job_gc_interval": Key(Kind.DURATION, ("server", "gc_interval")),
        "eval_gc_threshold": Key(Kind.DURATION, ("server", "eval_gc_threshold")),
        "batch_eval_gc_threshold": Key(Kind.DURATION, ("server", "batch_eval_gc_threshold")),
        "job_gc_threshold": Key(Kind.DURATION, ("server", "job_gc_threshold")),
        "deployment_gc_threshold": Key(Kind.DURATION, ("server", "deployment_gc_threshold")),
        "node_gc_threshold": Key(Kind.DURATION, ("server", "node_gc_threshold")),
    },
    "client": {
        "enabled": Key(Kind.BOOL, ("client", "enabled")),
        "servers": Key(Kind.STRINGS, ("client", "servers")),
        "node_class": Key(Kind.STR, ("client", "node_class")),
        "node_pool": Key(Kind.STR, ("client", "node_pool")),
        "meta": Key(Kind.MAP, ("client", "meta")),
        "options": Key(Kind.MAP, ("client", "options")),
        "network_interface": Key(Kind.STR, ("client", "network_interface")),
        "min_dynamic_port": Key(Kind.PORT, ("client", "min_dynamic_port")),
        "max_dynamic_port": Key(Kind.PORT, ("client", "max_dynamic_port")),
        "reserved": {
            "cpu": Key(Kind.INT, ("client", "reserved_cpu")),
            "memory": Key(Kind.INT, ("client", "reserved_memory")),
            "reserved_ports": Key(Kind.STR, ("client", "reserved_ports")),
        },
        "host_volume": LabeledAttributes(("client", "host_volumes"), {
            "path": Key(Kind.STR, ("path",)), "read_only": Key(Kind.BOOL, ("read_only",))}),
        "template": {
            "disable_file_sandbox": Key(Kind.BOOL, ("client", "template_disable_file_sandbox")),
            "function_denylist": Key(Kind.STRINGS, ("client", "template_function_denylist")),
            "max_stale": Key(Kind.DURATION, ("client", "template_max_stale")),
            "block_query_wait": Key(Kind.DURATION, ("client", "template_block_query_wait")),
            # nomadjail's own: seconds between re-reads of the files templates read
            "watch_interval": Key(Kind.DURATION, ("client", "template_watch_interval")),
        },
        "artifact": {
            **{name: Key(Kind.DURATION, ("client", "artifact", name))
               for name in ("http_read_timeout", "gcs_timeout", "git_timeout", "hg_timeout",
                            "s3_timeout")},
            **{name: Key(Kind.SIZE, ("client", "artifact", name))
               for name in ("http_max_size", "decompression_size_limit")},
            "decompression_file_count_limit": Key(
                Kind.INT, ("client", "artifact", "decompression_file_count_limit")),
            **{name: Key(Kind.BOOL, ("client", "artifact", name))
               for name in ("disable_artifact_inspection", "disable_filesystem_isolation")},
            "filesystem_isolation_extra_paths": Key(
                Kind.STRINGS, ("client", "artifact", "filesystem_isolation_extra_paths")),
            "set_environment_variables": Key(
                Kind.STR, ("client", "artifact", "set_environment_variables")),
        },
    },
    "ui": {"enabled": Key(Kind.BOOL, ("ui_enabled",))},
    "consul": Section({
        "address": Key(Kind.STR, ("consul", "address")),
        # nomadjail's own: more Consul addresses, tried in turn (see ConsulSettings)
        "fallback_addresses": Key(Kind.STRINGS, ("consul", "fallback_addresses")),
        "token": Key(Kind.STR, ("consul", "token")),
        "auth": Key(Kind.STR, ("consul", "auth")),
        "ssl": Key(Kind.BOOL, ("consul", "ssl")),
        "verify_ssl": Key(Kind.BOOL, ("consul", "verify_ssl")),
        "ca_file": Key(Kind.STR, ("consul", "ca_file")),
        "cert_file": Key(Kind.STR, ("consul", "cert_file")),
        "key_file": Key(Kind.STR, ("consul", "key_file")),
        "share_ssl": Key(Kind.BOOL, ("consul", "share_ssl")),
        "server_service_name": Key(Kind.STR, ("consul", "server_service_name")),
        "server_http_check_name": Key(Kind.STR, ("consul", "server_http_check_name")),
        "server_serf_check_name": Key(Kind.STR, ("consul", "server_serf_check_name")),
        "server_rpc_check_name": Key(Kind.STR, ("consul", "server_rpc_check_name")),
        "client_service_name": Key(Kind.STR, ("consul", "client_service_name")),
        "client_http_check_name": Key(Kind.STR, ("consul", "client_http_check_name")),
        "tags": Key(Kind.STRINGS, ("consul", "tags")),
        "auto_advertise": Key(Kind.BOOL, ("consul", "auto_advertise")),
        "checks_use_advertise": Key(Kind.BOOL, ("consul", "checks_use_advertise")),
        "server_auto_join": Key(Kind.BOOL, ("consul", "server_auto_join")),
        "client_auto_join": Key(Kind.BOOL, ("consul", "client_auto_join")),
        "allow_unauthenticated": Key(Kind.BOOL, ("consul", "allow_unauthenticated")),
        "timeout": Key(Kind.DURATION, ("consul", "timeout")),
    }, present=("consul", "enabled")),
    "enable_syslog": Key(Kind.BOOL, ("enable_syslog",)),
    "syslog_facility": Key(Kind.STR, ("syslog_facility",)),
    "remote_syslog": {  # nomadjail's own: the agent's log to a syslog server
        "address": Key(Kind.STR, ("remote_syslog", "address")),
        "buffer_lines": Key(Kind.INT, ("remote_syslog", "buffer_lines")),
    },
    "telemetry": {
        "collection_interval": Key(Kind.DURATION, ("telemetry", "collection_interval")),
        "publish_allocation_metrics": Key(Kind.BOOL, ("telemetry", "publish_allocation_metrics")),
        "publish_node_metrics": Key(Kind.BOOL, ("telemetry", "publish_node_metrics")),
        "prometheus_metrics": Key(Kind.BOOL, ("telemetry", "prometheus_metrics")),
        "disable_hostname": Key(Kind.BOOL, ("telemetry", "disable_hostname")),
        "use_node_name": Key(Kind.BOOL, ("telemetry", "use_node_name")),
    },
    "leave_on_interrupt": Key(Kind.BOOL, ("leave_on_interrupt",)),
    "leave_on_terminate": Key(Kind.BOOL, ("leave_on_terminate",)),
    "disable_update_check": Key(Kind.BOOL, ("disable_update_check",)),
    "plugin": Labeled(("plugins",), {"config": Key(Kind.ANY, ())}),
}


@dataclass(slots=True)
class Entry:
    """One key of a file in a format-neutral form: a value or a (labeled) block."""

    name: str
    where: str  # "file:line:col" (HCL) or "file" (JSON; the message names the key path)
    value: Any = None
    block: list[Entry] | None = None  # set for blocks
    labels: tuple[str, ...] = ()


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    kind = {bool: "bool", int: "number", float: "number", str: "string", list: "list",
            dict: "object"}.get(type(value), type(value).__name__)
    text = json.dumps(value) if isinstance(value, (str, int, float, bool)) else kind
    return f"{kind} {text}" if kind != text else kind


_WHOLE_NUMBER = re.compile(r"[+-]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|\d+)")
_TRUE, _FALSE = ("true", "1"), ("false", "0")


def _as_int(value: Any) -> int | None:
    """A whole number from a number or a numeric string (HCL1's decodeInt); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value.strip()):
        text = value.strip()
        base = 10 if text.lstrip("+-").isdigit() else 0
        return int(text, base)
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if number == number and abs(number) != float("inf") else None
    return None


def _as_bool(value: Any) -> bool | None:
    """HCL1's decodeBool: true/false, 1/0, and those as strings (any case)."""
    if isinstance(value, bool):
        return value
    text = value.strip().lower() if isinstance(value, str) else (
        str(value) if isinstance(value, int) else None)
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def _as_str(value: Any) -> str | None:
    """HCL1's decodeString: a string, or a number or bool as it is written."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return None


def _convert(kind: Kind, value: Any, where: str, name: str) -> Any:
    def fail(expected: str) -> ConfigError:
        return ConfigError(f"{where}: {name}: expected {expected}, got {_describe(value)}")

    if kind is Kind.ANY:
        return value
    if kind is Kind.STR:
        text = _as_str(value)
        if text is None:
            raise fail("a string")
        return text
    if kind is Kind.BOOL:
        flag = _as_bool(value)
        if flag is None:
            raise fail('true or false (or "true", "false", 1, 0)')
        return flag
    if kind in (Kind.INT, Kind.PORT):
        number = _as_int(value)
        if number is None:
            raise fail("a whole number")
        if kind is Kind.PORT and not 0 < number < 65536:
            raise ConfigError(f"{where}: {name}: port {number} is not between 1 and 65535")
        return number
    if kind is Kind.FLOAT:
        real = _as_float(value)
        if real is None:
            raise fail("a number")
        return real
    if kind is Kind.DURATION:
        if isinstance(value, str):
            try:
                return parse_duration(value) / 1e9
            except ValueError as err:
                raise ConfigError(f"{where}: {name}: {err}") from None
        raise fail('a duration string such as "10s"')
    if kind is Kind.SIZE:
        text = _as_str(value)
        if text is None:
            raise fail('a size string such as "100GB"')
        try:
            return parse_size(text)
        except ValueError as err:
            raise ConfigError(f"{where}: {name}: {err}") from None
    if kind is Kind.STRINGS:
        items = [_as_str(v) for v in value] if isinstance(value, list) else None
        if items is None or any(item is None for item in items):
            raise fail("a list of strings")
        return items
    if kind is Kind.MAP:
        if not isinstance(value, dict):
            raise fail("a map of strings")
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}
    raise AssertionError(f"unknown kind {kind}")


def _unknown(entry: Entry, allowed: Iterable[str], section: str) -> ConfigError:
    allowed = sorted(allowed)
    guess = difflib.get_close_matches(entry.name, allowed, n=1)
    hint = f'; did you mean "{guess[0]}"?' if guess else f" (valid keys: {', '.join(allowed)})"
    place = f" in {section}" if section else ""
    return ConfigError(f'{entry.where}: unknown key "{entry.name}"{place}{hint}')


def _put(overlay: dict, target: tuple[str, ...], value: Any) -> None:
    node = overlay
    for part in target[:-1]:
        node = node.setdefault(part, {})
    node[target[-1]] = value


def decode(entries: list[Entry], schema: dict[str, Any], overlay: dict,
           section: str = "") -> None:
    """Apply ``entries`` to ``overlay`` following ``schema``; raise on the first problem."""
    for entry in entries:
        spec = schema.get(entry.name)
        if spec is None:
            raise _unknown(entry, schema, section)
        path = f"{section}.{entry.name}" if section else entry.name
        if isinstance(spec, Key):
            if entry.block is not None:
                if spec.kind in (Kind.MAP, Kind.ANY):
                    _put(overlay, spec.target,
                         _convert(spec.kind, _block_as_value(entry), entry.where, path))
                    continue
                raise ConfigError(f"{entry.where}: {path}: expected a value, got a block")
            _put(overlay, spec.target, _convert(spec.kind, entry.value, entry.where, path))
        elif isinstance(spec, LabeledAttributes):
            if entry.block is None or len(entry.labels) != 1:
                raise ConfigError(f'{entry.where}: {path}: expected a block with one label, '
                                  f'as in {entry.name} "name" {{ ... }}')
            values: dict[str, Any] = {}
            for item in entry.block:
                key = spec.body.get(item.name)
                if key is None:
                    raise _unknown(item, spec.body, f'{entry.name} "{entry.labels[0]}"')
                if item.block is not None:
                    raise ConfigError(f"{item.where}: {path}.{item.name}: expected a value, "
                                      "got a block")
                values[key.target[0]] = _convert(key.kind, item.value, item.where,
                                                 f"{path}.{item.name}")
            _put(overlay, (*spec.target, entry.labels[0]), values)
        elif isinstance(spec, Labeled):
            if entry.block is None or len(entry.labels) != 1:
                raise ConfigError(f'{entry.where}: {path}: expected a block with one label, '
                                  f'as in {entry.name} "name" {{ ... }}')
            settings: dict[str, Any] = {}
            for item in entry.block:
                if item.name not in spec.body:
                    raise _unknown(item, spec.body, f'{entry.name} "{entry.labels[0]}"')
                value = _block_as_value(item) if item.block is not None else item.value
                if not isinstance(value, dict):
                    raise ConfigError(f"{item.where}: {path}.{item.name}: expected a block")
                settings.update(value)
            _put(overlay, (*spec.target, entry.labels[0]), settings)
        else:
            if entry.block is None:
                raise ConfigError(f"{entry.where}: {path}: expected a block, "
                                  f"got {_describe(entry.value)}")
            if isinstance(spec, Section):
                _put(overlay, spec.present, True)
                spec = spec.body
            decode(entry.block, spec, overlay, path)


def _block_as_value(entry: Entry) -> dict[str, Any]:
    assert entry.block is not None
    return {item.name: _block_as_value(item) if item.block is not None else item.value
            for item in entry.block}


# -- formats ---------------------------------------------------------------------------
def json_entries(data: Any, filename: str, path: str = "") -> list[Entry]:
    """JSON config files use objects for blocks and ``{"label": {...}}`` for labeled ones."""
    if not isinstance(data, dict):
        where = f"{filename}: {path}" if path else filename
        raise ConfigError(f"{where}: expected a JSON object, got {_describe(data)}")
    entries = []
    for name, value in data.items():
        key_path = f"{path}.{name}" if path else name
        where = filename  # JSON has no positions here; messages name the key path
        if ((name == "plugin" and not path) or (name == "host_volume" and path == "client")) \
                and isinstance(value, dict):
            for label, body in value.items():
                entries.append(Entry(name, where, block=json_entries(body, filename,
                                                                   f"{key_path}.{label}"),
                                     labels=(label,)))
        elif isinstance(value, dict) and name not in ("meta", "options"):
            entries.append(Entry(name, where, block=json_entries(value, filename, key_path)))
        else:
            entries.append(Entry(name, where, value=value))
    return entries


def hcl_entries(text: str, filename: str) -> list[Entry]:
    from ..jobspec import JobspecError, parse_body

    try:
        return _body_entries(parse_body(text, filename))
    except JobspecError as err:  # the same file:line:col message, as a config error
        raise ConfigError(str(err)) from None


def _body_entries(body: Any) -> list[Entry]:
    def where(pos: Any) -> str:
        return f"{pos.filename}:{pos.line}:{pos.column}"

    entries = [Entry(a.name, where(a.pos), value=a.value) for a in body.attributes.values()]
    entries += [Entry(b.type, where(b.pos), block=_body_entries(b.body), labels=tuple(b.labels))
                for b in body.blocks]
    return entries


READERS: dict[str, Callable[[str, str], list[Entry]]] = {
    ".json": lambda text, name: json_entries(_load_json(text, name), name),
    ".hcl": hcl_entries,
}


def _load_json(text: str, filename: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{filename}:{err.lineno}:{err.colno}: invalid JSON: {err.msg}") from None


def load_config_file(path: str) -> dict[str, Any]:
    reader = READERS.get(Path(path).suffix)
    if reader is None:
        raise ConfigError(f"{path}: config files must end in .hcl or .json")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config file: {err.strerror}") from None
    overlay: dict[str, Any] = {}
    decode(reader(text, path), SCHEMA, overlay)
    return overlay


def _is_editor_temporary(name: str) -> bool:
    """Editor droppings Nomad skips in a config directory (vim's ``~``, emacs' ``.#``/``#…#``)."""
    return name.endswith("~") or name.startswith(".#") or (
        name.startswith("#") and name.endswith("#"))


def load_config_paths(paths: Iterable[str]) -> list[dict[str, Any]]:
    """One overlay per file; a directory contributes its .hcl/.json files in name order."""
    overlays: list[dict[str, Any]] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.suffix in READERS and f.is_file()
                           and not _is_editor_temporary(f.name))
            overlays.extend(load_config_file(str(f)) for f in files)
        elif p.exists():
            overlays.append(load_config_file(path))
        else:
            raise ConfigError(f"{path}: config file or directory does not exist")
    return overlays
