"""The structs modules import each other without a cycle, not even a lazy one.

Every import counts: top-level, inside a function, under ``TYPE_CHECKING``.
A cycle is how ``job.py`` and ``validate.py`` used to meet (a lazy import in
``Job.validate``); this keeps the graph a tree of layers instead.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import nomadjail.structs

PACKAGE = Path(nomadjail.structs.__file__).parent


def sibling_imports(path: Path) -> set[str]:
    """The modules of this package that ``path`` imports anywhere in its body."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                if node.module:
                    found.add(node.module.split(".")[0])
                else:
                    found.update(alias.name for alias in node.names)
            elif node.level == 0 and (node.module or "").startswith("nomadjail.structs."):
                found.add((node.module or "").split(".")[2])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[2] for alias in node.names
                         if alias.name.startswith("nomadjail.structs."))
    return found


def graph() -> dict[str, set[str]]:
    return {path.stem: sibling_imports(path) for path in PACKAGE.glob("*.py")
            if path.stem != "__init__"}


def test_no_module_imports_itself_back() -> None:
    try:
        order = list(TopologicalSorter(graph()).static_order())
    except CycleError as err:
        cycle = " -> ".join(err.args[1])
        raise AssertionError(f"import cycle in nomadjail.structs: {cycle}") from None
    assert order.index("validate") < order.index("job")


def test_validation_lives_below_the_job() -> None:
    """validate.py is the floor the struct modules stand on: it imports no struct."""
    assert graph()["validate"] <= {"errors"}


def test_the_finder_sees_lazy_imports(tmp_path: Path) -> None:
    source = tmp_path / "lazy.py"
    source.write_text("def f():\n    from .validate import ValidationError\n"
                      "    import nomadjail.structs.job\n")
    assert sibling_imports(source) == {"validate", "job"}
