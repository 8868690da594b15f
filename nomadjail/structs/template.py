"""A task's ``template`` block: a file (or environment) rendered from Go template text.

The fields and JSON keys are Nomad's ``structs.Template`` (``SourcePath``,
``DestPath``, ``EmbeddedTmpl``, ``ChangeMode`` ...).  Fields a user may leave out
are ``None`` until :meth:`Template.canonicalize` fills the defaults Nomad's ``api``
package fills (change_mode restart, splay 5s, perms 0644, ``{{``/``}}``, SIGHUP for
a signal template without a signal), so a job submitted as JSON with keys left out
behaves as the same job written in HCL.

:func:`template_errors` holds the rules of Nomad's ``Template.Validate`` with its
messages, and one rule Nomad does not have: the template text is *parsed* here
(with :mod:`nomadjail.gotemplate`), so a syntax error refuses the job at submit or
``job validate`` with the template's line and column instead of failing the task
on a client minutes later.  A ``source`` file lives on the client and is only
checked when it is rendered.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass

from ..gotemplate import FUNCTION_NAMES, TemplateError, parse
from .codec import field
from .consts import SECOND, WireEnum
from .durations import format_duration


class TemplateChangeMode(WireEnum):
    """What the client does when a template's output changed (Nomad's change_mode)."""

    NOOP = "noop"
    SIGNAL = "signal"
    SCRIPT = "script"
    RESTART = "restart"


DEFAULT_SPLAY = 5 * SECOND
DEFAULT_PERMS = "0644"
DEFAULT_CHANGE_SIGNAL = "SIGHUP"
DEFAULT_SCRIPT_TIMEOUT = 5 * SECOND
DEFAULT_LEFT_DELIM = "{{"
DEFAULT_RIGHT_DELIM = "}}"

INVALID_CHANGE_MODE = ("Invalid change mode. Must be one of the following: noop, signal, "
                       "script, restart")


@dataclass(slots=True)
class ChangeScript:
    """``change_script { command args timeout fail_on_error }``: run inside the task."""

    command: str = ""
    args: list[str] = field(default_factory=list)
    timeout: int | None = None  # ns
    fail_on_error: bool = False
    run_on_first_render: bool = False

    def canonicalize(self) -> None:
        if self.timeout is None:
            self.timeout = DEFAULT_SCRIPT_TIMEOUT


@dataclass(slots=True)
class WaitConfig:
    """``wait { min max }``: how long output must be quiet before it is written (ns).

    Either may be unset; only a pair can be out of order."""

    min: int | None = None
    max: int | None = None


@dataclass(slots=True)
class Template:
    source_path: str = ""
    dest_path: str = ""
    embedded_tmpl: str = ""
    change_mode: str | None = None  # a TemplateChangeMode value
    change_signal: str | None = None
    change_script: ChangeScript | None = None
    once: bool = False
    splay: int | None = None  # ns
    perms: str | None = None  # octal, "0644"
    uid: int | None = None
    gid: int | None = None
    left_delim: str | None = None
    right_delim: str | None = None
    envvars: bool = False
    vault_grace: int = 0  # ns; accepted and ignored, as Nomad ignores it since Vault 0.5
    wait: WaitConfig | None = None
    err_missing_key: bool = False

    def canonicalize(self) -> None:
        """Nomad's api defaults; the signal is upper-cased as Nomad does."""
        if not self.change_mode:
            self.change_mode = TemplateChangeMode.RESTART
        if self.change_signal:
            self.change_signal = self.change_signal.upper()
        elif self.change_mode == TemplateChangeMode.SIGNAL:
            self.change_signal = DEFAULT_CHANGE_SIGNAL
        else:
            self.change_signal = ""
        if self.change_script is not None:
            self.change_script.canonicalize()
        if self.splay is None:
            self.splay = DEFAULT_SPLAY
        if self.perms is None:
            self.perms = DEFAULT_PERMS
        if not self.left_delim:
            self.left_delim = DEFAULT_LEFT_DELIM
        if not self.right_delim:
            self.right_delim = DEFAULT_RIGHT_DELIM

    @property
    def mode(self) -> TemplateChangeMode:
        """The change mode as an enum (a canonicalized, validated template has one)."""
        return TemplateChangeMode(self.change_mode or TemplateChangeMode.RESTART)


