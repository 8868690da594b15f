"""What every command shares: Nomad's common flags, the UI writer, the API client.

Nomad's CLI (``command/meta.go``) gives every command the same connection
flags; so does this module.  Flags are resolved in Nomad's order: the flag
given on the command line, else the environment variable, else the default.

=================  ====================  ==========================
flag               environment           default
=================  ====================  ==========================
``-address``       ``NOMAD_ADDR``        ``http://127.0.0.1:4646``
``-region``        ``NOMAD_REGION``      the agent's region
``-namespace``     ``NOMAD_NAMESPACE``   ``default``
``-token``         ``NOMAD_TOKEN``       none
``-no-color``      ``NOMAD_CLI_NO_COLOR``  colour only on a terminal
``-force-color``   ``NOMAD_CLI_FORCE_COLOR``
=================  ====================  ==========================

Flags are parsed the way Go's ``flag`` package parses them, on top of click:
``-flag=value``, ``-flag value`` and ``--flag`` all work, booleans accept
``-detach=true`` / ``-diff=false``, one-letter options accept ``-n=10``, and
flags may come before or after the positional arguments.

Exit codes (one rule for every command): 0 success, 1 any error *including
usage errors* (as Nomad; click's own 2 is not used), except where a command
documents more (``job run`` 2 = placement failures, ``job plan`` 1 = changes
and 255 = error, usage errors included).
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import click

from ..api import DEFAULT_ADDRESS, ApiClient, Transport
from ..structs import parse_go_bool as structs_parse_go_bool
from .flags import nomad_option
from .format import colorize

PROG = "nomadjail"

@dataclass
class CliEnv:
    """What the CLI takes from the world outside; tests swap parts of it.

    ``transport`` replaces HTTP (None: real requests), or ``transport_for``
    builds the replacement for the address the flags resolved to; ``sleep``
    the waits between monitor polls, ``now`` the clock used for "2m ago".
    """

    transport: Transport | None = None
    transport_for: Callable[[str], Transport] | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    now: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    stdout_isatty: Callable[[], bool] = lambda: sys.stdout.isatty()


class CommandFailed(Exception):
    """Stop the command: print ``message`` (if any) on stderr and exit with ``code``."""

    def __init__(self, message: str = "", code: int = 1):
        super().__init__(message)
        self.message = message
        self.code = code


# ------------------------------------------------------------------------ UI


class Ui:
    """Nomad's cli.Ui: Output/Info to stdout, Warn/Error to stderr, coloured on a terminal."""

    def __init__(self, color: bool):
        self.color = color

    def _echo(self, text: str, err: bool, code: str = "") -> None:
        if code and self.color and text:
            text = f"\033[0;{code}m{text}\033[0m"
        click.echo(text, err=err, color=self.color)

    def output(self, text: str = "") -> None:
        self._echo(text, False)

    def info(self, text: str = "") -> None:
        self._echo(text, False, "32")

    def warn(self, text: str = "") -> None:
        self._echo(text, True, "33")

    def error(self, text: str = "") -> None:
        self._echo(text, True, "31")

    def colorize(self, text: str) -> str:
        return colorize(text, self.color)

    def ask(self, question: str) -> str:
        """Print ``question`` and read one answer line from stdin ("" at end of input)."""
        click.echo(question + " ", nl=False)
        line = sys.stdin.readline()
        return line.rstrip("\r\n").strip()


class PrefixedUi(Ui):
    """Nomad's cli.PrefixedUi as the monitor uses it: ``==> `` for info, four spaces for output."""

    def __init__(self, inner: Ui, *, info_prefix: str = "==> ", output_prefix: str = "    ",
                 error_prefix: str = "==> "):
        super().__init__(inner.color)
        self.inner = inner
        self.info_prefix = info_prefix
        self.output_prefix = output_prefix
        self.error_prefix = error_prefix

    def output(self, text: str = "") -> None:
        self.inner.output(self.output_prefix + text if text else text)

    def info(self, text: str = "") -> None:
        # The monitor shows info lines without colour, as Nomad's monitor does.
        self.inner.output(self.info_prefix + text if text else text)

    def warn(self, text: str = "") -> None:
        self.inner.warn(self.error_prefix + text if text else text)

    def error(self, text: str = "") -> None:
        self.inner.error(self.error_prefix + text if text else text)


