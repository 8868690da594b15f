"""Go's encoding/json numbers and escapes, RE2 pattern translation, and Go time layouts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nomadjail.gotemplate.consul import gojson, golayout, goregex


@pytest.mark.parametrize(("value", "text"), [
    (1.0, "1"), (0.5, "0.5"), (100000.0, "100000"), (1.5e20, "150000000000000000000"),
    (1e21, "1e+21"), (1e-7, "1e-7"), (1.25e-10, "1.25e-10"), (-2.5, "-2.5"), (3, "3"),
    (None, "null"), (True, "true"),
    ("a\u2028<b>&\x01\"", '"a\\u2028\\u003cb\\u003e\\u0026\\u0001\\""'),
])
def test_json_scalars(value: object, text: str) -> None:
    assert gojson.encode(value) == text


def test_json_rejects_what_go_rejects() -> None:
    with pytest.raises(gojson.JSONError, match="unsupported value"):
        gojson.encode(float("nan"))


@pytest.mark.parametrize(("pattern", "text", "matches"), [
    (r"^[[:digit:]]+$", "123", True), (r"^[[:alpha:]_]+$", "ab_c", True),
    (r"(?<year>\d{4})", "in 2024", True), (r"abc\z", "abc\n", False),
    (r"(?i)ABC", "xabcx", True),
])
def test_re2_patterns(pattern: str, text: str, matches: bool) -> None:
    assert goregex.match(pattern, text) is matches


@pytest.mark.parametrize(("pattern", "replacement", "text", "out"), [
    (r"(\w+)@(\w+)", "$2 at $1", "me@host", "host at me"),
    (r"(?P<k>\w+)=(?P<v>\w+)", "${v}=${k}", "a=b c=d", "b=a d=c"),
    (r"a(x*)b", "$1W", "-ab-axxb-", "---"),        # $1W is the (absent) group "1W"
    (r"a(x*)b", "${1}W", "-ab-axxb-", "-W-xxW-"),
    (r"b", "$$", "abc", "a$c"),
    (r"b", "$9", "abc", "ac"),
])
def test_go_replacement_templates(pattern: str, replacement: str, text: str, out: str) -> None:
    assert goregex.replace_all(pattern, replacement, text) == out


def test_unsupported_patterns_fail_clearly() -> None:
    with pytest.raises(goregex.RegexError, match="error parsing regexp"):
        goregex.compile_go(r"\pL+")


@pytest.mark.parametrize(("layout", "out"), [
    (golayout.RFC3339, "2006-01-02T15:04:05Z"),
    ("Mon Jan _2 15:04:05 2006", "Mon Jan  2 15:04:05 2006"),
    ("02/01/06 03:04:05PM .000 .999999", "02/01/06 03:04:05PM .120 .12"),
    ("January 2, 2006 at 3pm MST -0700 Z07:00", "January 2, 2006 at 3pm UTC +0000 Z"),
    ("Monday 002", "Monday 002"),
])
def test_go_time_layouts(layout: str, out: str) -> None:
    when = datetime(2006, 1, 2, 15, 4, 5, 120000, tzinfo=UTC)
    assert golayout.format_time(when, layout) == out
