"""``nomadjail flavour cook``: configure and start the server appliance in a pot jail.

Run once by the jail's ``cook`` rc script (``rc.d/cook``) at its first start;
see :mod:`nomadjail.appliance.cook` for the steps and the README's "Server
appliance" section for the variables.
"""

from __future__ import annotations

from pathlib import Path

import click

from .flags import nomad_option
from .meta import NomadCommand, NomadGroup


@click.group("flavour", cls=NomadGroup)
def flavour() -> None:
    """Set up the pot server appliance (potluck-style flavour)."""


@flavour.command("cook", cls=NomadCommand)
@nomad_option("-root", "root", default="/", show_default=True, metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="Treat DIR as the jail's root (for tests and image builds).")
@nomad_option("-force", "force", is_flag=True,
              help="Cook again even though the jail is marked seasoned.")
@nomad_option("-wait", "wait", type=click.FloatRange(min=0), default=120.0,
              show_default=True, metavar="SECONDS",
              help="How long to wait for the API (and, with BOOTSTRAP=1, the leader).")
@nomad_option("-http-port", "http_port", type=click.IntRange(1, 65535), default=4646,
              show_default=True, help="HTTP API and dashboard port.")
@nomad_option("-rpc-port", "rpc_port", type=click.IntRange(1, 65535), default=4647,
              show_default=True, help="RPC port.")
@nomad_option("-serf-port", "serf_port", type=click.IntRange(1, 65535), default=4648,
              show_default=True, help="Raft port between servers.")
def flavour_cook(root: Path, force: bool, wait: float, http_port: int, rpc_port: int,
                 serf_port: int) -> int:
    """Configure and start the server from the pot's environment variables.

    Reads NODENAME, DATACENTER, IP, CONSULSERVERS (required) and BOOTSTRAP,
    REGION, GOSSIPKEY, REMOTELOG, IMPORTJOBS, RAFTMULTIPLIER, DISABLEUI, RETRYJOIN from
    the environment and /tmp/environment.sh, renders
    /usr/local/etc/nomadjail/server.hcl, sets rc.conf, starts the nomadjail
    service, waits for its API (and a single server's leadership), imports
    /root/nomadjobs/*.nomad (IMPORTJOBS=1; a cluster's agent imports them
    once it has a leader) and marks the jail seasoned.
    """
    from ..appliance import CookOptions, Ports, cook

    report = cook(CookOptions(root=root, force=force, wait=wait,
                              ports=Ports(http=http_port, rpc=rpc_port, serf=serf_port)))
    return report.exit_code
