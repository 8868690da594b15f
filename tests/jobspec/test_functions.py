"""Built-in functions behave as go-cty's (Nomad's) do, and misuse is a located error."""

from __future__ import annotations

import re

import pytest

from nomadjail.jobspec import JobspecError, parse_body
from nomadjail.jobspec.hcl import FUNCTIONS


def call(text: str):
    return parse_body(f"x = {text}\n", "f.hcl").attributes["x"].value


def error(text: str) -> str:
    with pytest.raises(JobspecError) as err:
        call(text)
    return str(err.value)


CASES = [
    # strings
    ('upper("héllo")', "HÉLLO"),
    ('lower("ABC")', "abc"),
    ('title("hello world-wide_web")', "Hello World-Wide_web"),
    ('trimspace("  a b \\n")', "a b"),
    ('trim("?!hello?!", "!?")', "hello"),
    ('trimprefix("helloworld", "hello")', "world"),
    ('trimsuffix("helloworld", "world")', "hello"),
    ('chomp("line\\n\\r\\n")', "line"),
    ('indent(2, "a\\nb")', "a\n  b"),
    ('strlen("héllo")', 5),
    ('strrev("abc")', "cba"),
    ('substr("hello world", 1, 4)', "ello"),
    ('substr("hello world", -5, -1)', "world"),
    ('substr("hello", 0, 0)', ""),
    ('split(",", "a,b,,c")', ["a", "b", "", "c"]),
    ('join("-", ["a", "b"], ["c"])', "a-b-c"),
    ('join(",", [1, true])', "1,true"),
    ('replace("a.b.c", ".", "-")', "a-b-c"),
    ('regex_replace("v1.2.3", "v(\\\\d+)\\\\..*", "major=$1")', "major=1"),
    ('format("%s is %d", "answer", 42)', "answer is 42"),
    ('format("%v|%v|%v|%#v", "s", 1.5, [1], "j")', 's|1.5|[1]|"j"'),
    ('format("%05.1f|%-4s|%4s|%q|%t", 3.14159, "l", "r", "q", true)', '003.1|l   |   r|"q"|true'),
    ('format("%x %X %o %b %+d", 255, 255, 8, 5, 3)', "ff FF 10 101 +3"),
    ('format("%[2]s %[1]s", "a", "b")', "b a"),
    ('format("100%%")', "100%"),
    ('formatlist("%s=%d", ["a", "b"], [1, 2])', ["a=1", "b=2"]),
    ('formatlist("%s-%s", "x", ["a", "b"])', ["x-a", "x-b"]),
    # collections
    ('length([1, 2, 3])', 3),
    ('length({a = 1})', 1),
    ('length("four")', 4),
    ('concat([1], [2, 3], [])', [1, 2, 3]),
    ('contains(["a", "b"], "b")', True),
    ('contains([1, 2], "1")', False),
    ('distinct(["a", "b", "a", 1, 1])', ["a", "b", 1]),
    ('element(["a", "b", "c"], 4)', "b"),
    ('element(["a", "b", "c"], -1)', "c"),
    ('flatten([["a"], [["b"], "c"], []])', ["a", "b", "c"]),
    ('index(["a", "b"], "b")', 1),
    ('keys({b = 1, a = 2})', ["a", "b"]),
    ('values({b = 1, a = 2})', [2, 1]),
    ('lookup({a = "x"}, "a", "default")', "x"),
    ('lookup({a = "x"}, "b", "default")', "default"),
    ('lookup({a = "x"}, "a")', "x"),
    ('merge({a = 1, b = 1}, {b = 2}, null)', {"a": 1, "b": 2}),
    ('range(3)', [0, 1, 2]),
    ('range(1, 4)', [1, 2, 3]),
    ('range(10, 0, -4)', [10, 6, 2]),
    ('range(0, 1, 0.5)', [0, 0.5]),
    ('range(-2)', [0, -1]),
    ('reverse([1, 2, 3])', [3, 2, 1]),
    ('slice(["a", "b", "c"], 1, 3)', ["b", "c"]),
    ('sort(["b", "a", "c"])', ["a", "b", "c"]),
    ('compact(["a", "", "b"])', ["a", "b"]),
    ('coalesce(null, "", "x", "y")', "x"),
    ('coalesce(null, 2, "x")', "2"),
    ('coalescelist([], ["a"])', ["a"]),
    ('zipmap(["a", "b"], [1, 2])', {"a": 1, "b": 2}),
    ('chunklist([1, 2, 3], 2)', [[1, 2], [3]]),
    ('setunion(["a"], ["b", "a"])', ["a", "b"]),
    ('setintersection(["a", "b"], ["b", "c"])', ["b"]),
    # numbers
    ('abs(-5.5)', 5.5),
    ('ceil(1.2)', 2),
    ('floor(-1.2)', -2),
    ('max(1, 5, 3)', 5),
    ('min(4, "2", 3)', 2),
    ('max([1, 9, 3]...)', 9),
    ('pow(2, 10)', 1024),
    ('signum(-3)', -1),
    ('log(8, 2)', 3),
    ('parseint("ff", 16)', 255),
    # encodings
    ('jsonencode({b = [1, "<x>"], a = null, c = true, d = 1.5})',
     '{"a":null,"b":[1,"\\u003cx\\u003e"],"c":true,"d":1.5}'),
    ('jsondecode("{\\"a\\": [1, 2.5, \\"x\\", null, false]}")', {"a": [1, 2.5, "x", None, False]}),
    ('base64encode("hi")', "aGk="),
    ('base64decode("aGk=")', "hi"),
    ('urlencode("a b&c")', "a+b%26c"),
    ('md5("a")', "0cc175b9c0f1b6a831c399e269772661"),
    ('sha1("a")', "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8"),
    ('sha256("a")', "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"),
    ('substr(sha512("a"), 0, 8)', "1f40fc92"),
    ('uuidv5("dns", "example.com")', "cfbff0d1-9375-5685-968c-48ce8b15ae17"),
    # conversions
    ('tostring(12)', "12"),
    ('tostring(true)', "true"),
    ('tostring(null)', None),
    ('tonumber("1.5")', 1.5),
    ('tonumber(3)', 3),
    ('tobool("true")', True),
    ('tolist(["a", 1])', ["a", 1]),
    ('toset(["a", "a"])', ["a"]),
    ('tomap({a = 1})', {"a": 1}),
    # try and can
    ('try(nope, "fallback")', "fallback"),
    ('try({a = 1}.a, 0)', 1),
    ('can(tonumber("x"))', False),
    ('can(1 + 1)', True),
]


