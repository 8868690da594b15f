"""Setting up the pot test double (``tests/pot_driver/pot``) for one test.

:func:`make_pot_double` gives a private pot installation under a temp dir:
its ``POT_FS_ROOT``, a call log, a faults file, and an executable wrapper
(``bin/pot``) that runs the double with that configuration -- the wrapper is
what a driver's ``pot_bin`` points at, so the driver runs "pot" exactly as
it would on FreeBSD (with a ``PATH``-only environment).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DOUBLE = Path(__file__).resolve().with_name("pot")


@dataclass
class PotDouble:
    base: Path

    @property
    def root(self) -> Path:
        return self.base / "potroot"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def log_path(self) -> Path:
        return self.base / "pot-calls.jsonl"

    @property
    def faults_path(self) -> Path:
        return self.base / "pot-faults.json"

    @property
    def bin(self) -> Path:
        return self.base / "bin" / "pot"

    def env(self) -> dict[str, str]:
        return {"POT_FS_ROOT": str(self.root), "POT_TMP": str(self.tmp),
                "POT_DOUBLE_LOG": str(self.log_path), "POT_DOUBLE_FAULTS": str(self.faults_path)}

    def calls(self) -> list[list[str]]:
        """Every pot invocation so far, in order, as argv (without "pot")."""
        try:
            lines = self.log_path.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line)["argv"] for line in lines if line]

    def commands(self) -> list[str]:
        return [argv[0] for argv in self.calls()]

    def set_faults(self, **faults: Any) -> None:
        self.faults_path.write_text(json.dumps(faults))

    def pots(self) -> list[str]:
        jails = self.root / "jails"
        return sorted(p.name for p in jails.iterdir()) if jails.is_dir() else []

    def task_pots(self) -> list[str]:
        """Pots other than imported images (those have no ``pot.potbase``)."""
        return [name for name in self.pots()
                if any(line.startswith("pot.potbase=") and line != "pot.potbase="
                       for line in self.conf(name))]

    def conf(self, name: str) -> list[str]:
        try:
            return (self.root / "jails" / name / "conf" / "pot.conf").read_text().splitlines()
        except FileNotFoundError:
            return []

    def fscomp(self, name: str) -> list[str]:
        return (self.root / "jails" / name / "conf" / "fscomp.conf").read_text().splitlines()

    def status(self, name: str) -> str:
        """The pot's status (``starting``, ``started``, ...) as pot records it, or ""."""
        try:
            text = (self.tmp / f"pot_status_{name}").read_text()
        except FileNotFoundError:
            return ""
        lines = [line for line in text.splitlines() if line.startswith("pot.status=")]
        return lines[-1].split("=", 1)[1].split(",", 1)[0] if lines else ""

    def runtime_files(self) -> list[str]:
        """pot's per-pot files in POT_TMP (status, main pid, locks)."""
        if not self.tmp.is_dir():
            return []
        return sorted(p.name for p in self.tmp.iterdir() if p.name != "pot-lock-file")


def make_pot_double(base: Path) -> PotDouble:
    double = PotDouble(base=base)
    double.root.mkdir(parents=True, exist_ok=True)
    double.bin.parent.mkdir(parents=True, exist_ok=True)
    exports = "\n".join(f"{key}={shlex.quote(value)}; export {key}"
                        for key, value in double.env().items())
    double.bin.write_text(f"#!/bin/sh\n{exports}\n"
                          f'exec {shlex.quote(sys.executable)} {shlex.quote(str(DOUBLE))} "$@"\n')
    double.bin.chmod(0o755)
    return double


def run_double(double: PotDouble, *argv: str, env: dict[str, str] | None = None,
               timeout: float = 30.0):
    """Run the double directly (not through the wrapper) and return the CompletedProcess."""
    import subprocess

    return subprocess.run([sys.executable, str(DOUBLE), *argv], capture_output=True, text=True,
                          timeout=timeout, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                                **double.env(), **(env or {})})
