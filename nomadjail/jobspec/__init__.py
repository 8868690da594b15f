"""HCL2 job files -> :class:`nomadjail.structs.Job` (Nomad's ``jobspec2`` dialect).

Public API::

    parse_job(text, filename="job.nomad", *, variables=None, var_files=(), env=None) -> Job
    parse_body(text, filename, *, context=None) -> Body      # any HCL file, evaluated
    JobspecError                                             # file:line:column: message

``parse_job`` returns the job exactly as written (not canonicalized); callers
run ``job.canonicalize()`` and ``job.validate()``.

Layout::

    jobspec/
      jobfile.py      parse_job: top level, variables, locals, one job block
      variables.py    variable declarations, -var / var files / NOMAD_VAR_*, locals
      job_decoder.py  the job block -> structs.Job (every block Nomad's api knows)
      hcl/            the reusable HCL layer (agent configs use it too):
        syntax.py       python-hcl2's Lark tree -> bodies, blocks, expressions
        templates.py    quoted strings and heredocs: ${...} and %{...}
        evaluate.py     the expression evaluator (EvalContext, Scope)
        functions.py    built-in functions; printf.py: format()'s verbs
        conversion.py   types and cty's conversion rules
        body.py         evaluated Body / Attribute / Block, parse_body
        schema.py       decode a Body against a Schema, with did-you-mean errors

Errors::

    structs.BadRequest
    └── JobspecError   every problem, located: job.nomad:12:5: unknown block "taks" ...
"""

from __future__ import annotations

from .hcl import (
    Attribute,
    Block,
    BlockSpec,
    Body,
    Decoded,
    EvalContext,
    JobspecError,
    Position,
    Schema,
    as_any,
    as_bool,
    as_duration,
    as_integer,
    as_list,
    as_map,
    as_number,
    as_string,
    as_string_list,
    as_string_map,
    decode_body,
    parse_body,
    string_map,
)
from .jobfile import parse_job

__all__ = ["Attribute", "Block", "BlockSpec", "Body", "Decoded", "EvalContext", "JobspecError",
           "Position", "Schema", "as_any", "as_bool", "as_duration", "as_integer", "as_list",
           "as_map", "as_number", "as_string", "as_string_list", "as_string_map", "decode_body",
           "parse_body", "parse_job", "string_map"]
