"""A whole job file: variables, locals and exactly one job -> :class:`Job`.

Order of work, as in Nomad's jobspec2: the top level may hold only
``variable``, ``variables``, ``locals`` and one ``job`` block; variables are
declared and given their values; locals are evaluated (all of them, used or
not, so a broken local is reported even before anything uses it); then the job
block is decoded with ``var.*`` and ``local.*`` in scope and every other name
kept verbatim as a runtime reference.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

from ..structs import Job
from .hcl.body import Block, bind
from .hcl.errors import JobspecError, Position, quote
from .hcl.evaluate import EvalContext, Scope
from .hcl.schema import BlockSpec, check_labels
from .hcl.syntax import SyntaxBlock, SyntaxBody, parse_syntax
from .job_decoder import decode_job
from .variables import declare_variables, local_scope, variable_values

_TOP_LEVEL = {"job": BlockSpec(("name",)), "variable": BlockSpec(("name",)),
              "variables": BlockSpec(), "locals": BlockSpec()}


def parse_job(text: str, filename: str = "job.nomad", *,
              variables: Mapping[str, str] | None = None,
              var_files: Sequence[tuple[str, str]] = (),
              env: Mapping[str, str] | None = None) -> Job:
    """Parse an HCL2 job file into a (not yet canonicalized) :class:`Job`.

    ``variables`` are raw ``-var name=value`` strings; ``var_files`` are
    ``(filename, content)`` pairs of ``-var-file`` files, HCL or JSON; ``env``
    supplies ``NOMAD_VAR_<name>`` values -- pass ``os.environ`` from the CLI;
    the default (None) reads no environment, so a server parsing a user's job
    never consults its own.  Raises :class:`JobspecError` on any problem.
    """
    try:
        return _parse_job(text, filename, variables=variables, var_files=var_files, env=env)
    except RecursionError:
        # Blocks in blocks thousands deep exhaust the recursion of the parser, the binder
        # or the decoder, whichever gets there first: the file's fault, said as such.
        raise JobspecError("the job file is nested too deeply to parse",
                           Position(filename, 1, 1)) from None


def _parse_job(text: str, filename: str, *, variables: Mapping[str, str] | None,
               var_files: Sequence[tuple[str, str]], env: Mapping[str, str] | None) -> Job:
    if text.lstrip(" \t\r\n\ufeff").startswith("{"):
        raise JobspecError("this looks like JSON: job files are HCL (job \"name\" { ... }); a job "
                           "in the API's JSON format is submitted with -json",
                           Position(filename, 1, 1))
    syntax = parse_syntax(text, filename)
    job_block = _the_job_block(syntax, filename)
    declarations = declare_variables([b for b in syntax.blocks
                                      if b.type in ("variable", "variables")])
    values = variable_values(declarations, variables=variables, var_files=var_files, env=env)
    var_scope = Scope("variable", values, hint='declare it with a variable "{name}" { } block')
    context_box: list[EvalContext] = []
    locals_ = local_scope([b for b in syntax.blocks if b.type == "locals"],
                          lambda: context_box[0])
    context = EvalContext({"var": var_scope, "local": locals_}, keep_unknown_references=True)
    context_box.append(context)
    for name in list(locals_):
        locals_.resolve(name, Position(filename, 1, 1))
    body = bind(job_block.body, context)
    return decode_job(Block(job_block.type, job_block.labels, body, job_block.pos,
                            job_block.label_positions))


def _the_job_block(syntax: SyntaxBody, filename: str) -> SyntaxBlock:
    """Check the top level and return its single job block."""
    for name, attribute in syntax.attributes.items():
        raise JobspecError(f"unexpected attribute {quote(name)} at the top level: a job file "
                           "holds a job block, and optionally variable, variables and locals "
                           "blocks", attribute.pos)
    jobs: list[SyntaxBlock] = []
    for block in syntax.blocks:
        spec = _TOP_LEVEL.get(block.type)
        if spec is None:
            close = difflib.get_close_matches(block.type, list(_TOP_LEVEL), n=1)
            hint = f"; did you mean {quote(close[0])}?" if close else (
                "; a job file holds a job block, and optionally variable, variables and "
                "locals blocks")
            raise JobspecError(f"unknown block {quote(block.type)} at the top level{hint}",
                               block.pos)
        check_labels(block, spec)
        if block.type == "job":
            if jobs:
                raise JobspecError(f"only one job block is allowed per file; the first is at "
                                   f"line {jobs[0].pos.line}", block.pos)
            jobs.append(block)
    if not jobs:
        raise JobspecError('no job block: a job file needs one job "name" { ... } block',
                           Position(filename, 1, 1))
    return jobs[0]

