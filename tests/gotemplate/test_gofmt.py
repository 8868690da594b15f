"""Go's fmt: the %v of every kind and printf's verbs, flags, widths and mistakes."""

from __future__ import annotations

import pytest

from nomadjail.gotemplate.gofmt import format_value, sprint, sprintf, sprintln


@pytest.mark.parametrize(("value", "text"), [
    (None, "<nil>"), (True, "true"), (False, "false"), (42, "42"), (-7, "-7"),
    (3.5, "3.5"), (1.0, "1"), (1e6, "1e+06"), (123456.0, "123456"), (1234567.0, "1.234567e+06"),
    (0.0001, "0.0001"), (0.00001, "1e-05"), (1e21, "1e+21"), (0.1 + 0.2, "0.30000000000000004"),
    (-0.0, "-0"), (float("inf"), "+Inf"), (float("-inf"), "-Inf"), (float("nan"), "NaN"),
    ("s", "s"), (["a", 1, [2, 3]], "[a 1 [2 3]]"), ([], "[]"),
    ({"b": 2, "a": [1, "x"]}, "map[a:[1 x] b:2]"), ({}, "map[]"),
    ({2: "b", 1: "a"}, "map[1:a 2:b]"),
])
def test_v_of_each_kind(value: object, text: str) -> None:
    assert format_value(value, "v") == text


@pytest.mark.parametrize(("fmt", "args", "text"), [
    ("%d|%5d|%-5d|%05d|%+d|% d", (42, 42, 42, -42, 3, 3), "42|   42|42   |-0042|+3| 3"),
    ("%x|%X|%#x|%o|%#o|%O|%b|%#b", (255, 255, 255, 8, 8, 8, 5, 5),
     "ff|FF|0xff|10|010|0o10|101|0b101"),
    ("%c|%q|%U|%#U", (65, 65, 0x1F600, 65), "A|'A'|U+1F600|U+0041 'A'"),
    ("%.3d|%8.3d", (7, 7), "007|     007"),
    ("%s|%10s|%-10s|%.2s|%q|%#q|%x|% x|%X", ("go",) * 6 + ("hi", "hi", "hi"),
     "go|        go|go        |go|\"go\"|`go`|6869|68 69|6869"),
    ("%q", ("tab\there \"q\" é\x01",), '"tab\\there \\"q\\" é\\x01"'),
    ("%f|%.2f|%8.3f|%-8.1f|%08.2f|%+.1f", (3.14159, 3.14159, 2.5, 2.5, -2.5, 2.0),
     "3.141590|3.14|   2.500|2.5     |-0002.50|+2.0"),
    ("%e|%E|%.2e|%g|%G|%.3g|%g", (123456.0, 0.000123, 1.0, 1e6, 1e-7, 1234.5678, 100.0),
     "1.234560e+05|1.230000E-04|1.00e+00|1e+06|1E-07|1.23e+03|100"),
    ("%t|%v|%5t", (True, False, True), "true|false| true"),
    ("%v|%+v|%d|%s|%q", ([1, 2], {"a": 1}, [1, 2], ["a", "b"], ["a", "b"]),
     "[1 2]|map[a:1]|[1 2]|[a b]|[\"a\" \"b\"]"),
    ("%T %T %T %T %T %T %T", (1, 1.5, "s", True, None, [1], {"a": 1}),
     "int float64 string bool <nil> []interface {} map[string]interface {}"),
    ("%%|%5.1f%%", (99.44,), "%| 99.4%"),
    ("%[2]d %[1]d", (1, 2), "2 1"),
    ("%[3]*.[2]*[1]f", (12.0, 2, 6), " 12.00"),
    ("%*d|%-*d|%.*f", (5, 1, 4, 2, 2, 3.14159), "    1|2   |3.14"),
])
def test_printf(fmt: str, args: tuple[object, ...], text: str) -> None:
    assert sprintf(fmt, *args) == text


@pytest.mark.parametrize(("fmt", "args", "text"), [
    ("%d", ("x",), "%!d(string=x)"),
    ("%s", (5,), "%!s(int=5)"),
    ("%d", (None,), "%!d(<nil>)"),
    ("%d %d", (1,), "1 %!d(MISSING)"),
    ("%d", (1, 2, "x"), "1%!(EXTRA int=2, string=x)"),
    ("%z", (1,), "%!z(int=1)"),
    ("%", (), "%!(NOVERB)"),
    ("%[5]d", (1,), "%!d(BADINDEX)"),
    ("%t", (1,), "%!t(int=1)"),
    ("%f", (1,), "%!f(int=1)"),
])
def test_printf_mistakes_print_like_go(fmt: str, args: tuple[object, ...], text: str) -> None:
    assert sprintf(fmt, *args) == text


def test_sprint_and_sprintln_spacing() -> None:
    # Sprint adds a space between operands only when neither is a string.
    assert sprint("a", 1, 2, "b", "c", 3.5) == "a1 2bc3.5"
    assert sprint() == ""
    assert sprintln("a", 1, None) == "a 1 <nil>\n"


def test_stringers_and_structs() -> None:
    from nomadjail.gotemplate.consul import HealthService, NomadVarMeta, nomad_var_items

    items = nomad_var_items("p", {"user": "u"})
    assert format_value(items["user"], "v") == "u"
    assert format_value(NomadVarMeta(Path="a/b"), "v") == "a/b"
    assert sprintf("%s|%q", items["user"], items["user"]) == 'u|"u"'
    assert format_value(items, "v") == "map[user:u]"
    assert format_value(HealthService(Name="w", Port=1), "v").startswith("&{")
