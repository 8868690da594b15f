"""Render a task's templates, wait for their data, watch it, and apply change_mode.

One :class:`TemplateManager` per task runner (Nomad's TaskTemplateManager):

* :meth:`first_render` (called from the prestart hook) renders every template
  and blocks until each has all its data: a template whose data is missing is
  not written; a "Missing: ..." task event names what is missing (sorted, three
  at most and "and N more", at most one every ``missing_event_interval`` while
  the set stays the same -- Nomad's texts and rate), and the data is read again
  when a watcher says it changed (files: every ``watch_interval``) until it is
  there or the task is killed.  Then every file is written and the ``env = true``
  templates are read into the task's environment.
* :meth:`start_watching` starts the one loop thread of the task: it sleeps on the
  sources' ``changed`` Event, set by the client's blocking-query watchers
  (:mod:`.watchers`; ``file`` data is re-read every ``watch_interval``), takes the
  new answers (:meth:`TemplateSources.refresh`) and renders again.  A template
  without ``wait`` is written at once; one with ``wait { min max }`` when its
  data stayed quiet ``min`` (at most ``max``, default 4 x min, after the first
  change) -- per template, as consul-template.  The templates whose output
  changed together get their change_mode, coalesced (:mod:`.change`) after a
  random splay.  ``once`` templates are never rendered again.
* A template that fails to render after the task started kills it ("Template
  failed: ..."), as Nomad does; during the first render the failure is the
  prestart hook's error.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from ...drivers.base import Driver, DriverError
from ...gotemplate import FUNCTION_NAMES, TemplateError, parse
from ...gotemplate.consul import (
    Dependency,
    DependencyKind,
    TemplateFunctions,
    consul_template_functions,
)
from ...structs import TaskEvent, Template, TemplateChangeMode
from ...structs.template import parse_perms
from ..hooks.base import TaskControl
from ..taskenv import replace_refs
from . import template_events
from .change import ChangeAction, change_action, splay_delay
from .config import TemplateConfig
from .env_file import EnvFileError, parse_env
from .sources import TemplateSources
from .writer import SandboxError, dest_path, source_path, write_rendered

log = logging.getLogger(__name__)

MISSING_EVENT_LIMIT = 3  # Nomad's missingDepEventLimit


class RenderError(Exception):
    """A template could not be rendered or written; the message is the user's."""


@dataclass(slots=True)
class Rendered:
    """One template's render: ``content`` is None while data is missing."""

    template: Template
    path: str
    content: str | None
    missing: frozenset[Dependency]
    used: frozenset[Dependency]


def describe(dep: Dependency) -> str:
    """A dependency as consul-template names it in Nomad's "Missing" events
    (``kv.block(app/port)``, ``nomad.var.block(nomad/jobs/web@default.global)`` ...)."""
    dc = f"@{dep.datacenter}" if dep.datacenter else ""
    kind = dep.kind
    if kind == DependencyKind.KV_GET:
        return f"kv.{'block' if dep.block else 'get'}({dep.path}{dc})"
    if kind == DependencyKind.KV_LIST:
        return f"kv.list({dep.path}{dc})"
    if kind == DependencyKind.CATALOG_SERVICE:
        name = f"{dep.tag}.{dep.path}" if dep.tag else dep.path
        return f"health.service({name}{dc}|{','.join(dep.health or ('passing',))})"
    if kind == DependencyKind.CATALOG_SERVICES:
        return f"catalog.services{'(' + dep.datacenter + ')' if dep.datacenter else ''}"
    if kind == DependencyKind.NOMAD_SERVICE:
        name = f"{dep.tag}.{dep.path}" if dep.tag else dep.path
        return f"nomad.service({name})"
    if kind == DependencyKind.NOMAD_SERVICES:
        return "nomad.services"
    if kind in (DependencyKind.NOMAD_VAR_GET, DependencyKind.NOMAD_VAR_LIST):
        verb = "list" if kind == DependencyKind.NOMAD_VAR_LIST else \
            ("block" if dep.block else "get")
        return (f"nomad.var.{verb}({dep.path}@{dep.namespace or 'default'}."
                f"{dep.region or 'global'})")
    return f"{kind.value}({dep.path})"


