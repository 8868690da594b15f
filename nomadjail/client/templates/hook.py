"""The task runner's ``template`` hook (Nomad's template_hook.go).

* **prestart**, first time: build the task's :class:`TemplateManager` and block
  until every template is rendered and written (the task does not start with a
  half-rendered config); then start the watcher.  Later prestarts (restarts) keep
  the running manager and render again only when the restart policy says
  ``render_templates = true``, as Nomad does.  Every prestart merges the
  ``env = true`` templates into the task's environment -- after the task's own
  ``env`` block, so a template value wins (Nomad's order) -- and interpolates the
  driver config again with it.
* **poststart**, once: the change_scripts marked ``run_on_first_render``.
* **stop**: the watcher ends with the task runner.

A template that cannot be rendered fails the task as Nomad's does: a "Killing"
event that fails the task, "Template failed: template: local/app.conf:3:7: ...",
and no restart (the error is not recoverable).
"""

from __future__ import annotations

from ...drivers.base import TaskHandle
from ...structs import Template
from ..hooks.base import HookContext, HookError
from . import template_events
from .manager import RenderError, TemplateManager
from .sources import TemplateSources, file_reader


class TemplateHook:
    name = "template"

    def __init__(self) -> None:
        self._manager: TemplateManager | None = None
        self._first_scripts_run = False

    def prestart(self, ctx: HookContext) -> None:
        templates: list[Template] = list(ctx.task.templates)
        if not templates:
            return
        manager = self._manager
        try:
            if manager is None:
                manager = self._manager = self._build(ctx, templates)
                if not manager.first_render(ctx.cancelled):
                    return  # killed or shut down while waiting for data
                manager.start_watching()
            elif ctx.task.restart_policy is not None and \
                    ctx.task.restart_policy.render_templates:
                manager.render_again()
        except RenderError as err:
            # Nomad kills the task with "Template failed: ..." (fails_task): a template
            # that does not render will not render on a retry either.
            raise HookError(f"Template failed: {err}",
                            event=template_events.killing(f"Template failed: {err}")) from err
        if ctx.env is not None:
            ctx.env.env.update(manager.template_env)
            ctx.driver_config = ctx.env.interpolate(dict(ctx.task.config))

    def poststart(self, ctx: HookContext, handle: TaskHandle) -> None:
        if self._manager is not None and not self._first_scripts_run:
            self._first_scripts_run = True
            self._manager.run_first_render_scripts()

    def stop(self, ctx: HookContext) -> None:
        if self._manager is not None:
            self._manager.stop()

    def _build(self, ctx: HookContext, templates: list[Template]) -> TemplateManager:
        config = ctx.config.template
        backends = ctx.template_backends
        alloc_dir = ctx.alloc_dir.path
        sandbox = None if config.disable_file_sandbox else alloc_dir
        namespace = ctx.alloc.namespace or "default"
        sources = TemplateSources(
            consul=backends.consul if backends is not None else None,
            nomad=backends.nomad if backends is not None else None,
            variables=backends.variables if backends is not None else None,
            namespace=namespace, alloc_id=ctx.alloc.id, task=ctx.task.name,
            read_file=file_reader(sandbox),
            watches=backends.watches if backends is not None else None)
        return TemplateManager(
            templates, task_dir=ctx.task_dir.dir, alloc_dir=alloc_dir, namespace=namespace,
            env=lambda: ctx.env.env if ctx.env is not None else {}, sources=sources,
            config=config, emit=ctx.emit, control=ctx.control, driver=ctx.driver)
