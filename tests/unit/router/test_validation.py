"""Every way a pattern can be invalid, with event-ruler's reason and where it is."""

from __future__ import annotations

import json

import pytest

from gateway.router import MAX_OR_COMBINATIONS, EventPattern, InvalidEventPatternError

# (pattern, reason, location)
INVALID = [
    ("[1,2,3]", "Filter is not an object", "$"),
    ('"x"', "Filter is not an object", "$"),
    ("{", "Event pattern is not valid JSON", "$"),
    ('{"a": [NaN]}', "Event pattern is not valid JSON", "$"),
    ("{}", "Empty objects are not allowed", "$"),
    ('{"a": {}}', "Empty objects are not allowed", "$.a"),
    ('{"a": []}', "Empty arrays are not allowed", "$.a"),
    ('{"a": 1}', '"a" must be an object or an array', "$.a"),
    ('{"a": "x"}', '"a" must be an object or an array', "$.a"),
    ('{"a": null}', '"a" must be an object or an array', "$.a"),
    ('{"a": [["x"]]}', "Match value must be String, number, true, false, or null", "$.a[0]"),
    ('{"a": [{}]}', "Match expression name not found", "$.a[0]"),
    ('{"a": [{"contains": "x"}]}', "Unrecognized match type contains", "$.a[0].contains"),
    ('{"a": [{"x": 2}]}', "Unrecognized match type x", "$.a[0].x"),
    ('{"a": [{"prefix": "a", "suffix": "c"}]}', "Only one key allowed in match expression", "$.a[0].suffix"),
    ('{"a": [{"prefix": 3}]}', "prefix match pattern must be a string", "$.a[0].prefix"),
    ('{"a": [{"prefix": ["a"]}]}', "prefix match pattern must be a string", "$.a[0].prefix"),
    ('{"a": [{"suffix": 3}]}', "suffix match pattern must be a string", "$.a[0].suffix"),
    ('{"a": [{"prefix": {}}]}', "Prefix expression name not found", "$.a[0].prefix"),
    (
        '{"a": [{"prefix": {"invalid-expression": ["abc"]}}]}',
        "Unsupported prefix pattern: invalid-expression",
        None,
    ),
    (
        '{"a": [{"prefix": {"equals-ignore-case": 5}}]}',
        "equals-ignore-case match pattern must be a string",
        None,
    ),
    (
        '{"a": [{"prefix": {"equals-ignore-case": ["abc"]}}]}',
        "equals-ignore-case match pattern must be a string",
        None,
    ),
    ('{"a": [{"prefix": {"equals-ignore-case": "abc", "test": "def"}}]}', "Only one key allowed", None),
    ('{"a": [{"prefix": {"equals-ignore-case": "abc"}, "test": "def"}]}', "Only one key allowed", None),
    (
        '{"a": [{"suffix": {"invalid-expression": ["abc"]}}]}',
        "Unsupported suffix pattern: invalid-expression",
        None,
    ),
    (
        '{"a": [{"suffix": {"equals-ignore-case": 5}}]}',
        "equals-ignore-case match pattern must be a string",
        None,
    ),
    ('{"a": [{"equals-ignore-case": 5}]}', "equals-ignore-case match pattern must be a string", None),
    ('{"a": [{"equals-ignore-case": ["abc"]}]}', "equals-ignore-case match pattern must be a string", None),
    ('{"a": [{"exactly": 1}]}', "exact match pattern must be a string", None),
    ('{"a": [{"wildcard": 5}]}', "wildcard match pattern must be a string", None),
    ('{"a": [{"wildcard": ["abc"]}]}', "wildcard match pattern must be a string", None),
    ('{"key": [{"wildcard": "abc**def"}]}', "Consecutive wildcard characters at pos 4", "$.key[0].wildcard"),
    ('{"key": [{"wildcard": "a*c\\\\def"}]}', "Invalid escape character at pos 4", None),
    ('{"key": [{"wildcard": "abc\\\\"}]}', "Invalid escape character at pos 4", None),
    ('{"a": [{"exists": "true"}]}', "exists match pattern must be either true or false.", None),
    ('{"a": [{"exists": true, "extraKey": "x"}]}', "Only one key allowed", None),
    (
        '{"a": [{"anything-but": null}]}',
        "Value of anything-but must be an array or single string/number value.",
        None,
    ),
    (
        '{"a": [{"anything-but": true}]}',
        "Value of anything-but must be an array or single string/number value.",
        None,
    ),
    ('{"a": [{"anything-but": []}]}', "mixed type is not supported", None),
    ('{"a": [{"anything-but": ["child0", 111, "child2"]}]}', "mixed type is not supported", None),
    (
        '{"a": [{"anything-but": ["x", null]}]}',
        "start|null|boolean is not supported",
        "$.a[0].anything-but[1]",
    ),
    ('{"a": [{"anything-but": "child", "foo": []}]}', "Too many elements in numeric expression", None),
    ('{"a": [{"anything-but": {"foo": 3}}]}', "Unsupported anything-but pattern: foo", None),
    ('{"a": [{"anything-but": {"numeric": [">", 1]}}]}', "Unsupported anything-but pattern: numeric", None),
    ('{"a": [{"anything-but": {}}]}', "Anything-But expression name not found", None),
    ('{"a": [{"anything-but": {"prefix": 27}}]}', "prefix/suffix match pattern must be a string", None),
    ('{"a": [{"anything-but": {"prefix": ""}}]}', "Null prefix/suffix not allowed", None),
    ('{"a": [{"anything-but": {"prefix": ["1", ""]}}]}', "Null prefix/suffix not allowed", None),
    ('{"a": [{"anything-but": {"prefix": [1, 2]}}]}', "prefix/suffix match pattern must be a string", None),
    ('{"a": [{"anything-but": {"prefix": "foo", "a": 1}}]}', "Too many elements", None),
    ('{"a": [{"anything-but": {"prefix": "foo"}, "x": 1}]}', "Too many elements", None),
    ('{"a": [{"anything-but": {"suffix": ""}}]}', "Null prefix/suffix not allowed", None),
    ('{"a": [{"anything-but": {"suffix": 27}}]}', "prefix/suffix match pattern must be a string", None),
    (
        '{"a": [{"anything-but": {"equals-ignore-case": [1, 2]}}]}',
        "number|start|null|boolean is not supported",
        None,
    ),
    ('{"a": [{"anything-but": {"wildcard": 27}}]}', "wildcard match pattern must be a string", None),
    ('{"a": [{"anything-but": {"wildcard": "foo**bar"}}]}', "Consecutive wildcard characters", None),
    ('{"a": [{"anything-but": {"wildcard": ["1", "foo*bar\\\\"]}}]}', "Invalid escape character", None),
    (
        '{"a": [{"anything-but": {"prefix": {"equals-ignore-case": "x"}}}]}',
        "must be an array or single",
        None,
    ),
    ('{"a": [{"anything-but": 9007199254740993}]}', "Cannot compare number : 9007199254740993", None),
    ('{"a": [{"numeric": 5}]}', "Value of numeric must be an array.", None),
    ('{"a": [{"numeric": []}]}', "Invalid member in numeric match", None),
    ('{"a": [{"numeric": [5]}]}', "Invalid member in numeric match: 5", None),
    ('{"a": [{"numeric": ["=", true]}]}', "Value of equals must be numeric", None),
    ('{"a": [{"numeric": ["=", "-4e-6"]}]}', "Value of equals must be numeric", None),
    ('{"a": [{"numeric": ["="]}]}', "Value of equals must be numeric", None),
    ('{"a": [{"numeric": ["<", 2.0e422]}]}', "Cannot compare number", None),
    ('{"a": [{"numeric": ["=", 1E309]}]}', "Cannot compare number", None),
    ('{"a": [{"numeric": ["=", 1E-325]}]}', "Cannot compare number", None),
    ('{"a": [{"numeric": [">", 9007199254740993]}]}', "Cannot compare number : 9007199254740993", None),
    ('{"a": [{"numeric": [">=", true]}]}', "Value of >= must be numeric", None),
    ('{"a": [{"numeric": ["<>", 1, ">", 0]}]}', "Unrecognized numeric range operator: <>", None),
    ('{"a": [{"numeric": ["==", 1, ">", 0]}]}', "Unrecognized numeric range operator: ==", None),
    ('{"a": [{"numeric": ["<", 1, ">", 0]}]}', "Too many elements in numeric expression", None),
    ('{"a": [{"numeric": ["=", 1, ">", 0]}]}', "Too many elements in numeric expression", None),
    ('{"a": [{"numeric": [">", 1, "<", 1]}]}', "Bottom must be less than top", None),
    ('{"a": [{"numeric": [">=", 1, "<=", 1]}]}', "Bottom must be less than top", None),
    ('{"a": [{"numeric": [">", 30, "<", 1]}]}', "Bottom must be less than top", None),
    ('{"a": [{"numeric": [">", 1, "<", 30, false]}]}', "Too many terms in numeric range expression", None),
    ('{"a": [{"numeric": [">", 1, ">", 30]}]}', "Bad numeric range operator: >", None),
    ('{"a": [{"numeric": [">", 1, 30]}]}', "Bad value in numeric range: 30", None),
    ('{"a": [{"numeric": [">", 1, "<", "30"]}]}', "Value of < must be numeric", None),
    ('{"a": [{"cidr": 10}]}', "cidr match pattern must be a string", None),
    ('{"a": [{"cidr": "foo"}]}', "Malformed CIDR, one '/' required", None),
    ('{"a": [{"cidr": "10.0.0.0/"}]}', "Malformed CIDR, one '/' required", None),
    ('{"a": [{"cidr": "10.0.0.0/8/8"}]}', "Malformed CIDR, one '/' required", None),
    ('{"a": [{"cidr": "10.0.0.0/x"}]}', "mask bits must be an integer", None),
    ('{"a": [{"cidr": "10.0.0.0/-1"}]}', "mask bits must not be negative", None),
    ('{"a": [{"cidr": "10.0.0.0/32"}]}', "IPv4 mask bits must be < 32", None),
    ('{"a": [{"cidr": "2001:db8::/128"}]}', "IPv6 mask bits must be < 128", None),
    ('{"a": [{"cidr": "foo/8"}]}', "Nonstandard IP address: foo", None),
    ('{"a": [{"cidr": "10.0.0.256/8"}]}', "Invalid IP address: 10.0.0.256", None),
    ('{"$or": [{"a": ["x"]}]}', "There must have at least 2 Objects in $or relationship.", "$.$or"),
    ('{"$or": {"a": ["x"]}}', "It must be an Array followed with $or.", "$.$or"),
    (
        '{"$or": [{"a": ["x"]}, ["b"]]}',
        "Only JSON object is allowed in array of $or relationship.",
        "$.$or[1]",
    ),
    ('{"$or": [{"a": ["x"]}, {}]}', "Empty objects are not allowed", "$.$or[1]"),
    ('{"$or": [{"numeric": [">", 0]}, {"cidr": "10.0.0.0/8"}]}', "numeric is Ruler reserved fieldName", None),
    ('{"d": {"$or": [{"a": ["x"]}, {"b": {"prefix": ["x"]}}]}}', "prefix is Ruler reserved fieldName", None),
]


