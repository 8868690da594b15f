"""pot's real shell scripts, installed under a temp dir to run on Linux with the FreeBSD
tools they call stubbed (``tests/pot_driver/freebsd_tools``), for the opt-in check that
keeps the pot test double honest (test_real_scripts.py).

``POT_REAL_SCRIPTS`` names a checkout of bsdpot/pot (e.g. the 0.16.1 tag: ``git
--git-dir=<mirror> archive 0.16.1 | tar -x -C <dir>``).  The installation copies its
``bin``, ``share`` and ``etc``, points ``etc/pot/pot.conf`` at a private root, and changes
one thing in pot's code: ``bin/pot``'s interpreter, ``#!/bin/sh`` -> ``#!/bin/bash``.
FreeBSD's sh accepts the function names with dashes pot uses (``pot-cmd``); Linux's dash
does not, bash does.

A pot is set up on disk as pot's ``prepare`` leaves it (the double's prepare writes it,
:func:`adopt_pot` copies it and registers its ZFS datasets with the zfs stub): the stubs
do not emulate image import, so ``prepare`` itself is not run against the real scripts.
"""

from __future__ import annotations

import json
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

TOOLS = Path(__file__).resolve().with_name("freebsd_tools")
STUBBED = ("mktemp", "zfs", "jail", "jls", "jexec", "pkill", "pgrep", "tail", "ifconfig", "sysctl",
           "pfctl", "lockf", "stat", "sed", "rctl", "cpuset", "kldload", "mount", "umount",
           "mount_nullfs", "route", "sysrc", "service", "chflags", "ip6addrctl", "potnet",
           "potcpu", "rtsol")
HOST_PATH = "/sbin:/bin:/usr/sbin:/usr/bin"
ZFS_ROOT = "zroot/pot"


def checkout_problem(checkout: str) -> str:
    """Why ``checkout`` cannot be used ("" if it can)."""
    if not checkout:
        return ("set POT_REAL_SCRIPTS=<checkout of bsdpot/pot 0.16> to check the pot double "
                "against pot's real scripts")
    base = Path(checkout)
    for part in ("bin/pot", "share/pot/start.sh", "share/pot/common.sh",
                 "etc/pot/pot.default.conf"):
        if not (base / part).is_file():
            return f"POT_REAL_SCRIPTS={checkout}: {part} is missing (not a pot checkout)"
    if not Path("/bin/bash").is_file():
        return "pot's real scripts need /bin/bash here (FreeBSD's sh stand-in)"
    return ""


@dataclass
class RealPot:
    base: Path

    @property
    def root(self) -> Path:
        return self.base / "potroot"

    @property
    def state(self) -> Path:
        return self.base / "stub-state"

    @property
    def bin(self) -> Path:
        """A wrapper running pot's bin/pot with the stubs first on PATH."""
        return self.base / "bin" / "pot"

    @property
    def tools_log(self) -> Path:
        return self.base / "tools.jsonl"

    def adopt_pot(self, source: Path) -> str:
        """Copy a pot's directory (``<root>/jails/<name>`` as prepare leaves it) into this
        installation and register its datasets; returns its name."""
        name = source.name
        target = self.root / "jails" / name
        shutil.copytree(source, target)
        (target / "m" / "tmp").mkdir(parents=True, exist_ok=True)
        table_path = self.state / "zfs.json"
        table = json.loads(table_path.read_text())
        table[f"{ZFS_ROOT}/jails/{name}"] = str(target)
        table[f"{ZFS_ROOT}/jails/{name}/m"] = str(target / "m")
        table[f"{ZFS_ROOT}/jails/{name}/m@1700000000"] = ""  # import leaves a snapshot
        table_path.write_text(json.dumps(table))
        return name


def install_real_pot(checkout: Path, base: Path) -> RealPot:
    real = RealPot(base=base)
    install = base / "install"
    for part in ("bin", "share", "etc"):
        shutil.copytree(checkout / part, install / part, symlinks=True)
    script = install / "bin" / "pot"
    text = script.read_text()
    if not text.startswith("#!/bin/sh\n"):
        raise ValueError(f"{checkout}/bin/pot does not start with #!/bin/sh")
    script.write_text("#!/bin/bash\n" + text[len("#!/bin/sh\n"):])
    (real.root / "jails").mkdir(parents=True)
    (real.root / "tmp").mkdir()
    (base / "cache").mkdir()
    (install / "etc" / "pot" / "pot.conf").write_text(
        f"POT_FS_ROOT={real.root}\nPOT_ZFS_ROOT={ZFS_ROOT}\nPOT_TMP={real.root}/tmp\n"
        f"POT_CACHE={base}/cache\n")
    stubs = base / "stubs"
    stubs.mkdir()
    for tool in STUBBED:
        (stubs / tool).symlink_to(TOOLS)
    real.state.mkdir()
    (real.state / "zfs.json").write_text(json.dumps(
        {ZFS_ROOT: str(real.root), f"{ZFS_ROOT}/jails": str(real.root / "jails")}))
    (base / "tmp").mkdir()
    exports = {"PATH": f"{stubs}:{HOST_PATH}", "FREEBSD_STUB_STATE": str(real.state),
               "TMPDIR": str(base / "tmp"),  # mktemp -t: inside the test's directory
               "FREEBSD_STUB_LOG": str(real.tools_log)}
    real.bin.parent.mkdir()
    real.bin.write_text("#!/bin/sh\n" + "".join(
        f"{key}={shlex.quote(value)}; export {key}\n" for key, value in exports.items())
        + f'exec /bin/bash {shlex.quote(str(script))} "$@"\n')
    real.bin.chmod(0o755)
    return real
