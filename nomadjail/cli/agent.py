"""``nomadjail agent``: run a server and/or client agent (Nomad's flags)."""

from __future__ import annotations

import click

from .flags import nomad_option


@click.command(context_settings={"show_default": False})
@nomad_option("-dev", is_flag=True, help="Dev mode: server + client, in-memory, raw_exec, UI.")
@nomad_option("-config", "config_paths", multiple=True, metavar="PATH",
              help="Config file or directory (repeatable; later ones override earlier).")
@nomad_option("-data-dir", "data_dir", metavar="PATH", help="Where state is kept.")
@nomad_option("-bind", metavar="ADDR", help="Address the listeners bind to.")
@nomad_option("-server", is_flag=True, default=None, help="Run a server.")
@nomad_option("-client", is_flag=True, default=None, help="Run a client.")
@nomad_option("-servers", metavar="ADDRS", help="Comma-separated server rpc addresses (client).")
@nomad_option("-node", metavar="NAME", help="Name of this node.")
@nomad_option("-dc", metavar="DC", help="Datacenter of this agent.")
@nomad_option("-region", metavar="REGION", help="Region of this agent.")
@nomad_option("-bootstrap-expect", "bootstrap_expect", type=int, metavar="N",
              help="Servers to wait for before bootstrapping the cluster.")
@nomad_option("-log-level", "log_level", metavar="LEVEL", help="TRACE, DEBUG, INFO, WARN, ERROR.")
@nomad_option("-import-jobs", "import_jobs", metavar="DIR",
              help="Submit every *.nomad file in DIR once the cluster has a leader.")
def agent(**flags: object) -> None:
    """Run a nomadjail agent."""
    from ..agent.command import run_agent  # the agent pulls in the whole stack: import late

    raise SystemExit(run_agent(flags))
