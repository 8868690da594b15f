"""The import direction of DESIGN.md §3, checked on the source.

Each package may import only the packages DESIGN.md lists for it (all of them
above it in the table); server and client never import each other; nothing in
the product imports the test helpers; the CLI reaches the agent only from
``cli/agent.py`` (the ``agent`` command) and the appliance only from
``cli/flavour.py`` (``flavour cook``).  ``helper/`` is the floor: any package may
use it, and it imports nothing but the standard library.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "nomadjail"
ORDER = ["helper", "gotemplate", "structs", "api", "jobspec", "state", "scheduler", "server",
         "drivers", "pot_driver", "client", "http", "agent", "appliance", "cli"]
NEVER = {("server", "client"), ("client", "server")}
# DESIGN.md §3, right column ("imports:"); the agent wires everything.
_ALLOWED = {
    "helper": set(),
    "gotemplate": set(),
    "structs": set(),
    "api": {"structs"},
    "jobspec": {"structs", "api", "gotemplate"},
    "state": {"structs"},
    "scheduler": {"structs"},
    "server": {"structs", "state", "scheduler", "jobspec"},
    "drivers": {"structs"},
    "pot_driver": {"structs", "drivers"},
    "client": {"structs", "api", "drivers", "gotemplate"},
    "http": {"server", "client", "api", "jobspec", "structs", "gotemplate"},
    "agent": set(ORDER[:ORDER.index("agent")]),
    "appliance": {"agent", "jobspec", "api", "structs"},
    "cli": {"api", "jobspec", "structs", "gotemplate"},
}
ALLOWED = {package: allowed | ({"helper"} if package != "helper" else set())
           for package, allowed in _ALLOWED.items()}


def package_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "nomadjail" else None


def imports(path: Path) -> list[tuple[str, int]]:
    """(imported nomadjail module, line) for every import in a file, relative ones resolved."""
    package = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((module, node.lineno))
    return [(m, line) for m, line in found if m.startswith("nomadjail")]


SOURCES = sorted(p for p in ROOT.rglob("*.py") if package_of(
    ".".join(p.relative_to(ROOT.parent).with_suffix("").parts)) in ORDER)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_up(path: Path) -> None:
    mine = package_of(".".join(path.relative_to(ROOT.parent).with_suffix("").parts))
    assert mine is not None
    for module, line in imports(path):
        theirs = package_of(module)
        if theirs is None or theirs == mine:
            continue
        where = f"{path.relative_to(ROOT)}:{line} imports {module}"
        assert theirs != "testing", f"{where}: product code must not import test helpers"
        assert (mine, theirs) not in NEVER, f"{where}: server and client meet only over RPC"
        if mine == "cli" and theirs == "agent":
            assert path.name == "agent.py", f"{where}: only the agent command may"
            continue
        if mine == "cli" and theirs == "appliance":
            assert path.name == "flavour.py", f"{where}: only the flavour command may"
            continue
        assert theirs in ORDER, f"{where}: unknown package"
        assert ORDER.index(theirs) < ORDER.index(mine), f"{where}: imports against the layers"
        assert theirs in ALLOWED[mine], f"{where}: {mine} may import only {sorted(ALLOWED[mine])}"


HELPERS = sorted((ROOT / "helper").rglob("*.py")) + sorted(
    (ROOT / "gotemplate").rglob("*.py"))


@pytest.mark.parametrize("path", HELPERS, ids=lambda p: str(p.relative_to(ROOT)))
def test_helpers_use_only_the_standard_library(path: Path) -> None:
    """The task supervisor imports helper/ and must start with the standard library only;
    gotemplate/ (the job template language) is kept to it too, so the jobspec validator,
    the client and the CLI can all use it without pulling anything in."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            modules = [node.module or ""]
        else:
            continue
        for module in modules:
            top = module.split(".")[0]
            assert top == "__future__" or top in sys.stdlib_module_names, (
                f"{path.relative_to(ROOT)}:{node.lineno} imports {module}")
