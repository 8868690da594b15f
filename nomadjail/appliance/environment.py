"""The appliance's settings: pot environment variables, read and checked.

``pot set-env -E NAME=value`` ends up in the jail's ``/tmp/environment.sh``
(lines such as ``export "NODENAME=server1"``), which potluck's cook scripts
source.  :func:`read_environment` reads the process environment, then that
file over it (as sourcing would).  :func:`settings_from_environment` checks
every variable and returns :class:`ApplianceSettings`, or raises
:class:`InvalidEnvironment` listing *every* problem, each naming the
variable, its value and the rule -- so one run tells the operator all there
is to fix.

=============== ========= ===================================================
variable        required  rule
=============== ========= ===================================================
NODENAME        yes       a name: letters, digits, ``.``, ``_``, ``-``
DATACENTER      yes       a name
IP              yes       an IPv4 or IPv6 address (this jail's)
CONSULSERVERS   yes       comma list of addresses (``ip`` or ``ip:port``),
                          no spaces
BOOTSTRAP       no        1, 3 or 5 (default 1)
REGION          no        a name (default ``global``)
GOSSIPKEY       no        base64 of 16 or 32 bytes (default: potluck's key,
                          with a loud warning)
REMOTELOG       no        an address (``ip`` or ``ip:port``, port 514)
IMPORTJOBS      no        0 or 1 (default 0)
RAFTMULTIPLIER  no        a whole number 1-10 (default 1)
DISABLEUI       no        set (to anything) turns the web UI off
RETRYJOIN       no        comma list of the other servers' addresses (``ip``
                          or ``ip:port``, port 4648), no spaces; with
                          BOOTSTRAP=N, N-1 of them (this jail's own IP may
                          be listed and is skipped).  Unset: the servers
                          find each other in Consul
=============== ========= ===================================================
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..agent.addresses import join_host_port, split_host_port

REQUIRED = ("NODENAME", "DATACENTER", "IP", "CONSULSERVERS")
OPTIONAL = ("BOOTSTRAP", "REGION", "GOSSIPKEY", "REMOTELOG", "IMPORTJOBS", "RAFTMULTIPLIER",
            "DISABLEUI", "RETRYJOIN")
BOOTSTRAP_SIZES = (1, 3, 5)
RAFT_MULTIPLIER_RANGE = (1, 10)
DEFAULT_REGION = "global"
# potluck's well-known default (a 32-byte key): anyone can read it, so it only keeps
# a lab working; production sets GOSSIPKEY.
DEFAULT_GOSSIP_KEY = "BY+vavBUSEmNzmxxS3k3bmVFn1giS4uEudc774nBhIw="
GOSSIP_KEY_SIZES = (16, 32)
CONSUL_PORT = 8500
SYSLOG_PORT = 514
SERF_PORT = 4648

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
NAME_RULE = "1-63 letters, digits, '.', '_' or '-', starting with a letter or digit"


class InvalidEnvironment(ValueError):
    """Some variables are missing or wrong; ``problems`` has one line per variable."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class ApplianceSettings:
    node_name: str
    datacenter: str
    ip: str
    consul_servers: list[str]  # "host:port" ("[v6]:port"), port defaulted to 8500
    bootstrap: int = 1
    region: str = DEFAULT_REGION
    gossip_key: str = DEFAULT_GOSSIP_KEY
    gossip_key_given: bool = False
    remote_log: str = ""  # "host:port", port defaulted to 514; "" = off
    import_jobs: bool = False
    raft_multiplier: int = 1
    ui_enabled: bool = True
    retry_join: list[str] = field(default_factory=list)  # other servers, "host:port"
    warnings: list[str] = field(default_factory=list)


# -- reading ---------------------------------------------------------------------------
def parse_environment_file(text: str) -> dict[str, str]:
    """The variables an ``environment.sh`` written by pot exports.

    pot writes ``export "NAME=value"`` for set-env variables (double quotes in
    the value escaped) and ``export _POT_NAME=...`` lines; both are read with
    shell quoting rules.  Lines that are not ``export`` statements are ignored;
    ``$`` expansions are not performed.
    """
    found: dict[str, str] = {}
    for line in text.splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue  # unbalanced quotes: not something pot writes
        if not words or words[0] != "export":
            continue
        for word in words[1:]:
            name, sep, value = word.partition("=")
            if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                found[name] = value
    return found


def read_environment(environ: Mapping[str, str], environment_file: Path) -> dict[str, str]:
    """``environ`` with the variables of ``environment_file`` (if it exists) over it."""
    merged = dict(environ)
    if environment_file.is_file():
        merged.update(parse_environment_file(environment_file.read_text(errors="replace")))
    return merged


# -- checking --------------------------------------------------------------------------
def _address(text: str, default_port: int) -> str:
    """``ip``, ``ip:port``, ``v6`` or ``[v6]:port`` -> ``ip:port`` / ``[v6]:port``;
    ValueError says why."""
    host, port = split_host_port(text, default_port)
    host = str(ipaddress.ip_address(host))  # ValueError if not an address
    return join_host_port(host, port)


