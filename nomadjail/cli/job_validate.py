"""``job validate <path>`` (alias ``validate``): check a job file without submitting it.

The agent validates it when one answers ``/v1/validate/job`` (it can also
check driver configuration); otherwise the job is validated here, as
Nomad's CLI does, with a note that driver configuration went unchecked.
"""

from __future__ import annotations

from typing import Any

import click

from ..api import ApiError
from ..structs import Job, ValidationError
from .jobfile import job_file_options, read_job_file
from .meta import Meta, NomadCommand, common_options


@click.command("validate", cls=NomadCommand)
@common_options
@job_file_options
@click.argument("args", nargs=-1, metavar="<path>")
def job_validate(meta: Meta, args: tuple[str, ...], json_input: bool,
                 var_flags: tuple[str, ...], var_files: tuple[str, ...]) -> int:
    """Check the syntax and validity of a job file."""
    if len(args) != 1:
        raise meta.usage_error("This command takes one argument: <path>")
    job = read_job_file(args[0], json_input=json_input, var_flags=var_flags,
                        var_files=var_files, environ=meta.env.environ).job
    client = meta.client()
    if job.region:
        client.region = job.region
    try:
        result = client.validate_job(job)
    except ApiError:
        result = validate_locally(job)

    ui = meta.ui
    if not result.get("DriverConfigValidated"):
        ui.output(ui.colorize("[bold][yellow]Driver configuration not validated since "
                              "connection to Nomad agent couldn't be established.[reset]\n"))
    if result.get("Error"):
        ui.error(ui.colorize("[bold][red]Job validation errors:[reset]"))
        ui.error(str(result["Error"]))
        return 1
    if result.get("Warnings"):
        ui.output(ui.colorize(f"[bold][yellow]Job Warnings:\n{result['Warnings']}[reset]\n"))
    ui.output(ui.colorize("[bold][green]Job validation successful[reset]"))
    return 0


def validate_locally(job: Job) -> dict[str, Any]:
    """A JobValidateResponse computed on this machine (no driver checks)."""
    candidate = job.copy()
    candidate.canonicalize()
    try:
        candidate.validate()
    except ValidationError as err:
        return {"DriverConfigValidated": False, "ValidationErrors": list(err.errors),
                "Error": str(err), "Warnings": ""}
    return {"DriverConfigValidated": False, "ValidationErrors": [], "Error": "",
            "Warnings": ""}
