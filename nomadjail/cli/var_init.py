"""``var init [-out hcl|json] [file]``: write an example variable specification
(``spec.nv.hcl`` or ``spec.nv.json``) for ``var put @file``."""

from __future__ import annotations

import json
import os

import click

from .flags import nomad_option
from .meta import CommandFailed, Meta, NomadCommand, common_options

DEFAULT_NAMES = {"hcl": "spec.nv.hcl", "json": "spec.nv.json"}
WARN_KEYS = ("REMINDER: While keys in the items map can contain dots, using them in\n"
             "templates is easier when they do not. As a best practice, avoid dotted\n"
             "keys when possible.")

HCL_SPEC = '''# The variable's path; `var put @spec.nv.hcl` writes it there unless the
# command names another path. Paths use a-z A-Z 0-9 - _ ~ and /.
# path = "project/db"

# The namespace; -namespace or NOMAD_NAMESPACE override it.
# namespace = "default"

# The items: what is encrypted and stored, as one unit. Values are strings.
items {
  user     = "admin"
  password = "change-me"
}
'''

JSON_SPEC = json.dumps({"Namespace": "default", "Path": "project/db",
                        "Items": {"user": "admin", "password": "change-me"}}, indent=2) + "\n"


@click.command("init", cls=NomadCommand)
@common_options
@nomad_option("-out", "out", default="hcl", help="Format of the example: hcl or json.")
@nomad_option("-quiet", "quiet", is_flag=True, help="Print nothing on success.")
@click.argument("args", nargs=-1, metavar="[<filename>]")
def var_init(meta: Meta, args: tuple[str, ...], out: str, quiet: bool) -> int:
    """Create an example variable specification file."""
    if out not in DEFAULT_NAMES:
        raise meta.usage_error('Invalid value for "-out"; valid values are [hcl, json]')
    if len(args) > 1:
        raise meta.usage_error("This command takes no arguments or one: <filename>")
    name = args[0] if args else DEFAULT_NAMES[out]
    if os.path.lexists(name):
        raise CommandFailed(f"File {name!r} already exists")
    try:
        with open(name, "x", encoding="utf-8") as f:
            f.write(HCL_SPEC if out == "hcl" else JSON_SPEC)
        os.chmod(name, 0o660)
    except OSError as err:
        raise CommandFailed(f"Failed to write {name!r}: {err.strerror}") from None
    if not quiet:
        meta.ui.warn(WARN_KEYS)
        meta.ui.output(f"Example variable specification written to {name}")
    return 0
