"""The scheduler stays pure: no server, HTTP, threads, sockets, clock or unseeded randomness."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import nomadjail.scheduler

SCHEDULER_DIR = Path(nomadjail.scheduler.__file__).parent

# Never loaded by importing the scheduler (the stdlib may load time/os/uuid for
# structs; the scheduler's own code is checked separately below).
FORBIDDEN_MODULES = {
    "falcon", "threading", "asyncio", "socket", "selectors", "subprocess", "concurrent",
    "immutables", "pysyncobj", "requests", "consul",
    "nomadjail.server", "nomadjail.state", "nomadjail.http", "nomadjail.client",
    "nomadjail.agent", "nomadjail.api", "nomadjail.cli", "nomadjail.drivers",
    "nomadjail.jobspec",
}
# Never imported by the scheduler's own modules.
FORBIDDEN_IMPORTS = {"time", "datetime", "os", "threading", "asyncio", "socket", "subprocess",
                     "signal", "select", "selectors", "falcon", "uuid", "secrets"}
# Names whose call would read the clock or unseeded randomness.
FORBIDDEN_CALLS = {"now_ns", "generate_uuid", "time_ns", "uuid4", "urandom", "SystemRandom"}
# Module-level functions of `random` share one unseeded generator.
ALLOWED_RANDOM_ATTRIBUTES = {"Random"}


def test_importing_the_scheduler_loads_no_server_http_or_thread_modules():
    script = ("import json, sys, nomadjail.scheduler\n"
              "print(json.dumps(sorted(sys.modules)))")
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, timeout=60).stdout
    loaded = set(json.loads(output))
    offending = {m for m in loaded
                 if any(m == bad or m.startswith(bad + ".") for bad in FORBIDDEN_MODULES)}
    assert offending == set(), f"importing nomadjail.scheduler loaded {sorted(offending)}"


def purity_problems(source: str, filename: str) -> list[str]:
    """What in ``source`` would read the clock, do I/O, start threads or draw
    unseeded randomness."""
    problems: list[str] = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            problems += [f"{where}: import {a.name}" for a in node.names
                         if a.name.split(".")[0] in FORBIDDEN_IMPORTS]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and (node.module or "").split(".")[0] in FORBIDDEN_IMPORTS:
                problems.append(f"{where}: from {node.module} import ...")
            problems += [f"{where}: imports {a.name}" for a in node.names
                         if a.name in FORBIDDEN_CALLS]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "random" and node.attr not in ALLOWED_RANDOM_ATTRIBUTES:
                problems.append(f"{where}: random.{node.attr} (unseeded)")
            if node.attr in FORBIDDEN_CALLS:
                problems.append(f"{where}: {node.value.id}.{node.attr}")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_CALLS:
            problems.append(f"{where}: {node.id}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("open", "print", "input")):
            problems.append(f"{where}: {node.func.id}()")
    return problems


def test_scheduler_source_uses_no_clock_io_threads_or_unseeded_randomness():
    problems = [problem for path in sorted(SCHEDULER_DIR.glob("*.py"))
                for problem in purity_problems(path.read_text(), path.name)]
    assert problems == [], "the scheduler must stay pure:\n" + "\n".join(problems)


def test_the_purity_check_catches_each_kind_of_violation():
    sample = ("import time\nfrom os import path\nimport random\n"
              "from ..structs import now_ns\n"
              "a = random.random()\nb = random.Random(1)\nc = uuid.uuid4()\nprint(a)\n")
    problems = sorted(purity_problems(sample, "sample.py"))
    assert problems == ["sample.py:1: import time", "sample.py:2: from os import ...",
                        "sample.py:4: imports now_ns", "sample.py:5: random.random (unseeded)",
                        "sample.py:7: uuid.uuid4", "sample.py:8: print()"]
