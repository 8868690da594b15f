"""``var lock <path> [@spec] <child...>``: hold a lock on a variable while a child
command runs (Nomad's simple distributed lock).

The command acquires the lock (waiting ``-backoff``, by default 1.1 times the TTL,
between attempts while someone else holds it; ``-early-return`` gives up at once),
runs the child (through ``$SHELL -c`` or ``/bin/sh -c``, or directly with
``-shell=false``), renews the lock every half TTL while the child runs, and releases it
when the child ends.  A lock it loses (renewal refused, or failing more than
``-max-retry`` times in a row) ends the child with SIGTERM.  SIGINT and SIGTERM are
passed on to the child.  The exit code is 0 when the child succeeded, 1 otherwise.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable
from types import FrameType

import click

from ..api import ApiConflict, ApiError
from ..api.variables import ApiCASConflict, VariablesApi
from ..structs import SECOND, parse_duration
from ..structs.variables import DEFAULT_LOCK_DELAY, DEFAULT_LOCK_TTL, Variable, VariableLock
from .flags import nomad_option
from .meta import CommandFailed, Meta, NomadCommand, common_options
from .var_format import parse_spec, refuse_wildcard_namespace
from .var_put import _format_for, _read_file


def _duration(text: str, what: str) -> int:
    try:
        return parse_duration(text)
    except ValueError as err:
        raise CommandFailed(f"Invalid {what}: {err}") from None


def _child(args: list[str], shell: bool) -> list[str]:
    if shell:
        return [os.environ.get("SHELL") or "/bin/sh", "-c", " ".join(args)]
    return args


class _FlagsThenCommand(NomadCommand):
    """Flags end at the first argument, as with Go's flag package: what follows the
    variable's path is the child command's, its own flags included."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        takes_value = {opt for param in self.get_params(ctx)
                       if isinstance(param, click.Option) and not param.is_flag
                       for opt in (*param.opts, *param.secondary_opts)}
        i = 0
        while i < len(args) and args[i] != "--" and args[i].startswith("-") and args[i] != "-":
            name, has_value, _ = args[i].partition("=")
            i += 2 if name in takes_value and not has_value else 1
        if i < len(args) and args[i] != "--":
            args = [*args[:i], "--", *args[i:]]
        return super().parse_args(ctx, args)


@click.command("lock", cls=_FlagsThenCommand)
@common_options
@nomad_option("-verbose", "verbose", is_flag=True, help="More information on stderr.")
@nomad_option("-ttl", "ttl", default="", help="TTL of the lock (default 15s).")
@nomad_option("-delay", "delay", default="", help="Lock delay after a lost lease (default 15s).")
@nomad_option("-shell", "shell", default="true", help="Run the child through a shell.")
@nomad_option("-early-return", "early_return", is_flag=True,
              help="Return instead of waiting when the lock is held by someone else.")
@nomad_option("-max-retry", "max_retry", default=5, type=int,
              help="Renewal failures (server errors) tolerated in a row.")
@nomad_option("-backoff", "backoff", default="", help="Wait between acquisition attempts.")
@click.argument("args", nargs=-1, type=click.UNPROCESSED,
                metavar="<path> [@spec] <child command...>")
def var_lock(meta: Meta, args: tuple[str, ...], verbose: bool, ttl: str, delay: str,
             shell: str, early_return: bool, max_retry: int, backoff: str) -> int:
    """Put a lock on a variable and run a child command while it is held."""
    def say(message: str) -> None:
        if verbose:
            meta.ui.warn(message)

    refuse_wildcard_namespace(meta)
    if len(args) < 2:
        raise meta.usage_error(f"Not enough arguments (expected >2, got {len(args)})")
    use_shell = shell.lower() not in ("false", "0", "f")
    rest = list(args)
    first = rest.pop(0)
    var = Variable(namespace=meta.namespace, path=first.strip().strip("/"), items={})
    spec = first[1:] if first.startswith("@") else (rest.pop(0)[1:] if rest[0].startswith("@")
                                                     else "")
    if spec:
        var = parse_spec(_read_file(spec), _format_for(spec), spec)
        if not first.startswith("@"):
            var.path = first.strip().strip("/")
        var.namespace = meta.namespace or var.namespace
    if not rest:
        raise meta.usage_error("Missing the child command to run while the lock is held")
    lock = VariableLock(ttl=_duration(ttl, "TTL") if ttl else DEFAULT_LOCK_TTL,
                        lock_delay=_duration(delay, "Lock Delay") if delay else
                        DEFAULT_LOCK_DELAY)
    var.lock = lock
    wait = _duration(backoff, "backoff") / SECOND if backoff else lock.ttl * 1.1 / SECOND
    api = meta.client().variables()
    stop = threading.Event()

    say("Attempting to acquire lock")
    while True:
        try:
            held, _ = api.acquire_lock(var)
            break
        except ApiCASConflict:
            if early_return:
                say("Lock is held by someone else; returning")
                return 0
            say(f"Lock is held by someone else; trying again in {wait:.1f}s")
            if stop.wait(wait):
                return 1
        except ApiError as err:
            raise CommandFailed(f"Lock error: {err}") from None
    say(f"Variable locked, ready to execute: {' '.join(rest)}")
    try:
        child = subprocess.Popen(_child(rest, use_shell))
    except OSError as err:
        _release(api, held, say)
        raise CommandFailed(f"Lock error: {err}") from None
    lost: list[str] = []
    renewer = threading.Thread(target=_renew, args=(api, held, child, stop, max_retry, lost),
                               name="var-lock-renew", daemon=True)
    renewer.start()

    def forward(signum: int, _frame: FrameType | None) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)} \
        if threading.current_thread() is threading.main_thread() else {}
    try:
        code = child.wait()
    finally:
        stop.set()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        renewer.join(timeout=5)
    if lost:
        raise CommandFailed(f"Lock error: {lost[0]}")
    say("Releasing the lock")
    _release(api, held, say)
    if code != 0:
        raise CommandFailed(f"Lock error: exit status {code}")
    return 0


def _renew(api: VariablesApi, held: Variable, child: subprocess.Popen[bytes],
           stop: threading.Event, max_retry: int, lost: list[str]) -> None:
    """Renew every half TTL until the child ends; end the child if the lock is lost."""
    assert held.lock is not None
    interval = held.lock.ttl / SECOND / 2
    failures = 0
    while not stop.wait(interval):
        try:
            api.renew_lock(held)
            failures = 0
        except ApiConflict as err:
            lost.append(f"lock lost: {err.message}")
        except ApiError as err:
            failures += 1
            if failures <= max_retry:
                continue
            lost.append(f"lock renewal failed {failures} times: {err}")
        if lost:
            if child.poll() is None:
                child.terminate()
            return


def _release(api: VariablesApi, held: Variable, say: Callable[[str], None]) -> None:
    try:
        api.release_lock(held)
    except ApiError as err:
        say(f"Releasing the lock failed: {err}")
