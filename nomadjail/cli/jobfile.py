"""Reading a job file for ``job run``, ``job plan`` and ``job validate``.

As Nomad's CLI does, the file is parsed here, on the user's machine, with
the HCL2 job parser (:func:`nomadjail.jobspec.parse_job`): ``-var`` and
``-var-file`` values and ``NOMAD_VAR_*`` environment variables are applied
locally, and parse errors point at ``file:line:col``.  With ``-json`` the
file is API JSON instead (with or without an outer ``"Job"`` key, so the
output of ``job inspect`` can be fed back).  ``-`` reads standard input.

The original text is kept as the job *submission* so the server can show
what was submitted.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..structs import Job, NomadError, from_api
from .flags import nomad_option
from .meta import CommandFailed


@dataclass
class JobFile:
    job: Job
    source: str
    format: str  # "hcl2" or "json"
    variable_flags: dict[str, str] = field(default_factory=dict)
    variables: str = ""  # the -var-file contents, concatenated

    def submission(self) -> dict[str, Any]:
        """Nomad's JobSubmission for the register request."""
        return {"Source": self.source, "Format": self.format,
                "VariableFlags": dict(self.variable_flags) or None,
                "Variables": self.variables}


def parse_var_flags(values: Sequence[str]) -> dict[str, str]:
    """``-var key=value`` flags as a dict; a value without ``=`` is a usage error."""
    result: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise CommandFailed(f'Invalid job options: -var "{value}" is not of the form '
                                "key=value (as in -var 'count=3')")
        result[key] = rest
    return result


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise CommandFailed(f'Error getting job struct: Error getting jobfile from "{path}": '
                            f"open {path}: no such file or directory") from None
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise CommandFailed(f'Error getting job struct: Error getting jobfile from "{path}": '
                            f"{reason}") from None


def _read_var_files(paths: Sequence[str]) -> list[tuple[str, str]]:
    files = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                files.append((path, handle.read()))
        except (OSError, UnicodeDecodeError) as err:
            reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
            raise CommandFailed(f"Error getting job struct: Failed to read var file(s): "
                                f"open {path}: {reason.lower()}") from None
    return files


def read_job_file(path: str, *, json_input: bool, var_flags: Sequence[str],
                  var_files: Sequence[str], environ: Mapping[str, str] | None = None) -> JobFile:
    """Parse the job at ``path``; raises CommandFailed with Nomad's messages."""
    if not path:
        raise CommandFailed("Error getting job struct: Error jobfile path has to be specified.")
    if json_input and (var_flags or var_files):
        raise CommandFailed("Invalid job options: cannot use variables with JSON files.")
    variables = parse_var_flags(var_flags)
    text = _read(path)
    if json_input:
        return JobFile(job=_job_from_json(text), source=text, format="json")
    files = _read_var_files(var_files)
    job = _parse_hcl(text, path if path != "-" else "stdin", variables, files,
                     dict(environ if environ is not None else os.environ))
    return JobFile(job=job, source=text, format="hcl2", variable_flags=variables,
                   variables="\n".join(content.rstrip("\n") for _, content in files))


def _job_from_json(text: str) -> Job:
    try:
        data = json.loads(text)
    except ValueError as err:
        raise CommandFailed(f"Error getting job struct: Failed to parse JSON job: {err}") from None
    if isinstance(data, dict) and isinstance(data.get("Job"), dict):
        data = data["Job"]
    try:
        return from_api(Job, data)
    except NomadError as err:
        raise CommandFailed(f"Error getting job struct: Failed to parse JSON job: {err}") from None


def _parse_hcl(text: str, filename: str, variables: Mapping[str, str],
               var_files: Sequence[tuple[str, str]], environ: Mapping[str, str]) -> Job:
    from ..jobspec import parse_job  # the HCL stack is only loaded for commands that parse

    try:
        return parse_job(text, filename, variables=variables, var_files=var_files, env=environ)
    except NomadError as err:
        raise CommandFailed(f"Error getting job struct: Error parsing job file from "
                            f"{filename}:\n{err}") from None


def job_file_options(func: Any) -> Any:
    """``-json``, ``-var`` and ``-var-file``: how to read the job file (run, plan, validate)."""
    options = [
        nomad_option("-json", "json_input", is_flag=True,
                     help="The file is API JSON (as `job inspect` prints), not HCL."),
        nomad_option("-var", "var_flags", multiple=True, metavar="KEY=VALUE",
                     help="Set a job variable (repeatable)."),
        nomad_option("-var-file", "var_files", multiple=True, metavar="PATH",
                     help="HCL file of variable values (repeatable)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func
