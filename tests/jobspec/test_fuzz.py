"""Whatever the text, parsing ends in a Job or a located JobspecError -- nothing else."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nomadjail.jobspec import JobspecError, parse_body, parse_job
from nomadjail.structs import Job

SEED = (Path(__file__).parent / "fixtures" / "full.nomad").read_text()
SMALL_SEED = '''variable "x" {
  type    = list(string)
  default = ["a"]
}
locals {
  y = [for s in var.x : upper(s) if s != ""]
}
job "j" {
  datacenters = local.y
  meta = {
    a = format("%05.1f|%q", 1.5, "${NOMAD_ALLOC_DIR}")
    b = <<-EOF
      ${join(",", var.x)} %{ for i in range(2) }${i}%{ endfor }
    EOF
  }
  group "g" {
    dynamic "network" {
      for_each = [1]
      content {
        port "p${network.value}" {}
      }
    }
  }
}
'''
TOKENS = ["${", "%{", "}", "{", '"', "[", "]", "(", ")", ",", "=", "\n", " ", ".", "*", "-", "1",
          "x", "...", "~", "\\", "<<EOF\n", "EOF\n", "#", "/*", "null", "var.", "local.", "for ",
          " in ", ":", "=>", "?", "!", "%", "0.5e3", "[*]", "job", "group", "task", "job \"j\" {",
          "%{ if true }", "%{ endif }", "9" * 30, "\t", "\r\n", "\ufeff", "\x00"]



def budget(examples: int) -> settings:
    """A fixed example count keeps the suite fast (a parse of the realistic job is ~20 ms)."""
    return settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


def check(text: str) -> None:
    for parse in (lambda: parse_job(text, "fuzz.nomad", variables={}, env={}),
                  lambda: parse_body(text, "fuzz.nomad")):
        try:
            result = parse()
        except JobspecError as err:
            assert err.filename == "fuzz.nomad" or err.filename.startswith("<")
            assert err.line >= 1 and err.column >= 1
            assert str(err).startswith(f"{err.filename}:{err.line}:{err.column}: ")
        else:
            assert result is not None
            if isinstance(result, Job):
                assert result.id


@budget(300)
@given(st.text(max_size=200))
def test_random_text(text):
    check(text)


@budget(300)
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_random_token_soup(tokens):
    check("".join(tokens))


def _mutations(seed: str):
    edit = st.tuples(st.integers(0, len(seed)), st.integers(0, 6),
                     st.one_of(st.sampled_from(TOKENS), st.text(max_size=4)))
    return st.lists(edit, min_size=1, max_size=4)


def _apply(seed: str, edits) -> str:
    text = seed
    for position, delete, insert in edits:
        position = min(position, len(text))
        text = text[:position] + insert + text[position + delete:]
    return text


@budget(150)
@given(_mutations(SMALL_SEED))
def test_mutated_job_with_expressions(edits):
    check(_apply(SMALL_SEED, edits))


@budget(40)
@given(_mutations(SEED))
def test_mutated_realistic_job(edits):
    check(_apply(SEED, edits))
