"""Whatever a config file holds, loading it gives an overlay or a ConfigError -- nothing else."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nomadjail.agent.config_file import ConfigError, load_config_file

SEED_HCL = '''name = "n"
ports {
  http = 4646
}
server {
  enabled = true
  heartbeat_grace = "10s"
  server_join {
    retry_join = ["a"]
  }
}
client {
  servers = ["a:4647"]
  meta {
    rack = "r1"
  }
  reserved {
    cpu = 10
  }
}
plugin "raw_exec" {
  config {
    enabled = true
  }
}
'''
TOKENS = ["{", "}", "[", "]", "=", '"', "\n", " ", ",", "server", "client", "ports", "plugin",
          "config", "enabled", "true", "1", "1.5", '"10s"', "-", "#", "//", "/*", "*/", "${",
          "null", "meta", "reserved", "retry_join", "server_join", "\\", "<<EOF\n", "EOF\n",
          "\x00", "\ufeff", "9" * 30]


def budget(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None,
                    report_multiple_bugs=False,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


def load(tmp_path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        overlay = load_config_file(str(path))
    except ConfigError as err:
        assert str(err).startswith(str(path)), err  # located in the file
        return
    assert isinstance(overlay, dict)


@budget(150)
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_token_soup_in_hcl(tmp_path, tokens):
    load(tmp_path, "agent.hcl", "".join(tokens))


@budget(150)
@given(st.integers(0, len(SEED_HCL)), st.integers(0, 12),
       st.lists(st.sampled_from(TOKENS), max_size=3).map("".join))
def test_mangled_realistic_hcl(tmp_path, at, cut, insert):
    load(tmp_path, "agent.hcl", SEED_HCL[:at] + insert + SEED_HCL[at + cut:])


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False)
    | st.sampled_from(["", "10s", "a:4647", "true", "x" * 3]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["server", "client", "ports", "plugin", "raw_exec", "config",
                         "enabled", "http", "meta", "reserved", "cpu", "servers", "region",
                         "retry_join", "server_join", "bogus"]), inner, max_size=4),
    max_leaves=12)


@budget(200)
@given(JSON_VALUES)
def test_random_json_documents(tmp_path, document):
    load(tmp_path, "agent.json", json.dumps(document))


@budget(100)
@given(st.text(max_size=60))
def test_random_text_as_json(tmp_path, text):
    load(tmp_path, "agent.json", text)
