"""Every ``pot`` command line the driver runs, as argv lists (never shell strings).

This is the only module that knows pot's command-line grammar (pot 0.16's
getopts strings are quoted next to each builder).  Values travel as single
argv elements, so pot sees exactly what the job says; where pot itself later
hands a value to ``sh`` (the start command and the environment, both written
into the pot's start script), the value is prepared for that here:

* the start command line is ``command`` and ``args`` joined with spaces, as
  the Go driver builds it (published job files pass ``args = ["-g", "'daemon
  off;'"]`` and rely on ``sh`` reading the quotes), wrapped in double quotes,
  which ``set-cmd`` strips again (so a command starting with ``"`` or ``-n``
  survives);
* environment values are escaped for the ``export "K=V"`` lines pot writes
  (``\\``, ``$`` and backquote get a backslash; pot escapes ``"`` itself), so
  ``$HOME`` in a value stays ``$HOME`` inside the pot.  A value with a line
  break cannot be written into that script and is refused.
"""

from __future__ import annotations

import re
import signal as signals
from collections.abc import Mapping, Sequence

# FreeBSD's signal names (``killall -l``), the ones ``pot signal -s`` accepts.
FREEBSD_SIGNALS = ("HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "EMT", "FPE", "KILL", "BUS",
                   "SEGV", "SYS", "PIPE", "ALRM", "TERM", "URG", "STOP", "TSTP", "CONT", "CHLD",
                   "TTIN", "TTOU", "IO", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "INFO",
                   "USR1", "USR2", "LWP", "THR", "LIBRT")
DEFAULT_KILL_SIGNAL = "SIGINT"  # Nomad's default kill_signal
_SHELL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TINIRC_SPECIALS = re.compile(r'([\\$`])')
_SHELL_SPLIT_OR_GLOB = "*?[]\\"  # with whitespace: what an unquoted sh word must not hold


class ArgvError(ValueError):
    """A value cannot be passed to pot as asked; the message names it."""


def command_line(command: str, args: Sequence[str]) -> str:
    """The pot's start command line: ``command`` and ``args`` joined with spaces; the pot
    runs it with ``sh``, which splits and unquotes it (the Go driver's meaning)."""
    return " ".join([command, *args])


def is_shell_name(name: str) -> bool:
    """Whether ``export NAME=...`` works in ``sh`` (other names would end pot's start script)."""
    return bool(_SHELL_NAME.match(name))


def escape_env_value(name: str, value: str) -> str:
    """``value`` escaped for pot's ``export "NAME=value"`` line (see the module doc)."""
    if "\n" in value or "\x00" in value:
        raise ArgvError(f"environment variable {name}: a value with a line break cannot be "
                        f"passed into a pot, got {value!r}")
    return _TINIRC_SPECIALS.sub(r"\\\1", value)


def pot_signal_name(signal: str) -> str:
    """``"SIGTERM"``, ``"term"``, ``"15"`` -> ``"SIGTERM"``; ``""`` -> Nomad's default.

    Numbers are this host's numbers (the driver runs where pot runs).
    Raises ArgvError for a signal FreeBSD does not have.
    """
    if not signal:
        return DEFAULT_KILL_SIGNAL
    text = signal.strip().upper()
    if text.isdigit():
        try:
            text = signals.Signals(int(text)).name
        except ValueError:
            raise ArgvError(f"unknown signal number {signal!r}") from None
    bare = text[3:] if text.startswith("SIG") else text
    if bare not in FREEBSD_SIGNALS:
        raise ArgvError(f"unknown signal {signal!r}; pot accepts: "
                        + ", ".join("SIG" + name for name in FREEBSD_SIGNALS))
    return "SIG" + bare


# -- the commands ----------------------------------------------------------------------
def prepare(*, image: str, pot: str, tag: str, command: str, network_type: str,
            exports: Sequence[str], allocation_tag: str, name: str,
            resolv_conf: str = "", addresses: Sequence[str] = ()) -> list[str]:
    """``prepare`` (getopts ``hvp:U:t:c:e:a:n:sN:i:B:S:d:C:``): import ``<pot>_<tag>`` from
    ``image`` if missing and clone it to ``<name>_<allocation_tag>``.

    ``command`` "" keeps the image's own command.  Bridged pots get an
    automatic address (``-i auto``) and the ``exports`` (``inside:host``);
    an ``alias`` pot gets its ``addresses`` (one ``-i`` each) and no exports
    (pot redirects nothing to it); ``inherit`` shares the host's addresses, so
    it takes neither.  pot hands each ``-i`` on to ``clone`` unquoted, so an
    address the shell would split or glob is refused (ArgvError).
    ``resolv_conf``: a host file pot copies into the pot as its
    ``/etc/resolv.conf`` (``-d custom:<file>``; "" keeps the image's setting).
    pot hands that value on to ``clone`` unquoted (prepare.sh:
    ``_clone_network_opt="$_clone_network_opt -d $_dns"``), so a path the shell
    would split or glob is refused (ArgvError naming it) rather than broken.
    """
    argv = ["prepare", "-U", image, "-p", pot, "-t", tag]
    if command:
        argv += ["-c", f'"{command}"']
    argv += ["-N", network_type]
    if network_type == "alias":
        if not addresses:
            raise ArgvError("an alias pot needs an IP address (`prepare -i`)")
        for address in addresses:
            unsafe = sorted({ch for ch in address
                             if ch.isspace() or ch in _SHELL_SPLIT_OR_GLOB})
            if unsafe:
                raise ArgvError(f"the alias address {address!r} contains {unsafe!r}, which "
                                "pot's shell would split or expand")
            argv += ["-i", address]
    elif network_type != "inherit":
        argv += ["-i", "auto"]
        for export in exports:
            argv += ["-e", export]
    if resolv_conf:
        unsafe = sorted({ch for ch in resolv_conf if ch.isspace() or ch in _SHELL_SPLIT_OR_GLOB})
        if unsafe:
            raise ArgvError(f"the resolv.conf path {resolv_conf!r} contains {unsafe!r}: pot "
                            "passes it on unquoted (`prepare -d custom:<file>`), so it must "
                            "hold no whitespace or glob characters (move the client's "
                            "data_dir to such a path to use a dns block)")
        argv += ["-d", f"custom:{resolv_conf}"]
    argv += ["-a", allocation_tag, "-n", name]
    return argv