@pytest.mark.parametrize("text, expected", CASES, ids=[c[0] for c in CASES])
def test_function(text, expected):
    result = call(text)
    assert result == expected
    assert type(result) is type(expected)


def test_uuidv4_is_random_and_well_formed():
    first, second = call("uuidv4()"), call("uuidv4()")
    assert first != second
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                        first)


def test_every_function_the_brief_requires_exists():
    required = ("upper lower format join concat lookup length coalesce jsonencode split replace "
                "trimspace title min max keys values merge tostring tonumber contains element "
                "substr abs ceil floor jsondecode trimprefix trimsuffix range distinct flatten")
    assert set(required.split()) <= set(FUNCTIONS)


@pytest.mark.parametrize("text, message", [
    ('uper("x")', 'f.hcl:1:5: unknown function "uper"; did you mean "upper"?'),
    ('file("/etc/passwd")', 'f.hcl:1:5: function "file" is not available: files are parsed '
                            'without access to the file system'),
    ('upper("a", "b")', "f.hcl:1:5: upper(str) takes exactly 1 argument, got 2"),
    ("lookup({})", "f.hcl:1:5: lookup(map, key, [default]) takes 2 to 3 arguments, got 1"),
    ("min()", "f.hcl:1:5: min(): must pass at least one number"),
    ('upper(["a"])', "f.hcl:1:11: invalid argument 1 (str) of upper(): expected a string, "
                     "got a list"),
    ('abs("x")', 'f.hcl:1:9: invalid argument 1 (num) of abs(): expected a number, got string "x"'),
    ("upper(null)", "f.hcl:1:11: argument 1 (str) of upper() must not be null"),
    ('join(",", ["a", null])', "f.hcl:1:5: join(): cannot join a list that contains null values"),
    ('lookup({a = 1}, "b")', 'f.hcl:1:5: lookup(): the map has no key "b" and no default was '
                             'given'),
    ("element([], 0)", "f.hcl:1:5: element(): cannot use element function with an empty list"),
    ("range(0, 5000)", "f.hcl:1:5: range(): more than 1024 values were generated; either "
                       "decrease the difference between start and end or use a smaller step"),
    ("range(1, 2, 0)", "f.hcl:1:17: range(): step must not be zero"),
    ('format("%d", "x")', "f.hcl:1:5: format(): unsupported value for '%d' at 0: expected a "
                          'number, got string "x"'),
    ('format("%d", 1.5)', "f.hcl:1:5: format(): unsupported value for '%d' at 0: an integer is "
                          "required"),
    ('format("%s %s", "a")', "f.hcl:1:5: format(): not enough arguments for '%s' at 3: need "
                             "index 2 but have 1 total"),
    ('format("%s", "a", "b")', "f.hcl:1:5: format(): too many arguments; only 1 used by format "
                               "string"),
    ('format("%y", 1)', "f.hcl:1:5: format(): unsupported format verb 'y' in '%y' at offset 0"),
    ('jsondecode("{")', "f.hcl:1:5: jsondecode(): invalid JSON: Expecting property name enclosed "
                        "in double quotes at line 1 column 2"),
    ('try(nope, nope2)', 'f.hcl:1:5: no expression given to try() succeeded; the last one failed '
                         'with: unknown name "nope2": variables are not allowed here'),
    ('length(5)', "f.hcl:1:12: length(): expected a string, list or map, got number 5"),
    ("concat([1], 2)", "f.hcl:1:17: invalid argument 2 (lists) of concat(): expected a list, "
                       "got number 2"),
    ("substr(\"abc\", 1.5, 1)", "f.hcl:1:19: substr(): expected a whole number, got number 1.5"),
    ('a::b::c(1)', "f.hcl:1:5: provider functions (name::space::function) are not supported"),
    ("concat([1]...)", "f.hcl:1:12: invalid argument 1 (lists) of concat(): expected a list, "
                       "got number 1"),
])
def test_function_errors(text, message):
    assert error(text) == message