def dest_escapes_alloc(dest: str) -> bool:
    """Whether ``dest``, taken relative to a task's directory, leaves the allocation
    directory (Nomad's PathEscapesAllocViaRelative("task", dest)): an absolute path is
    joined under the task directory too, so only ``..`` can escape."""
    joined = posixpath.normpath(posixpath.join("alloc", "task", dest.lstrip("/")))
    return joined != "alloc" and not joined.startswith("alloc/")


def parse_perms(perms: str) -> int:
    """The mode bits of an octal ``perms`` string; ValueError says why not (Go's
    strconv.ParseUint(perms, 8, 12) wording)."""
    if not perms or any(c not in "01234567" for c in perms):
        raise ValueError(f'strconv.ParseUint: parsing "{perms}": invalid syntax')
    value = int(perms, 8)
    if value >= 1 << 12:
        raise ValueError(f'strconv.ParseUint: parsing "{perms}": value out of range')
    return value


def template_errors(tmpl: Template) -> Iterable[str]:
    """Every problem of one template (Nomad's Template.Validate, plus the syntax check)."""
    if not tmpl.source_path and not tmpl.embedded_tmpl:
        yield "Must specify a source path or have an embedded template"
    if not tmpl.dest_path:
        yield "Must specify a destination for the template"
    elif dest_escapes_alloc(tmpl.dest_path):
        yield "destination escapes allocation directory"
    mode = tmpl.change_mode or TemplateChangeMode.RESTART
    if mode == TemplateChangeMode.SIGNAL:
        if not tmpl.change_signal:
            yield "Must specify signal value when change mode is signal"
        if tmpl.envvars:
            yield "cannot use signals with env var templates"
    elif mode == TemplateChangeMode.SCRIPT:
        if tmpl.change_script is None:
            yield "must specify change script configuration value when change mode is script"
        elif not tmpl.change_script.command:
            yield "must specify script path value when change mode is script"
    elif mode not in (TemplateChangeMode.NOOP, TemplateChangeMode.RESTART):
        yield INVALID_CHANGE_MODE
    if tmpl.splay is not None and tmpl.splay < 0:
        yield "Must specify positive splay value"
    if tmpl.perms:
        try:
            parse_perms(tmpl.perms)
        except ValueError as err:
            yield f'Failed to parse "{tmpl.perms}" as octal: {err}'
    wait = tmpl.wait
    if wait is not None and wait.min is not None and wait.max is not None \
            and wait.min > wait.max:
        yield (f"wait min {format_duration(wait.min)} is greater than max "
               f"{format_duration(wait.max)}")
    if tmpl.embedded_tmpl:
        try:
            parse(tmpl.embedded_tmpl, name=tmpl.dest_path or "template",
                  left_delim=tmpl.left_delim or DEFAULT_LEFT_DELIM,
                  right_delim=tmpl.right_delim or DEFAULT_RIGHT_DELIM,
                  func_names=FUNCTION_NAMES)
        except TemplateError as err:
            yield str(err)


def templates_errors(templates: list[Template]) -> Iterable[str]:
    """The problems of a task's templates, each numbered from 1 as Nomad numbers them."""
    destinations: dict[str, int] = {}
    for i, tmpl in enumerate(templates, 1):
        for err in template_errors(tmpl):
            yield f"Template {i} validation failed: {err}"
        other = destinations.get(tmpl.dest_path)
        if other is not None:
            yield f"Template {i} has same destination as {other}"
        else:
            destinations[tmpl.dest_path] = i
