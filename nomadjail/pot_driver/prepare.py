"""Everything a pot task's start does before ``pot start``: create the pot, configure it.

:func:`plan_setup` computes every pot command line first, with no side
effects, so a config pot cannot take fails the start before any pot command
ran; :func:`run_setup` then runs them in this order:

1. ``pot prepare`` imports the image (if missing) and clones it into the pot
   ``<task>_<invocation>_<alloc>`` (dots become ``_``, as pot does), with the
   command, network type, exported ports and (``-d custom:<file>``) the dns
   block's resolv.conf; then the pot must exist (prepare exits 0 even when its
   internal clone failed) and the job's resolv.conf is re-asserted over the
   image's own (:func:`.resolv_conf.reassert_resolv_conf`);
2. ``set-attribute``, ``copy-in``, ``mount-in`` (the task's ``alloc/``,
   ``local/`` and ``secrets/`` directories, every ``volume_mount`` and the
   config's mounts), ``set-env`` (the task's environment), ``set-hosts``,
   ``set-rss`` (``-C`` the task's ``resources { cores }``, ``-M`` its memory).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..drivers.base import DriverError, TaskConfig
from ..drivers.env_keys import clean_env_key
from . import argv as pot_argv
from .naming import allocation_tag, invocation_of
from .pot_cli import PotCLI
from .pots import PotRoot, pot_exists
from .resolv_conf import ResolvConfFile, reassert_resolv_conf
from .task_config import PotTaskConfig
from .task_files import forget_file, write_file


@dataclass(frozen=True, slots=True)
class PotSetup:
    """The pot commands that create and configure pot ``name``, before ``pot start``."""

    name: str
    prepare: list[str]
    set_env: list[str]
    resolv: ResolvConfFile


def exports(cfg: TaskConfig, config: PotTaskConfig) -> list[str]:
    """``inside:host`` for every ``port_map`` label, from the task's allocated ports."""
    if not config.exports_ports:
        return []
    allocated = {port.label: port.value for port in cfg.resources.ports}
    found = []
    for mapping in config.port_map:
        host = allocated.get(mapping.label)
        if not host:  # a legacy task-level network port: only in the environment
            text = cfg.env.get(clean_env_key("NOMAD_HOST_PORT_" + mapping.label), "")
            host = int(text) if text.isdigit() else 0
        if not host:
            raise DriverError(f'port_map label "{mapping.label}": no port with that label '
                              f"was allocated to task {cfg.name!r}")
        found.append(pot_argv.port_export(mapping.inside, host, mapping.protocol))
    return found


def plan_setup(cfg: TaskConfig, config: PotTaskConfig, name: str,
               resolv: ResolvConfFile) -> PotSetup:
    """The command lines; DriverError naming what pot could not be given."""
    command = pot_argv.command_line(config.command, config.args) if config.command else ""
    try:
        set_env = pot_argv.set_env(name, cfg.env)
        prepare = pot_argv.prepare(
            image=config.image, pot=config.pot, tag=config.tag, command=command,
            network_type=config.network_type, exports=exports(cfg, config),
            allocation_tag=allocation_tag(cfg.alloc_id, invocation_of(cfg.id)),
            name=cfg.name, resolv_conf=resolv.path, addresses=config.addresses)
    except pot_argv.ArgvError as err:
        raise DriverError(str(err)) from None
    return PotSetup(name=name, prepare=prepare, set_env=set_env, resolv=resolv)


def run_setup(cli: PotCLI, cfg: TaskConfig, config: PotTaskConfig, setup: PotSetup, *,
              prepare_timeout: float, root: PotRoot) -> None:
    """Create the pot and configure it; DriverError at the first step that failed (the
    caller destroys whatever pot was created)."""
    cwd = cfg.task_dir
    name, resolv = setup.name, setup.resolv
    if resolv.path:
        write_file(resolv.path, resolv.text, 0o644)
    try:
        prepared = cli.run(setup.prepare, cwd=cwd, timeout=prepare_timeout)
    finally:
        if resolv.path:  # pot keeps its own copy in the pot's configuration
            forget_file(resolv.path)
    if not prepared.ok:
        raise DriverError(f"pot prepare failed: {prepared.describe()}")
    if not pot_exists(cli, name):
        raise DriverError(f"pot prepare did not create the pot {name!r}: "
                          f"{prepared.describe()}")
    if resolv.path:
        conf = root.conf_dir(cli, name, "cannot check that the image's own resolv.conf "
                                        "does not replace the job's dns block")
        if conf:
            reassert_resolv_conf(conf, name, resolv.text)
    for attribute in config.attributes:
        cli.check(pot_argv.set_attribute(name, attribute.name, attribute.value), cwd=cwd)
    for pair in config.copy:
        cli.check(pot_argv.copy_in(name, pair.host, pair.pot), cwd=cwd)
    for mount in cfg.mounts:
        cli.check(pot_argv.mount_in(name, mount.host_path, mount.task_path,
                                    read_only=mount.readonly), cwd=cwd)
    for pairs, read_only in ((config.mount, False), (config.mount_read_only, True)):
        for pair in pairs:
            cli.check(pot_argv.mount_in(name, pair.host, pair.pot, read_only=read_only),
                      cwd=cwd)
    if "-E" in setup.set_env:  # set-env needs at least one variable
        cli.check(setup.set_env, cwd=cwd)
    if config.extra_hosts:
        cli.check(pot_argv.set_hosts(name, config.extra_hosts), cwd=cwd)
    memory_mb = max(cfg.resources.memory_mb, cfg.resources.memory_max_mb)
    if memory_mb > 0 or cfg.resources.cores > 0:
        cli.check(pot_argv.set_rss(name, memory_mb=memory_mb, cpus=cfg.resources.cores),
                  cwd=cwd)