def port_export(inside: int, host: int, protocol: str = "tcp") -> str:
    """A ``-e`` value: ``inside:host`` (``udp:inside:host`` for UDP)."""
    return f"{inside}:{host}" if protocol == "tcp" else f"{protocol}:{inside}:{host}"


def set_attribute(name: str, attribute: str, value: str) -> list[str]:
    """``set-attribute`` (getopts ``hvp:A:V:``)."""
    return ["set-attribute", "-p", name, "-A", attribute, "-V", value]


def copy_in(name: str, source: str, destination: str) -> list[str]:
    """``copy-in`` (getopts ``hvs:d:p:Fc``): copy a host file or directory into the pot."""
    return ["copy-in", "-p", name, "-s", source, "-d", destination]


def mount_in(name: str, host_dir: str, mount_point: str, *, read_only: bool) -> list[str]:
    """``mount-in`` (getopts ``hvf:d:z:p:m:wr``): nullfs-mount a host directory."""
    argv = ["mount-in", "-p", name, "-d", host_dir, "-m", mount_point]
    if read_only:
        argv.append("-r")
    return argv


def set_env(name: str, env: Mapping[str, str]) -> list[str]:
    """``set-env`` (getopts ``hvp:E:``): replaces all of the pot's variables.

    Names ``sh`` cannot export are left out (see :func:`is_shell_name`);
    values are escaped (:func:`escape_env_value`).
    """
    argv = ["set-env", "-p", name]
    for key, value in env.items():
        if is_shell_name(key):
            argv += ["-E", f"{key}={escape_env_value(key, value)}"]
    return argv


def set_hosts(name: str, hosts: Sequence[str]) -> list[str]:
    """``set-hosts`` (getopts ``hvp:H:``): ``hostname:ip`` lines for the pot's /etc/hosts."""
    argv = ["set-hosts", "-p", name]
    for host in hosts:
        argv += ["-H", host]
    return argv


def set_rss(name: str, *, memory_mb: int = 0, cpus: int = 0) -> list[str]:
    """``set-rss`` (getopts ``hvp:C:M:``): ``-C`` the number of CPUs the pot is pinned to
    (a cpuset pot picks at start), ``-M`` the hard memory limit (rctl, when racct is on);
    0 leaves that limit out.  pot needs at least one of them."""
    if cpus <= 0 and memory_mb <= 0:
        raise ArgvError("set-rss needs a CPU count or a memory limit")
    argv = ["set-rss", "-p", name]
    if cpus > 0:
        argv += ["-C", str(cpus)]
    if memory_mb > 0:
        argv += ["-M", f"{memory_mb}M"]
    return argv


def start(name: str) -> list[str]:
    """``start`` (getopts ``hvsSp:``): blocks until a non-persistent pot's command exits."""
    return ["start", name]


def get_rss(name: str) -> list[str]:
    """``get-rss`` (getopts ``hvp:J``): resource usage as JSON."""
    return ["get-rss", "-p", name, "-J"]


def last_run_stats(name: str) -> list[str]:
    """``last-run-stats`` (getopts ``hvp:``): ``{ "ExitCode": N }`` of the last run."""
    return ["last-run-stats", "-p", name]


def signal(name: str, signal_name: str) -> list[str]:
    """``signal`` (getopts ``hvflCs:P:m:p:``): to the main process of a non-persistent pot."""
    return ["signal", "-s", signal_name, "-p", name]


def exec_in(name: str, command: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """``exec`` (getopts ``hvdtp:e:u:U:``): run ``command`` in the pot with ``env``
    (``jexec -l`` starts from a clean environment); ``--`` keeps its argv intact."""
    if not command:
        raise ArgvError("exec needs a command")
    argv = ["exec"]
    for key, value in env.items():
        if "\n" not in value and "\x00" not in value and "=" not in key and key:
            argv += ["-e", f"{key}={value}"]
    return [*argv, "-p", name, "--", *command]


def destroy(name: str) -> list[str]:
    """``destroy`` (getopts ``hvrf:p:b:FB:q``): ``-F`` stops the pot first if it runs."""
    return ["destroy", "-p", name, "-F"]


def is_running(name: str) -> list[str]:
    """``info`` (getopts ``hvqp:rB:Es``): ``-r`` exits 0 only while the pot's jail runs."""
    return ["info", "-q", "-r", "-p", name]


def info_env(name: str) -> list[str]:
    """``info`` (getopts ``hvqp:rB:Es``): ``-E`` prints the pot's name, address(es) and,
    while it runs, jail id as ``export K=V`` lines (info.sh ``_info_pot_env``)."""
    return ["info", "-p", name, "-E"]


def list_pots() -> list[str]:
    """``ls`` (getopts ``hvbfFapqB``): ``-q`` prints one pot name per line."""
    return ["ls", "-q"]


def config_get(name: str) -> list[str]:
    """``config`` (getopts ``hvqg:``): ``-q -g fs_root`` prints pot's root directory."""
    return ["config", "-q", "-g", name]


def version() -> list[str]:
    """``version`` (getopts ``hvq``): ``-q`` prints the bare version."""
    return ["version", "-q"]
