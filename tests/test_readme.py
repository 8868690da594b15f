"""README.md stands on its own: its architecture table names every package, and it
points at nothing outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()


def architecture_table() -> dict[str, str]:
    """Package -> its row, from the table under "## Architecture"."""
    section = README.split("## Architecture\n", 1)[1].split("\n## ", 1)[0]
    return {match.group(1): match.group(0)
            for match in re.finditer(r"^\| `(\w+)/` \|.*$", section, re.MULTILINE)}


def test_the_architecture_table_lists_every_package() -> None:
    packages = {path.name for path in (REPO / "nomadjail").iterdir()
                if path.is_dir() and not path.name.startswith(("_", "."))}
    assert {"helper", "pot_driver", "testing", "ui"} <= packages
    assert set(architecture_table()) == packages


def test_the_readme_links_nothing_outside_the_repository() -> None:
    for target in re.findall(r"\]\(([^)]+)\)", README) + re.findall(r"`([^`\s]*\.\./[^`]*)`",
                                                                    README):
        assert not target.startswith(("../", "/")), target
        if not target.startswith(("http://", "https://", "#")):
            assert (REPO / target).exists(), target
    assert "../shared" not in README
