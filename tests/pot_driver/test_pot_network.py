"""Where a pot task is reached: pot's ``info -E`` read, the network kept in start records."""

from __future__ import annotations

import pytest

from nomadjail.drivers.base import DriverNetwork
from nomadjail.pot_driver.pot_network import (
    first_address,
    network_from_state,
    network_plan,
    network_to_state,
    parse_info_env,
)
from nomadjail.pot_driver.task_config import parse_pot_config

BASE = {"image": "https://r/", "pot": "p", "tag": "1"}


def test_info_env_lines_become_a_dict() -> None:
    lines = ["export _POT_NAME=web_a1", "export _POT_IP=10.0.0.5",
             "export _POT_IP_LIST=_POT_IP_0\\ _POT_IP_1", "===>  something else", ""]
    assert parse_info_env(lines) == {"_POT_NAME": "web_a1", "_POT_IP": "10.0.0.5",
                                     "_POT_IP_LIST": "_POT_IP_0\\ _POT_IP_1"}


def test_only_alias_pots_have_a_network_of_their_own() -> None:
    alias = parse_pot_config({**BASE, "network_mode": "alias", "ip": "10.0.0.5",
                              "port_map": {"http": "8080", "dns": "udp:53"}})
    assert network_plan(alias) == DriverNetwork(ip="", port_map={"http": 8080, "dns": 53},
                                                auto_advertise=True)
    assert network_plan(parse_pot_config(BASE)) is None
    assert network_plan(parse_pot_config({**BASE, "network_mode": "host"})) is None


def test_the_address_pot_would_report_first() -> None:
    assert first_address(["fd00::5", "em0|10.0.0.5", "10.0.0.6"]) == "10.0.0.5"
    assert first_address(["fd00::5"]) == "fd00::5"
    assert first_address(["${NOMAD_META_ip}"]) == ""


def test_the_network_state_round_trips_and_bad_shapes_say_so() -> None:
    network = DriverNetwork(ip="10.0.0.5", port_map={"http": 80}, auto_advertise=True)
    assert network_from_state(network_to_state(network)) == network
    assert network_from_state(None) is None and network_to_state(None) is None
    with pytest.raises(ValueError, match="network"):
        network_from_state("10.0.0.5")