@pytest.mark.parametrize(("pattern", "reason", "location"), INVALID, ids=[c[0][:70] for c in INVALID])
def test_invalid_patterns_say_what_and_where(pattern: str, reason: str, location: str | None) -> None:
    with pytest.raises(InvalidEventPatternError) as caught:
        EventPattern(pattern)
    assert reason in caught.value.reason
    assert isinstance(caught.value, ValueError)
    assert caught.value.reason in str(caught.value)
    assert caught.value.location in str(caught.value)
    if location is not None:
        assert caught.value.location == location


VALID = [
    '{"a": [{"numeric": ["=", 3.8]}]}',
    '{"a": [{"numeric": ["<", 0.000033]}]}',
    '{"a": [{"numeric": [">", -4e-6]}]}',
    '{"a": [{"numeric": ["<=", 55555]}]}',
    '{"a": [{"numeric": [">=", 1E-320]}]}',
    '{"a": [{"numeric": [">=", 0, "<", 1]}]}',
    '{"a": [{"numeric": [">", 0, "<=", 1]}]}',
    '{"a": [9007199254740993]}',
    '{"a": [1e400]}',
    '{"a": [{"anything-but": {"equals-ignore-case": ""}}]}',
    '{"a": [{"anything-but": {"equals-ignore-case": ["abc", ""]}}]}',
    '{"a": [{"anything-but": {"wildcard": ""}}]}',
    '{"a": [{"anything-but": {"wildcard": ["foo*bar", ""]}}]}',
    '{"a": [{"anything-but": [111, 222, 333]}]}',
    '{"a": [{"exactly": "child"}]}',
    '{"a": [{"prefix": ""}]}',
    '{"a": [{"wildcard": "\\\\\\\\*\\\\*"}]}',
    '{"a": [{"cidr": "10.0.0.0/31"}]}',
    '{"a": [{"cidr": "::/0"}]}',
    '{"a": [{"exists": true}, {"exists": false}]}',
    '{"prefix": ["x"], "numeric": ["y"]}',
    '{"a": ["x"], "a": {"b": ["y"]}}',
]


