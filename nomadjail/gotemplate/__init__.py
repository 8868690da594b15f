"""Go's text/template, as consul-template speaks it: the language of job ``template`` blocks.

Public API (everything else in the package is private)::

    from nomadjail.gotemplate import parse, Template, TemplateError, FUNCTION_NAMES
    from nomadjail.gotemplate.consul import (
        consul_template_functions, Dependency, DependencyKind, DataSource, MISSING)

    tpl = parse(text, name="local/app.conf", left_delim="{{", right_delim="}}",
                func_names=FUNCTION_NAMES)      # TemplateError: "template: name:line:col: msg"
    funcs = consul_template_functions(source, env=task_env, sandbox_dir=task_dir)
    out = tpl.execute(data, funcs, missing_key="zero")   # or "error"
    funcs.missing   # set[Dependency]: data the source did not have; render again later
    funcs.used      # set[Dependency]: everything the render read; watch these for changes

``parse`` checks syntax, variables and function names (as Go does at parse time), so
a job's template is refused at submit with its line and column.  ``execute`` takes
plain Python data: dicts are Go maps (ranged in sorted key order), lists and tuples
slices, objects with attributes structs (``.Name`` reads the attribute; a method is
called, with the arguments of the command).  Go's builtins (and, or, not, len, index,
slice, print, printf, println, eq, ne, lt, le, gt, ge, html, js, urlquery, call) are
always present; ``funcs`` adds the rest.

Differences from Go, on purpose: parse errors carry the column as well as the line
(Go's carry only the line); there is no complex number type.
"""

from __future__ import annotations

from .consul.names import FUNCTION_NAMES
from .errors import ExecError, ParseError, TemplateError
from .template import Template, parse

__all__ = ["FUNCTION_NAMES", "ExecError", "ParseError", "Template", "TemplateError", "parse"]
