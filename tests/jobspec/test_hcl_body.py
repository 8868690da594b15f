"""The generic HCL layer other parts of nomadjail reuse (the agent config loader)."""

from __future__ import annotations

import pytest

from nomadjail.jobspec import (
    Attribute,
    BlockSpec,
    EvalContext,
    JobspecError,
    Position,
    Schema,
    as_bool,
    as_duration,
    as_integer,
    as_string,
    as_string_list,
    decode_body,
    parse_body,
    string_map,
)

AGENT_CONFIG = '''# an agent config
data_dir  = "/var/tmp/nomadjail"
bind_addr = "0.0.0.0"

server {
  enabled          = true
  bootstrap_expect = 3
  retry_join       = ["10.0.0.1", "10.0.0.2"]
}

ports {
  http = 4646
}

client {
  options = {
    "driver.raw_exec.enable" = "1"
  }
}

plugin "pot" {
  config {
    enabled = true
  }
}
'''


def test_parse_body_gives_values_blocks_and_positions():
    body = parse_body(AGENT_CONFIG, "agent.hcl")
    assert {name: a.value for name, a in body.attributes.items()} == {
        "data_dir": "/var/tmp/nomadjail", "bind_addr": "0.0.0.0"}
    assert body.attributes["bind_addr"].pos == Position("agent.hcl", 3, 1)
    assert body.attributes["bind_addr"].value_pos == Position("agent.hcl", 3, 13)
    assert [(b.type, b.labels) for b in body.blocks] == [
        ("server", []), ("ports", []), ("client", []), ("plugin", ["pot"])]
    server = body.blocks[0]
    assert server.pos == Position("agent.hcl", 5, 1)
    assert server.body.attributes["retry_join"].value == ["10.0.0.1", "10.0.0.2"]
    assert body.blocks[2].body.attributes["options"].value == {"driver.raw_exec.enable": "1"}
    plugin_config = body.blocks[3].body.blocks[0]
    assert plugin_config.type == "config"
    assert plugin_config.body.attributes["enabled"].value is True
    assert body.blocks_of("ports")[0].body.attributes["http"].value == 4646


def test_parse_body_reports_errors_up_front():
    with pytest.raises(JobspecError) as err:
        parse_body('server {\n  enabled = tru\n}\n', "agent.hcl")
    assert str(err.value) == 'agent.hcl:2:13: unknown name "tru": variables are not allowed here'


def test_parse_body_with_variables_in_the_context():
    context = EvalContext({"env": {"DC": "dc1"}})
    body = parse_body('datacenter = upper(env.DC)\n', "agent.hcl", context=context)
    assert body.attributes["datacenter"].value == "DC1"


def test_attributes_can_be_built_directly():
    attribute = Attribute("http", 4646, Position("x.hcl", 1, 1))
    assert (attribute.name, attribute.value, attribute.pos.line) == ("http", 4646, 1)


SERVER = Schema(
    attributes={"enabled": as_bool, "bootstrap_expect": as_integer, "retry_join": as_string_list,
                "heartbeat_grace": as_duration, "encrypt": as_string},
    blocks={"default_scheduler_config": BlockSpec()},
    unsupported=frozenset({"authoritative_region"}),
)
TOP = Schema(attributes={"data_dir": as_string},
             blocks={"server": BlockSpec(), "plugin": BlockSpec(("name",), repeated=True)},
             required=frozenset({"data_dir"}))


def decode(text: str, schema: Schema = SERVER):
    body = parse_body(text, "agent.hcl")
    return decode_body(body, schema, "server", Position("agent.hcl", 1, 1))


def test_decode_body_converts_values():
    decoded = decode('enabled = "true"\nbootstrap_expect = "3"\nretry_join = ["a"]\n'
                     'heartbeat_grace = "10s"\nencrypt = null\n')
    assert decoded.values == {"enabled": True, "bootstrap_expect": 3, "retry_join": ["a"],
                              "heartbeat_grace": 10_000_000_000}
    assert not decoded.has("encrypt")
    assert decoded.get("encrypt", "none") == "none"


@pytest.mark.parametrize("text, message", [
    ("enabeld = true\n", 'agent.hcl:1:1: unknown attribute "enabeld" in server; did you mean '
                         '"enabled"?'),
    ('bootstrap_expect = "abc"\n', 'agent.hcl:1:20: invalid value for "bootstrap_expect" in '
                                   'server: expected a number, got string "abc"'),
    ("enabled = 1\n", 'agent.hcl:1:11: invalid value for "enabled" in server: expected a bool '
                      '(true or false), got number 1'),
    ("retry_join = [null]\n", 'agent.hcl:1:14: invalid value for "retry_join" in server: '
                              'element 0: expected a string, got null'),
    ("default_scheduler_config = {}\n", 'agent.hcl:1:1: "default_scheduler_config" in server is '
                                        'a block, not an attribute: write '
                                        'default_scheduler_config { ... }'),
    ("default_scheduler_config {}\ndefault_scheduler_config {}\n",
     "agent.hcl:2:1: only one default_scheduler_config block is allowed in server; the first is "
     "at line 1"),
    ('authoritative_region = "x"\n', 'agent.hcl:1:1: attribute "authoritative_region" is not '
                                     'supported by nomadjail yet'),
    ("retryjoin {}\n", 'agent.hcl:1:1: unknown block "retryjoin" in server'),
])
def test_decode_body_errors(text, message):
    with pytest.raises(JobspecError) as err:
        decode(text)
    assert str(err.value) == message


def test_required_attributes_and_labels():
    with pytest.raises(JobspecError) as err:
        decode("server {}\n", TOP)
    assert str(err.value) == 'agent.hcl:1:1: server needs the attribute "data_dir"'
    with pytest.raises(JobspecError) as err:
        decode('data_dir = "/x"\nplugin {}\n', TOP)
    assert str(err.value) == ('agent.hcl:2:1: block "plugin" needs 1 label (name), as in plugin '
                              '"name" { ... }')
    decoded = decode('data_dir = "/x"\nplugin "a" {}\nplugin "b" {}\n', TOP)
    assert [b.labels[0] for b in decoded.blocks_of("plugin")] == ["a", "b"]


def test_string_map_accepts_block_or_attribute():
    schema = Schema(attributes={"meta": lambda v: {k: as_string(x) for k, x in v.items()}},
                    blocks={"meta": BlockSpec()})
    as_block = decode_body(parse_body("meta {\n  a = 1\n}\n", "m.hcl"), schema, "client")
    as_attribute = decode_body(parse_body('meta = { a = "1" }\n', "m.hcl"), schema, "client")
    assert string_map(as_block, "meta") == string_map(as_attribute, "meta") == {"a": "1"}
    assert string_map(decode_body(parse_body("", "m.hcl"), schema, "client"), "meta") is None
