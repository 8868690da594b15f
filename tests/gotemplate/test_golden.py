"""Golden files: documented template examples render byte for byte what is checked in.

Each directory under ``golden/`` holds ``template.tpl``, ``source.json`` (the data, the
environment and what the DataSource double answers, plus where the example comes from
and whether its expected output is the documentation's or derived from Go's
semantics -- Go cannot run here) and ``expected.out``.  golden/README.md lists them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nomadjail.gotemplate import parse
from nomadjail.gotemplate.consul import HealthService, NomadService, consul_template_functions

from .fake_source import FakeSource

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())


def render_case(case: Path) -> str:
    spec: dict[str, Any] = json.loads((case / "source.json").read_text())
    source = FakeSource(
        kv=spec.get("kv", {}),
        services=[HealthService(**entry) for entry in spec.get("services", [])],
        nomad_services=[NomadService(**entry) for entry in spec.get("nomad_services", [])],
        variables=spec.get("variables", {}),
        files=spec.get("files", {}),
    )
    funcs = consul_template_functions(source, env=spec.get("env", {}))
    text = (case / "template.tpl").read_text()
    out = parse(text, name=case.name).execute(spec.get("data"), funcs)
    assert not funcs.missing, f"{case.name}: the double lacks {funcs.missing}"
    return out


@pytest.mark.parametrize("name", CASES)
def test_golden(name: str) -> None:
    case = GOLDEN / name
    assert render_case(case) == (case / "expected.out").read_text()


def test_every_case_says_where_it_comes_from() -> None:
    readme = (GOLDEN / "README.md").read_text()
    for name in CASES:
        spec = json.loads((GOLDEN / name / "source.json").read_text())
        assert spec["origin"] and spec["expected"], name
        assert f"`{name}`" in readme, name