def missing_message(missing: Iterable[Dependency]) -> str:
    """Nomad's "Missing: a, b, c, and 2 more" (sorted, three named at most)."""
    names = sorted({describe(dep) for dep in missing})
    if len(names) > MISSING_EVENT_LIMIT:
        names = names[:MISSING_EVENT_LIMIT] + [f"and {len(names) - MISSING_EVENT_LIMIT} more"]
    return "Missing: " + ", ".join(names)


class TemplateManager:
    def __init__(self, templates: Sequence[Template], *, task_dir: str, alloc_dir: str,
                 namespace: str,
                 env: Callable[[], Mapping[str, str]], sources: TemplateSources,
                 config: TemplateConfig, emit: Callable[[TaskEvent], None],
                 control: TaskControl | None, driver: Driver | None,
                 rng: random.Random | None = None) -> None:
        self._templates = list(templates)
        self._task_dir = task_dir
        self._alloc_dir = alloc_dir
        self._namespace = namespace
        self._env = env
        self._sources = sources
        self._config = config
        self._emit = emit
        self._control = control
        self._driver = driver
        self._rng = rng or random.Random()
        self._sandbox = not config.disable_file_sandbox
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._env_vars: dict[str, str] = {}
        self._lock = threading.Lock()

    # -- public ----------------------------------------------------------------------
    @property
    def template_env(self) -> dict[str, str]:
        """KEY=VALUE of the ``env = true`` templates, as last rendered."""
        with self._lock:
            return dict(self._env_vars)

    def first_render(self, cancelled: Callable[[], bool] = lambda: False) -> bool:
        """Render and write every template once all their data is there; False when
        cancelled (task killed, client shut down) first.  Raises :class:`RenderError`."""
        last_missing: frozenset[str] = frozenset()
        last_event = float("-inf")
        while True:
            renders = [self._render(tmpl) for tmpl in self._templates]
            missing = frozenset().union(*(r.missing for r in renders))
            if not missing:
                for render in renders:
                    self._write(render)
                self._load_env(renders)
                return True
            names = frozenset(describe(dep) for dep in missing)
            now = time.monotonic()
            if names != last_missing and \
                    now - last_event >= self._config.missing_event_interval:
                self._emit(template_events.missing(missing_message(missing)))
                last_event, last_missing = now, names
            if self._wait_change(self._config.watch_interval, cancelled):
                return False
            self._sources.refresh()

    def render_again(self) -> None:
        """Render every template now (a restart with ``render_templates``); no change_mode."""
        renders = [self._render(tmpl) for tmpl in self._templates if not tmpl.once]
        for render in renders:
            if render.content is not None:
                self._write(render)
        self._load_env([r for r in renders if r.content is not None])

    def run_first_render_scripts(self) -> None:
        """The change_scripts with ``run_on_first_render``, once, after the task started
        with its first render (Nomad runs them from the hook's poststart)."""
        for tmpl in self._templates:
            script = tmpl.change_script
            if tmpl.mode == TemplateChangeMode.SCRIPT and script is not None \
                    and script.run_on_first_render:
                self._run_script(script.command, list(script.args),
                                 (script.timeout or 5_000_000_000) / 1e9, script.fail_on_error)

    def start_watching(self) -> None:
        """Start the watcher thread (once); nothing to watch when every template is once."""
        if self._thread is not None or all(t.once for t in self._templates):
            return
        self._thread = threading.Thread(target=self._watch, daemon=True,
                                        name="templates-watch")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._sources.changed.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(10)
        self._sources.close()

    # -- rendering -------------------------------------------------------------------
    def _name(self, tmpl: Template) -> str:
        return tmpl.dest_path or tmpl.source_path or "template"

    def _render(self, tmpl: Template) -> Rendered:
        env = dict(self._env())
        try:
            path = dest_path(_interpolate(tmpl.dest_path, env), task_dir=self._task_dir,
                             alloc_dir=self._alloc_dir, sandbox=self._sandbox)
            text = tmpl.embedded_tmpl
            if tmpl.source_path:
                source = source_path(_interpolate(tmpl.source_path, env),
                                     task_dir=self._task_dir, alloc_dir=self._alloc_dir,
                                     sandbox=self._sandbox)
                try:
                    with open(source, encoding="utf-8") as handle:
                        text = handle.read()
                except OSError as err:
                    raise RenderError(f"failed to read template source {tmpl.source_path!r}: "
                                      f"{err.strerror or err}") from err
        except SandboxError as err:
            raise RenderError(str(err)) from err
        try:
            parsed = parse(text, name=self._name(tmpl), left_delim=tmpl.left_delim or "{{",
                           right_delim=tmpl.right_delim or "}}", func_names=FUNCTION_NAMES)
            funcs = self._functions(env)
            content = parsed.execute(None, funcs,
                                     missing_key="error" if tmpl.err_missing_key else "zero")
        except TemplateError as err:
            raise RenderError(str(err)) from err
        missing, used = frozenset(funcs.missing), frozenset(funcs.used)
        return Rendered(tmpl, path, None if missing else content, missing, used)

    def _functions(self, env: dict[str, str]) -> TemplateFunctions:
        """One render's functions: the task's env only (never the agent's), ``file``
        sandboxed to the task directory as Nomad sets consul-template's SandboxPath."""
        return consul_template_functions(
            self._sources, env=env, sandbox_dir=self._task_dir if self._sandbox else None,
            namespace=self._namespace, denylist=tuple(self._config.function_denylist))

    def _write(self, render: Rendered) -> bool:
        assert render.content is not None
        tmpl = render.template
        try:
            return write_rendered(render.path, render.content,
                                  perms=parse_perms(tmpl.perms or "0644"),
                                  uid=tmpl.uid, gid=tmpl.gid)
        except (OSError, ValueError) as err:
            raise RenderError(f"failed writing {tmpl.dest_path!r}: {err}") from err

    def _load_env(self, renders: Sequence[Rendered]) -> None:
        env: dict[str, str] = {}
        for render in renders:
            if render.template.envvars and render.content is not None:
                try:
                    env.update(parse_env(render.content))
                except EnvFileError as err:
                    raise RenderError(f"error parsing env template {render.path!r}: "
                                      f"{err}") from err
        with self._lock:
            self._env_vars = env

    # -- watching --------------------------------------------------------------------
    def _wait(self, seconds: float, cancelled: Callable[[], bool] = lambda: False) -> bool:
        """Sleep up to ``seconds``; True when stopped or cancelled meanwhile."""
        deadline = time.monotonic() + seconds
        while True:
            if self._stop.is_set() or cancelled():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._stop.wait(min(left, 0.2))

    def _wait_change(self, poll: float, cancelled: Callable[[], bool] = lambda: False,
                     deadline: float | None = None) -> bool:
        """Wait until a watcher says a dependency changed, ``deadline`` (monotonic) passes,
        or ``poll`` seconds when the sources have something only a re-read notices (a
        file); True when stopped or cancelled meanwhile."""
        poll_at = time.monotonic() + poll
        while True:
            if self._stop.is_set() or cancelled():
                return True
            if self._sources.changed.is_set():
                return False
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return False
            if now >= poll_at and self._sources.polls:
                return False
            until = min(t for t in (poll_at, deadline) if t is not None)
            self._sources.changed.wait(min(max(until - now, 0.0), 0.2) or 0.2)

    def _due(self, tmpl: Template, first: float, last: float) -> float:
        """When a template whose data changed at ``first`` .. ``last`` renders: once the
        data stayed quiet ``wait.min``, at the latest ``wait.max`` (4 x min when not set,
        as consul-template) after the first change."""
        low, high = _wait_bounds(tmpl)
        return min(last + low, first + (high or 4 * low))

    def _watch(self) -> None:
        # Templates with ``wait { min }`` whose data changed: index -> (first, last) change.
        pending: dict[int, tuple[float, float]] = {}
        while True:
            due_at = min((self._due(self._templates[i], *p) for i, p in pending.items()),
                         default=None)
            if self._wait_change(self._config.watch_interval, deadline=due_at):
                return
            try:
                now = time.monotonic()
                data_changed = self._sources.refresh()
                immediate: set[int] = set()
                if data_changed:
                    for i, tmpl in enumerate(self._templates):
                        if tmpl.once:
                            continue
                        if _wait_bounds(tmpl)[0] > 0:
                            pending[i] = (pending.get(i, (now, now))[0], now)
                        else:
                            immediate.add(i)
                due = {i for i, p in pending.items()
                       if self._due(self._templates[i], *p) <= now}
                for i in due:
                    del pending[i]
                if not immediate and not due:
                    continue
                changed = self._render_changes(immediate | due)
            except RenderError as err:
                self._fail(f"Template failed: {err}")
                return
            except Exception as err:  # noqa: BLE001 - a watcher must not die silently
                log.exception("template watcher failed")
                self._fail(f"Template failed: {err}")
                return
            action = change_action(changed)
            if action:
                self._apply(action)

    def _render_changes(self, chosen: set[int]) -> list[Template]:
        """Render every template (what they read is kept watched), write the ``chosen``
        ones; the templates whose file changed."""
        renders = [(i, self._render(tmpl)) for i, tmpl in enumerate(self._templates)
                   if not tmpl.once]
        self._sources.forget(dep for r in self._renders_used([r for _, r in renders])
                             for dep in r)
        changed = []
        for i, render in renders:
            if i in chosen and render.content is not None and self._write(render):
                changed.append(render.template)
        if any(t.envvars for t in changed):
            self._load_env([r for _, r in renders if r.content is not None])
        return changed

    def _renders_used(self, renders: Sequence[Rendered]) -> list[frozenset[Dependency]]:
        # A once template is not rendered again, but its data stays cached harmlessly.
        return [r.used | r.missing for r in renders]

    def _fail(self, message: str) -> None:
        if self._control is not None:
            self._control.kill(template_events.killing(message), wait=False)

    def _apply(self, action: ChangeAction) -> None:
        if self._wait(splay_delay(action.splay, self._rng)):
            return
        control = self._control
        if control is None:
            return
        if action.restart:
            try:
                control.restart(template_events.restart())
            except Exception as err:  # noqa: BLE001 - TaskNotRunning: it starts rendered
                log.info("template restart skipped: %s", err)
            return
        failed: list[str] = []
        for signal in action.signals:
            handle = control.handle()
            if handle is None or self._driver is None:
                self._emit(template_events.skipped_signal(signal))
                continue
            self._emit(template_events.signaling(signal))
            try:
                self._driver.signal_task(handle, signal)
            except DriverError as err:
                failed.append(f"{signal}: {err}")
        if failed:
            control.kill(template_events.killing(
                f"Template failed to send signals [{' '.join(action.signals)}]: "
                f"{'; '.join(failed)}"), wait=False)
            return
        for script in action.scripts:
            self._run_script(script.command, list(script.args),
                             (script.timeout or 5_000_000_000) / 1e9, script.fail_on_error)

    def _run_script(self, command: str, args: list[str], timeout: float,
                    fail_on_error: bool) -> None:
        control = self._control
        handle = control.handle() if control is not None else None
        shown = "[" + " ".join(args) + "]"
        if handle is None or self._driver is None:
            message = (f"Template failed to run script {command} with arguments {shown} on "
                       f"change: task is not running. Exit code: -1")
        else:
            try:
                result = self._driver.exec_task(handle, [command, *args], timeout)
            except DriverError as err:
                message = (f"Template failed to run script {command} with arguments {shown} "
                           f"on change: {err}. Exit code: -1")
            else:
                if result.exit_code == 0:
                    self._emit(template_events.hook_message(
                        f"Template successfully ran script {command} with arguments: "
                        f"{shown}. Exit code: 0"))
                    return
                message = (f"Template ran script {command} with arguments {shown} on change "
                           f"but it exited with code: {result.exit_code}")
        self._emit(template_events.hook_failed(message))
        if fail_on_error and control is not None:
            control.kill(template_events.killing("Template script failed, task is being "
                                                 "killed"), wait=False)


def _wait_bounds(tmpl: Template) -> tuple[float, float]:
    """A template's ``wait { min max }`` in seconds (0: not set)."""
    wait = tmpl.wait
    if wait is None:
        return 0.0, 0.0
    return (wait.min or 0) / 1e9, (wait.max or 0) / 1e9


def _interpolate(text: str, env: Mapping[str, str]) -> str:
    return replace_refs(text, env)
