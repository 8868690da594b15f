"""Job template rendering speed: parse and execute of a ~100-line consul-template file.

The template hook re-renders on every change of what a template reads, and the
jobspec validator parses every template of every submitted job, so both must stay in
the millisecond range.  Prints p50 / p99 of parse, execute and both, over N runs.  Run:

    .venv/bin/python bench/gotemplate_render.py [--count N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from nomadjail.gotemplate import parse
from nomadjail.gotemplate.consul import (
    MISSING,
    Dependency,
    DependencyKind,
    HealthService,
    consul_template_functions,
    nomad_var_items,
)

BLOCK = """\
# upstream {{ $i }}
upstream app_{{ $i }} {
  {{- range service "web" }}
  server {{ .Address }}:{{ .Port }} weight={{ or (index .ServiceMeta "weight") 1 }};
  {{- end }}
}
{{ with nomadVar "nomad/jobs/app" -}}
user = "{{ .user }}"  # {{ .user | toUpper | printf "%-10s|" }}
{{- end }}
{{ if gt $i 2 }}big{{ else if eq $i 2 }}two{{ else }}small{{ end }} {{ key "app/name" }}
"""
# Ten blocks of ten lines: a 100-line template, as a large real job template is.
TEMPLATE = "".join(f"{{{{- $i := {n} }}}}\n" + BLOCK for n in range(10))


class Source:
    services = [HealthService(Node=f"n{i}", Address=f"10.0.0.{i}", Port=8000 + i, Name="web",
                              ID=f"w{i}", Status="passing", ServiceMeta={"weight": str(i)})
                for i in range(5)]

    def fetch(self, dep: Dependency) -> Any:
        if dep.kind == DependencyKind.CATALOG_SERVICE:
            return self.services
        if dep.kind == DependencyKind.NOMAD_VAR_GET:
            return nomad_var_items(dep.path, {"user": "admin"})
        if dep.kind == DependencyKind.KV_GET:
            return "billing"
        return MISSING


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    lines = TEMPLATE.count("\n")
    parse_ms: list[float] = []
    exec_ms: list[float] = []
    out = ""
    cpu_started = time.process_time()
    for _ in range(args.count):
        started = time.perf_counter()
        tpl = parse(TEMPLATE, name="bench.tpl")
        parsed = time.perf_counter()
        out = tpl.execute(None, consul_template_functions(Source(), env={"HOME": "/root"}))
        done = time.perf_counter()
        parse_ms.append((parsed - started) * 1000)
        exec_ms.append((done - parsed) * 1000)
    cpu_ms = (time.process_time() - cpu_started) * 1000 / args.count
    both = [p + e for p, e in zip(parse_ms, exec_ms, strict=True)]
    print(f"template: {lines} source lines, {out.count(chr(10))} output lines, "
          f"{args.count} runs")
    for label, samples in (("parse", parse_ms), ("execute", exec_ms), ("parse+execute", both)):
        print(f"{label:>14}: p50 {statistics.median(samples):6.2f} ms   "
              f"p99 {percentile(samples, 0.99):6.2f} ms")
    print(f"{'CPU per render':>14}: {cpu_ms:6.2f} ms (parse+execute; wall times above include "
          "waiting for a busy CPU)")


if __name__ == "__main__":
    main()
