"""``job init [-short] [filename]`` (alias ``init``): write an example job file.

The example is a ``raw_exec`` service that really runs on any Unix host (a
shell loop that prints a line every few seconds), so ``job init`` followed
by ``job run example.nomad`` works against ``nomadjail agent -dev`` and
``alloc logs`` shows its output.  An existing file is never overwritten.
"""

from __future__ import annotations

import os

import click

from .flags import nomad_option
from .meta import CommandFailed, Meta, NomadCommand, common_options

DEFAULT_INIT_NAME = "example.nomad"

EXAMPLE_JOB_SHORT = '''job "example" {
  datacenters = ["*"]
  type        = "service"

  group "hello" {
    count = 1

    task "hello" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "while true; do echo \\"hello from nomadjail: $(date)\\"; sleep 5; done"]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
'''

EXAMPLE_JOB = '''# An example job for nomadjail (the same job file language as Nomad's).
# There can only be one job per file. This job is named "example", so it
# creates a job with the ID and name "example".
#
#     nomadjail job run example.nomad      submit it and watch it start
#     nomadjail job status example         its allocations
#     nomadjail alloc logs <alloc-id>      what it printed
#     nomadjail job stop example           stop it
job "example" {
  # Datacenters the job may be placed in; "*" means any.
  datacenters = ["*"]

  # "service" jobs run until stopped. Others: "batch" (run to completion),
  # "system" (one per node) and "sysbatch".
  type = "service"

  # Only place the job on clients whose kernel is one of these.
  # constraint {
  #   attribute = "${attr.kernel.name}"
  #   operator  = "set_contains_any"
  #   value     = "linux,freebsd"
  # }

  # A group is the unit of placement: its tasks run together on one client.
  group "hello" {
    # How many instances of the group to run.
    count = 1

    # How a new version rolls out: one allocation at a time, each counted as
    # healthy once its tasks have run for min_healthy_time without trouble.
    update {
      max_parallel     = 1
      min_healthy_time = "5s"
      healthy_deadline = "1m"
    }

    # Restart a failed task in place this many times within the interval.
    restart {
      attempts = 2
      interval = "30m"
      delay    = "15s"
      mode     = "fail"
    }

    # A task is one process. "raw_exec" runs it as a plain process on the
    # client (enable it in the client's config; "nomadjail agent -dev" does).
    # On FreeBSD clients the "pot" driver runs tasks in jails instead.
    task "hello" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "while true; do echo \\"hello from nomadjail: $(date)\\"; sleep 5; done"]
      }

      # Environment variables for the task.
      env {
        GREETING = "hello"
      }

      # What the task may use: CPU in MHz, memory in MB.
      resources {
        cpu    = 100
        memory = 64
      }

      # Seconds to wait after the kill signal before killing for good.
      kill_timeout = "5s"
    }
  }
}
'''


@click.command("init", cls=NomadCommand)
@common_options
@nomad_option("-short", "short", is_flag=True, help="A minimal job file without comments.")
@click.argument("args", nargs=-1, metavar="[<filename>]")
def job_init(meta: Meta, args: tuple[str, ...], short: bool) -> int:
    """Create an example job file."""
    if len(args) > 1:
        raise meta.usage_error("This command takes either no arguments or one: <filename>")
    filename = args[0] if args else DEFAULT_INIT_NAME
    if os.path.lexists(filename):
        raise CommandFailed(f"Job '{filename}' already exists")
    try:
        with open(filename, "x", encoding="utf-8") as handle:
            handle.write(EXAMPLE_JOB_SHORT if short else EXAMPLE_JOB)
    except FileExistsError:
        raise CommandFailed(f"Job '{filename}' already exists") from None
    except OSError as err:
        raise CommandFailed(f"Failed to write '{filename}': {err.strerror or err}") from None
    meta.ui.output(f"Example job file written to {filename}")
    return 0