# ------------------------------------------------------------------------ meta


@dataclass
class Meta:
    """The resolved common flags of one command run, plus the UI and client built from them."""

    env: CliEnv
    address: str
    region: str
    namespace: str
    token: str
    no_color: bool
    force_color: bool
    command_name: str
    ui: Ui = field(init=False)

    def __post_init__(self) -> None:
        self.ui = Ui(self.use_color())

    def use_color(self) -> bool:
        if self.no_color:
            return False
        return self.force_color or self.env.stdout_isatty()

    def client(self) -> ApiClient:
        transport = self.env.transport
        if self.env.transport_for is not None:
            transport = self.env.transport_for(self.address)
        return ApiClient(self.address, region=self.region or None,
                         namespace=self.namespace or None, token=self.token or None,
                         transport=transport)

    def now(self) -> float:
        return self.env.now()

    def error_hint(self) -> str:
        return f"For additional help try '{PROG} {self.command_name} -help'"

    def usage_error(self, message: str, code: int = 1) -> CommandFailed:
        return CommandFailed(f"{message}\n{self.error_hint()}", code)


COMMON_OPTION_NAMES = ("address", "region", "namespace", "token", "no_color", "force_color")


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add Nomad's common flags to a command and hand it a :class:`Meta` as first argument."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        env = ctx.find_object(CliEnv) or CliEnv()
        environ = env.environ
        flags = {name: kwargs.pop(name) for name in COMMON_OPTION_NAMES}
        meta = Meta(
            env=env,
            address=flags["address"] or environ.get("NOMAD_ADDR") or DEFAULT_ADDRESS,
            region=flags["region"] or environ.get("NOMAD_REGION", ""),
            namespace=flags["namespace"] or environ.get("NOMAD_NAMESPACE", ""),
            token=flags["token"] or environ.get("NOMAD_TOKEN", ""),
            no_color=bool(flags["no_color"] or environ.get("NOMAD_CLI_NO_COLOR")),
            force_color=bool(flags["force_color"] or environ.get("NOMAD_CLI_FORCE_COLOR")),
            command_name=ctx.command_path.partition(" ")[2] or ctx.info_name or "",
        )
        try:
            return func(meta, *args, **kwargs)
        except CommandFailed as failed:
            if failed.message:
                meta.ui.error(failed.message)
            return failed.code

    options = [
        nomad_option("-address", "address", metavar="ADDR",
                     help="Address of the Nomad server (NOMAD_ADDR; default "
                          f"{DEFAULT_ADDRESS})."),
        nomad_option("-region", "region", metavar="REGION",
                     help="Region of the servers to forward commands to (NOMAD_REGION)."),
        nomad_option("-namespace", "namespace", metavar="NAMESPACE",
                     help="Target namespace (NOMAD_NAMESPACE; default \"default\")."),
        nomad_option("-token", "token", metavar="TOKEN",
                     help="ACL token SecretID for the request (NOMAD_TOKEN)."),
        nomad_option("-no-color", "no_color", is_flag=True,
                     help="Disable coloured output (NOMAD_CLI_NO_COLOR)."),
        nomad_option("-force-color", "force_color", is_flag=True,
                     help="Colour the output even when it is not a terminal."),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


# ------------------------------------------------------------------------ click classes


def parse_go_bool(text: str, flag: str, ctx: click.Context | None = None) -> bool:
    """Go's strconv.ParseBool, failing with the flag package's message."""
    try:
        return structs_parse_go_bool(text)
    except ValueError:
        pass
    raise click.UsageError(f'invalid boolean value "{text}" for {flag}: parse error', ctx)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so flushing it at exit raises no second BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class NomadCommand(click.Command):
    """A click command that parses flags the way Go's ``flag`` package does.

    ``usage_exit_code`` is what a usage error exits with (1, or 255 for
    ``job plan``).
    """

    usage_exit_code = 1

    def __init__(self, *args: Any, usage_exit_code: int = 1, **kwargs: Any):
        kwargs.setdefault("context_settings", {}).setdefault(
            "help_option_names", ["-h", "-help", "--help"])
        super().__init__(*args, **kwargs)
        self.usage_exit_code = usage_exit_code

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Settle Go-style spellings click does not know, then let click parse the rest.

        Boolean flags (with or without ``=value``) are decided here and put in
        ``ctx.params`` after click's pass; ``-n=10`` becomes ``-n 10``; an
        unknown ``-flag`` fails with the flag package's message.
        """
        bool_flags: dict[str, click.Option] = {}
        one_letter: set[str] = set()
        takes_value: set[str] = set()
        known: set[str] = set()
        for param in self.get_params(ctx):
            if not isinstance(param, click.Option):
                continue
            for opt in (*param.opts, *param.secondary_opts):
                known.add(opt)
                if param.is_eager:
                    continue
                if param.is_flag and not param.count:
                    bool_flags[opt] = param
                else:
                    takes_value.add(opt)
                    if len(opt) == 2 and opt[0] == "-":
                        one_letter.add(opt)
        rewritten: list[str] = []
        chosen: dict[str, bool] = {}
        tokens = iter(args)
        for token in tokens:
            if token == "--":
                rewritten.append(token)
                rewritten.extend(tokens)
                break
            name, has_value, value = token.partition("=")
            if name in takes_value and not has_value:
                rewritten.append(token)
                following = next(tokens, None)  # the option's value, whatever it looks like
                if following is not None:
                    rewritten.append(following)
                continue
            if (len(name) > 1 and name.startswith("-") and name not in known
                    and name[:2] not in one_letter and not _is_number(name)):
                raise click.UsageError(f"flag provided but not defined: -{name.lstrip('-')}",
                                       ctx)
            if name in bool_flags:
                param = bool_flags[name]
                on = parse_go_bool(value, name, ctx) if has_value else True
                if name in param.secondary_opts:
                    on = not on
                assert param.name is not None
                chosen[param.name] = on
                continue
            if has_value and name in one_letter:
                rewritten.extend([name, value])
                continue
            rewritten.append(token)
        rest = super().parse_args(ctx, rewritten)
        for param_name, on in chosen.items():
            ctx.params[param_name] = on
        return rest


class NomadGroup(click.Group):
    """A noun (``job``, ``alloc`` ...) whose verbs are :class:`NomadCommand`s."""

    command_class = NomadCommand

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("context_settings", {}).setdefault(
            "help_option_names", ["-h", "-help", "--help"])
        super().__init__(*args, **kwargs)


NomadGroup.group_class = NomadGroup


class RootGroup(NomadGroup):
    """The ``nomadjail`` command: maps every failure to Nomad's exit codes."""

    def main(self, args: Any = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        code = self.run(args, prog_name=prog_name, complete_var=complete_var, **extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def run(self, args: Any = None, *, prog_name: str | None = None,
            complete_var: str | None = None, **extra: Any) -> int:
        try:
            result = super().main(args, prog_name or PROG, complete_var,
                                  standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as err:
            click.echo(err.ctx.get_help() if err.ctx is not None else "")
            return 1
        except click.UsageError as err:
            command = err.ctx.command if err.ctx is not None else None
            click.echo(f"Error: {err.format_message()}", err=True)
            if err.ctx is not None:
                path = err.ctx.command_path.partition(" ")[2]
                hint = f"{PROG} {path} -help" if path else f"{PROG} -help"
                click.echo(f"For additional help try '{hint}'", err=True)
            return getattr(command, "usage_exit_code", 1)
        except click.exceptions.Exit as exit_:
            return exit_.exit_code
        except click.ClickException as err:
            err.show()
            return 1
        except click.Abort:
            return 1
        except KeyboardInterrupt:
            return 130
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, as Go programs do on EPIPE.
            _silence_stdout()
            return 1
        if isinstance(result, int):
            return result
        return 0