def _address_list(env: Mapping[str, str], name: str, default_port: int, example: str,
                  bad: Callable[[str, str], None]) -> list[str]:
    """A comma list of addresses without spaces; [] (and a problem) if it is not."""
    text = env.get(name, "")
    rule = f"expected a comma-separated list such as {example}"
    if any(c.isspace() for c in text):
        bad(name, f"must be a comma-separated list of addresses without spaces, such as "
                  f"{example}")
        return []
    found = []
    for item in text.split(","):
        try:
            found.append(_address(item, default_port))
        except ValueError:
            bad(name, f"{item!r} is not an address (ip or ip:port); {rule}")
            return []
    return found


def settings_from_environment(env: Mapping[str, str]) -> ApplianceSettings:
    """Check every variable (see the module docstring); all problems at once."""
    problems: list[str] = []

    def bad(name: str, rule: str) -> None:
        problems.append(f"{name}={env.get(name, '')!r}: {rule}")

    for name in REQUIRED:
        if not env.get(name, "").strip():
            problems.append(f"{name} is not set: it is required (pot set-env -E {name}=...)")

    def name_var(var: str, default: str = "") -> str:
        value = env.get(var, "") or default
        if value and not _NAME.fullmatch(value):
            bad(var, f"must be {NAME_RULE}")
        return value

    node_name = name_var("NODENAME")
    datacenter = name_var("DATACENTER")
    region = name_var("REGION", DEFAULT_REGION)

    ip = env.get("IP", "")
    if ip.strip():
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            bad("IP", "must be an IPv4 or IPv6 address, such as 10.0.0.5")

    consul_servers: list[str] = []
    if env.get("CONSULSERVERS", "").strip():
        consul_servers = _address_list(env, "CONSULSERVERS", CONSUL_PORT,
                                       "10.0.0.2,10.0.0.3", bad)

    bootstrap = 1
    if env.get("BOOTSTRAP", ""):
        text = env["BOOTSTRAP"]
        if text.strip() in {str(n) for n in BOOTSTRAP_SIZES}:
            bootstrap = int(text)
        else:
            bad("BOOTSTRAP", "must be 1, 3 or 5 (the number of servers in the cluster)")

    raft_multiplier = 1
    if env.get("RAFTMULTIPLIER", ""):
        text = env["RAFTMULTIPLIER"].strip()
        low, high = RAFT_MULTIPLIER_RANGE
        if text.isdigit() and low <= int(text) <= high:
            raft_multiplier = int(text)
        else:
            bad("RAFTMULTIPLIER", f"must be a whole number from {low} to {high}")

    import_jobs = False
    if env.get("IMPORTJOBS", ""):
        text = env["IMPORTJOBS"].strip()
        if text in ("0", "1"):
            import_jobs = text == "1"
        else:
            bad("IMPORTJOBS", "must be 0 or 1 (1 imports /root/nomadjobs/*.nomad)")

    warnings = []
    gossip_key, given = DEFAULT_GOSSIP_KEY, "GOSSIPKEY" in env
    if given:
        gossip_key = env["GOSSIPKEY"].strip()
        try:
            size = len(base64.b64decode(gossip_key, validate=True))
        except (binascii.Error, ValueError):
            size = -1
        if size not in GOSSIP_KEY_SIZES:
            what = "is not base64" if size < 0 else f"decodes to {size} bytes"
            bad("GOSSIPKEY", f"must be base64 of 16 or 32 bytes (it {what}); make one "
                             "with: openssl rand -base64 32")
    else:
        warnings.append("GOSSIPKEY is not set: using the default key, which is public. "
                        "Anyone who knows it can join or read the servers' traffic. Set "
                        "your own: pot set-env -E GOSSIPKEY=\"$(openssl rand -base64 32)\"")

    remote_log = ""
    if env.get("REMOTELOG", ""):
        try:
            remote_log = _address(env["REMOTELOG"].strip(), SYSLOG_PORT)
        except ValueError:
            bad("REMOTELOG", "must be the address of a syslog server (ip or ip:port; "
                             "port 514 if not given)")

    retry_join: list[str] = []
    if env.get("RETRYJOIN", ""):
        retry_join = _address_list(env, "RETRYJOIN", SERF_PORT, "10.0.0.6,10.0.0.7", bad)
        # This jail's own address may be listed (one list for every server): skip it.
        others = [peer for peer in dict.fromkeys(retry_join)
                  if split_host_port(peer, SERF_PORT)[0] != ip]
        if retry_join and len(others) != bootstrap - 1:
            bad("RETRYJOIN", f"must list the {bootstrap - 1} other server(s) of a cluster of "
                             f"BOOTSTRAP={bootstrap}, found {len(others)}"
                + ("" if bootstrap > 1 else " (leave it unset for a single server)"))
        retry_join = others

    if problems:
        raise InvalidEnvironment(problems)
    return ApplianceSettings(
        node_name=node_name, datacenter=datacenter, ip=ip, consul_servers=consul_servers,
        bootstrap=bootstrap, region=region, gossip_key=gossip_key, gossip_key_given=given,
        remote_log=remote_log, import_jobs=import_jobs, raft_multiplier=raft_multiplier,
        ui_enabled="DISABLEUI" not in env, retry_join=retry_join, warnings=warnings)
