"""The text helpers reproduce the Go libraries Nomad prints with."""

from __future__ import annotations

import pytest

from nomadjail.cli.format import (
    colorize,
    columnize,
    format_kv,
    format_list,
    format_rfc3339,
    format_time_s,
    go_quote,
    ibytes,
    pretty_time_diff,
)

NOW = 1_700_000_000.0


def test_list_pads_columns_but_not_the_last_and_fills_blanks():
    assert format_list(["ID|Name|Class", "abc|web-server|", "d|x|gpu"]) == (
        "ID   Name        Class\n"
        "abc  web-server  <none>\n"
        "d    x           gpu")


def test_key_value_block():
    assert format_kv(["ID|abc", "Description|", "Status|running"]) == (
        "ID          = abc\n"
        "Description = <none>\n"
        "Status      = running")


def test_columnize_counts_characters_not_bytes():
    assert columnize(["ä|x", "ab|y"]) == "ä   x\nab  y"


@pytest.mark.parametrize("ago, text", [
    (0, "0s ago"), (1, "1s ago"), (59, "59s ago"), (60, "1m ago"), (61, "1m1s ago"),
    (3600, "1h ago"), (3605, "1h5s ago"), (3 * 3600 + 125, "3h2m ago"),
    (86400 * 2 + 3600, "2d1h ago"), (86400 * 45, "1mo15d ago"), (86400 * 400, "1y1mo ago"),
    (-90, "1m30s from now"),
])
def test_pretty_time_diff_keeps_the_two_largest_units(ago, text):
    assert pretty_time_diff(int((NOW - ago) * 1e9), NOW) == text


def test_pretty_time_diff_of_zero_time_is_empty():
    assert pretty_time_diff(0, NOW) == ""


@pytest.mark.parametrize("size, text", [
    (0, "0 B"), (9, "9 B"), (512, "512 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"),
    (300 * 1024 * 1024, "300 MiB"), (8 * 1024**3, "8.0 GiB"), (100 * 1024**3, "100 GiB"),
])
def test_ibytes(size, text):
    assert ibytes(size) == text


def test_format_time_is_iso8601_local(monkeypatch):
    import time
    assert format_time_s(NOW) == "2023-11-14T22:13:20Z"  # the suite runs in UTC
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        assert format_time_s(NOW) == "2023-11-14T23:13:20+01:00"
    finally:
        monkeypatch.setenv("TZ", "UTC")
        time.tzset()
    assert format_time_s(0) == ""


def test_go_quote():
    assert go_quote('a "b"\\c\n') == '"a \\"b\\"\\\\c\\n"'


def test_colorize_translates_or_strips_known_tags_only():
    assert colorize("[bold]Summary[reset] [web]", False) == "Summary [web]"
    assert colorize("[bold]Summary[reset]", True) == "\033[1mSummary\033[0m\033[0m"
    assert colorize("plain", True) == "plain"


@pytest.mark.parametrize("text", ["2021-06-09T15:20:27.508545-07:00", "2021-06-09T22:20:27Z",
                                  "2021-06-09T22:20:27.508545123Z", "2021-06-09T23:20:27+01:00"])
def test_api_times_in_any_zone_print_in_local_time(text, utc):
    # Go marshals times in the server's zone, with up to nine fraction digits.
    assert format_rfc3339(text) == "2021-06-09T22:20:27Z"
    assert format_rfc3339("0001-01-01T00:00:00Z") == ""
