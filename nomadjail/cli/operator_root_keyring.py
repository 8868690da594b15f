"""``operator root keyring list|rotate|remove``: the servers' root keys, which seal
Nomad Variables (key material is never shown; only IDs, states and times)."""

from __future__ import annotations

import click

from ..api import ApiError
from ..structs.keyring import RootKeyMeta
from .flags import nomad_option
from .format import format_list, format_time_ns
from .meta import CommandFailed, Meta, NomadCommand, NomadGroup, common_options

SHORT_ID = 8


def render_keys(keys: list[RootKeyMeta], verbose: bool) -> str:
    """Nomad's renderVariablesKeysResponse."""
    rows = ["Key|State|Create Time"]
    for key in keys:
        key_id = key.key_id if verbose else key.key_id[:SHORT_ID]
        rows.append(f"{key_id}|{key.state}|{format_time_ns(key.create_time)}")
    return format_list(rows)


@click.group("root", cls=NomadGroup)
def root() -> None:
    """Manage root encryption keys."""


@root.group("keyring", cls=NomadGroup)
def keyring() -> None:
    """Manage root encryption keys."""


@keyring.command("list", cls=NomadCommand)
@common_options
@nomad_option("-verbose", "verbose", is_flag=True, help="Show full key IDs.")
@click.argument("args", nargs=-1, metavar="")
def keyring_list(meta: Meta, args: tuple[str, ...], verbose: bool) -> int:
    """List root encryption keys."""
    if args:
        raise meta.usage_error("This command takes no arguments")
    try:
        keys, _ = meta.client().keyring().list()
    except ApiError as err:
        raise CommandFailed(f"error: {err}") from None
    meta.ui.output(render_keys(keys, verbose))
    return 0


@keyring.command("rotate", cls=NomadCommand)
@common_options
@nomad_option("-full", "full", is_flag=True,
              help="Re-encrypt every variable with the new key.")
@nomad_option("-verbose", "verbose", is_flag=True, help="Show full key IDs.")
@click.argument("args", nargs=-1, metavar="")
def keyring_rotate(meta: Meta, args: tuple[str, ...], full: bool, verbose: bool) -> int:
    """Rotate the root encryption key."""
    if args:
        raise meta.usage_error("This command takes no arguments")
    try:
        key, _ = meta.client().keyring().rotate(full=full)
    except ApiError as err:
        raise CommandFailed(f"error: {err}") from None
    meta.ui.output(render_keys([key], verbose))
    return 0


@keyring.command("remove", cls=NomadCommand)
@common_options
@click.argument("args", nargs=-1, metavar="<key ID>")
def keyring_remove(meta: Meta, args: tuple[str, ...]) -> int:
    """Remove an inactive root encryption key."""
    if len(args) != 1:
        raise meta.usage_error("This command requires one argument: <key ID>")
    key_id = args[0]
    try:
        keys, _ = meta.client().keyring().list()
        matches = [k.key_id for k in keys if k.key_id.startswith(key_id)] if key_id else []
        if len(matches) > 1:
            raise CommandFailed(f"Prefix {key_id!r} matches more than one key: "
                                f"{', '.join(sorted(matches))}")
        meta.client().keyring().remove(matches[0] if matches else key_id)
    except ApiError as err:
        raise CommandFailed(f"error: {err}") from None
    meta.ui.output(f"Removed encryption key {matches[0] if matches else key_id}")
    return 0
