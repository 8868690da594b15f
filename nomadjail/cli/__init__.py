"""The ``nomadjail`` command line (click): Nomad's verbs, flags, output and exit codes.

The entry point is :func:`nomadjail.cli.main.main`; everything it needs from
outside (HTTP transport, clock, environment) comes through
:class:`nomadjail.cli.meta.CliEnv`, so tests run it in process.
"""