@pytest.mark.parametrize("pattern", VALID)
def test_valid_patterns(pattern: str) -> None:
    EventPattern(pattern)


def test_pattern_size_limit() -> None:
    filler = "x" * 2000
    fits = json.dumps({"a": [filler]})
    assert len(fits) <= 2048
    EventPattern(fits)
    too_long = json.dumps({"a": [filler, "y" * 60]})
    with pytest.raises(InvalidEventPatternError, match="longer than 2048"):
        EventPattern(too_long)
    with pytest.raises(InvalidEventPatternError, match="longer than 2048"):
        EventPattern(json.loads(too_long))
    EventPattern(too_long, max_length=4096)


def test_or_combination_limit() -> None:
    def ors(count: int, width: int) -> dict[str, object]:
        return {f"f{i}": {"$or": [{f"v{j}": ["x"]} for j in range(width)]} for i in range(count)}

    assert len(EventPattern(ors(3, 10)).rules) == MAX_OR_COMBINATIONS
    with pytest.raises(InvalidEventPatternError, match="more than 1000 combinations"):
        EventPattern(ors(10, 2))
    with pytest.raises(InvalidEventPatternError, match="more than 1000 combinations"):
        EventPattern(ors(2, 40))


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ({"a": {1: ["x"]}}, "Field names must be strings"),
        ({"a": [float("nan")]}, "is not a JSON number"),
        ({"a": [object()]}, "is not a JSON value"),
    ],
)
def test_invalid_python_patterns(pattern: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidEventPatternError, match=reason):
        EventPattern(pattern)
