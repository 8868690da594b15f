"""The group's dns block as the pot's resolv.conf: filled from the host, kept over the image's."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from nomadjail.drivers.base import DriverError
from nomadjail.pot_driver.resolv_conf import (
    ResolvConfFile,
    pot_resolv_conf,
    reassert_resolv_conf,
    render_resolv_conf,
    resolver_config,
)
from nomadjail.structs import DNSConfig

HOST = "nameserver 10.9.9.9\nsearch host.example\noptions ndots:3\n"


def test_empty_fields_are_filled_from_the_host(tmp_path: Path) -> None:
    host = tmp_path / "resolv.conf"
    host.write_text(HOST)
    assert resolver_config(None, str(host)) is None
    full = DNSConfig(servers=["10.0.0.53"], searches=["consul"], options=["edns0"])
    assert resolver_config(full, str(tmp_path / "missing")) == full  # the host not needed
    assert resolver_config(DNSConfig(searches=["consul"]), str(host)) == DNSConfig(
        servers=["10.9.9.9"], searches=["consul"], options=["ndots:3"])


def test_a_block_without_servers_needs_the_hosts(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(DriverError, match=f"names no servers and the host's {missing} "
                                          "cannot be read"):
        resolver_config(DNSConfig(options=["ndots:1"]), str(missing))
    serverless = tmp_path / "resolv.conf"
    serverless.write_text("search host.example\n")
    with pytest.raises(DriverError, match="names none either"):
        resolver_config(DNSConfig(options=["ndots:1"]), str(serverless))
    # with servers of its own, an unreadable host file only leaves the rest empty
    own = DNSConfig(servers=["10.0.0.53"])
    assert resolver_config(DNSConfig(servers=["10.0.0.53"], options=["x"]), str(missing)) == \
        DNSConfig(servers=["10.0.0.53"], options=["x"])
    assert resolver_config(own, str(missing)) == own


def test_only_a_block_with_something_in_it_becomes_a_file() -> None:
    assert pot_resolv_conf(None, "/t/.pot/x.resolv.conf") == ResolvConfFile()
    assert pot_resolv_conf(DNSConfig(), "/t/.pot/x.resolv.conf") == ResolvConfFile()
    dns = DNSConfig(servers=["10.0.0.53"])
    assert pot_resolv_conf(dns, "/t/x") == ResolvConfFile(path="/t/x",
                                                          text=render_resolv_conf(dns))


def test_the_jobs_resolv_conf_is_put_back_over_the_images(tmp_path: Path, caplog) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    text = render_resolv_conf(DNSConfig(servers=["10.0.0.53"]))
    (conf / "resolv.conf").write_text("nameserver 192.0.2.1\n")  # the image's
    with caplog.at_level(logging.WARNING, logger="nomadjail.pot_driver"):
        reassert_resolv_conf(str(conf), "web_a1", text)
        assert (conf / "resolv.conf").read_text() == text
        assert len(caplog.records) == 1 and "restoring the job's" in caplog.text
        reassert_resolv_conf(str(conf), "web_a1", text)  # already right: left alone
        assert len(caplog.records) == 1
