"""Matching semantics, case by case, from event-ruler's README and tests and the EventBridge guide."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.router import EventPattern, RuleSet

README_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "012345679012",
    "time": "2017-10-02T16:24:49Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
    "detail": {
        "c-count": 5,
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.33",
        "instance-id": "i-000000aaaaaa00000",
        "state": "running",
    },
}

README_MATCHING = [
    {
        "detail-type": ["EC2 Instance State-change Notification"],
        "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
        "detail": {"state": ["initializing", "running"]},
    },
    {"time": [{"prefix": "2017-10-02"}]},
    {"source": [{"prefix": {"equals-ignore-case": "AWS.E"}}]},
    {"source": [{"suffix": "ec2"}]},
    {"source": [{"suffix": {"equals-ignore-case": "EC2"}}]},
    {"source": [{"equals-ignore-case": "AWS.EC2"}]},
    {"detail-type": [{"wildcard": "EC2*State-change*"}]},
    {"detail": {"state": [{"anything-but": "initializing"}]}},
    {"detail": {"x-limit": [{"anything-but": 123}]}},
    {"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}},
    {"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}},
    {"detail": {"state": [{"anything-but": {"prefix": "init"}}]}},
    {"detail": {"state": [{"anything-but": {"prefix": ["init", "error"]}}]}},
    {"detail": {"instance-id": [{"anything-but": {"suffix": "1234"}}]}},
    {"detail": {"instance-id": [{"anything-but": {"suffix": ["1234", "6789"]}}]}},
    {"detail": {"state": [{"anything-but": {"equals-ignore-case": "Stopped"}}]}},
    {"detail": {"state": [{"anything-but": {"equals-ignore-case": ["Stopped", "OverLoaded"]}}]}},
    {"detail": {"state": [{"anything-but": {"wildcard": "*/bin/*.jar"}}]}},
    {"detail": {"state": [{"anything-but": {"wildcard": ["*/bin/*.jar", "*/bin/*.class"]}}]}},
    {
        "detail": {
            "c-count": [{"numeric": [">", 0, "<=", 5]}],
            "d-count": [{"numeric": ["<", 10]}],
            "x-limit": [{"numeric": ["=", 3.018e2]}],
        }
    },
    {"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}},
    {"detail": {"c-count": [{"exists": True}]}},
    {"detail": {"nothing-here": [{"exists": False}]}},
    {
        "time": [{"prefix": "2017-10-02"}],
        "detail": {
            "state": [{"anything-but": "initializing"}],
            "c-count": [{"numeric": [">", 0, "<=", 5]}],
            "d-count": [{"numeric": ["<", 10]}],
            "x-limit": [{"anything-but": [100, 200, 300]}],
            "source-ip": [{"cidr": "10.0.0.0/8"}],
        },
    },
    {"source": ["aws.ec2"], "$or": [{"detail": {"state": ["stopped"]}}, {"detail": {"c-count": [5]}}]},
]


@pytest.mark.parametrize("pattern", README_MATCHING, ids=lambda p: json.dumps(p)[:60])
def test_readme_patterns_match_the_readme_event(pattern: dict[str, Any]) -> None:
    assert EventPattern(pattern).matches(README_EVENT)
    assert EventPattern(json.dumps(pattern)).matches(json.dumps(README_EVENT))


# (pattern, event, expected)
CASES: list[tuple[str, str, Any, bool]] = [
    # exact values
    ("case-sensitive", '{"a": ["x"]}', {"a": "x"}, True),
    ("case-sensitive upper", '{"a": ["x"]}', {"a": "X"}, False),
    ("number by value 1.0", '{"a": [1]}', {"a": 1.0}, True),
    ("number by value 1e0", '{"a": [1]}', '{"a": 1e0}', True),
    ("number by value 300", '{"a": [3.0e2]}', {"a": 300}, True),
    ("number vs string", '{"a": [1]}', {"a": "1"}, False),
    ("string vs number", '{"a": ["1"]}', {"a": 1}, False),
    ("true", '{"a": [true]}', {"a": True}, True),
    ("true vs string", '{"a": [true]}', {"a": "true"}, False),
    ("true vs 1", '{"a": [true]}', {"a": 1}, False),
    ("1 vs true", '{"a": [1]}', {"a": True}, False),
    ("false vs 0", '{"a": [false]}', {"a": 0}, False),
    ("null", '{"a": [null]}', {"a": None}, True),
    ("null vs missing", '{"a": [null]}', {}, False),
    ("null vs empty string", '{"a": [null]}', {"a": ""}, False),
    ("empty string", '{"a": [""]}', {"a": ""}, True),
    ("empty string vs null", '{"a": [""]}', {"a": None}, False),
    ("zero vs minus zero", '{"a": [0]}', '{"a": -0}', True),
    ("minus zero float", '{"a": [0.0]}', '{"a": -0.0}', True),
    ("2^53 vs 2^53+1", '{"a": [9007199254740992]}', '{"a": 9007199254740993}', False),
    ("2^53+1 by text", '{"a": [9007199254740993]}', '{"a": 9007199254740993}', True),
    ("2^53+1 vs 2^53", '{"a": [9007199254740993]}', '{"a": 9007199254740992}', False),
    ("long decimal by text", '{"a": [0.30000000000000000001]}', '{"a": 0.30000000000000000001}', True),
    ("long decimal not 0.3", '{"a": [0.30000000000000000001]}', '{"a": 0.3}', False),
    ("unicode escape", '{"a": ["\\u00e9"]}', '{"a": "é"}', True),
    ("ipv4 zero padded", '{"a": ["10.0.0.1"]}', {"a": "010.000.000.001"}, True),
    ("ipv4 other", '{"a": ["10.0.0.1"]}', {"a": "10.0.0.2"}, False),
    ("ipv6 spelling", '{"a": ["2001:db8::1"]}', {"a": "2001:0db8:0:0:0:0:0:1"}, True),
    ("ipv6 upper case", '{"a": ["2001:db8::a"]}', {"a": "2001:DB8::A"}, True),
    ("ipv4-mapped ipv6", '{"a": ["10.0.0.1"]}', {"a": "::ffff:a00:1"}, True),
    ("not an ip stays a string", '{"a": ["10.0.0.256"]}', {"a": "10.0.0.256"}, True),
    ("exactly is not normalized", '{"a": [{"exactly": "10.0.0.1"}]}', {"a": "010.0.0.1"}, False),
    ("exactly", '{"a": [{"exactly": "10.0.0.1"}]}', {"a": "10.0.0.1"}, True),
    ("exactly string only", '{"a": [{"exactly": "1"}]}', {"a": 1}, False),
    # structure
    ("pattern leaf vs object", '{"a": ["x"]}', {"a": {"b": "x"}}, False),
    ("nested pattern vs scalar", '{"a": {"b": ["x"]}}', {"a": "x"}, False),
    ("dotted key in event", '{"a": {"b": ["x"]}}', {"a.b": "x"}, True),
    ("dotted key in pattern", '{"a.b": ["x"]}', {"a": {"b": "x"}}, True),
    ("other fields ignored", '{"a": ["x"]}', {"a": "x", "b": "y"}, True),
    ("and across fields", '{"a": ["x"], "b": ["y"]}', {"a": "x", "b": "z"}, False),
    ("or inside a leaf", '{"a": ["x", "y"]}', {"a": "y"}, True),
    ("last duplicate key wins", '{"a": ["x"], "a": ["y"]}', {"a": "y"}, True),
    ("first duplicate key lost", '{"a": ["x"], "a": ["y"]}', {"a": "x"}, False),
    # arrays
    ("any element", '{"a": ["x"]}', {"a": ["q", "x"]}, True),
    ("no element", '{"a": ["x"]}', {"a": ["q", "r"]}, False),
    ("nested arrays flattened", '{"a": ["x"]}', {"a": [["q"], ["x"]]}, True),
    ("empty array", '{"a": ["x"]}', {"a": []}, False),
    ("array of objects", '{"a": {"b": ["x"]}}', {"a": [{"b": "q"}, {"b": "x"}]}, True),
    (
        "array consistency",
        '{"a": {"b": ["x"], "c": ["y"]}}',
        {"a": [{"b": "x", "c": "n"}, {"b": "n", "c": "y"}]},
        False,
    ),
    (
        "array consistency same element",
        '{"a": {"b": ["x"], "c": ["y"]}}',
        {"a": [{"b": "x", "c": "n"}, {"b": "x", "c": "y"}]},
        True,
    ),
    (
        "README employees Anna",
        '{"employees": {"firstName": ["Anna"]}}',
        {"employees": [[{"firstName": "John"}, {"firstName": "Anna"}], [{"firstName": "Peter"}]]},
        True,
    ),
    (
        "README employees Anna Jones",
        '{"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}',
        {
            "employees": [
                [{"firstName": "John", "lastName": "Doe"}, {"firstName": "Anna", "lastName": "Smith"}],
                [{"firstName": "Peter", "lastName": "Jones"}],
            ]
        },
        False,
    ),
    # prefix / suffix
    ("prefix", '{"a": [{"prefix": "ab"}]}', {"a": "abc"}, True),
    ("prefix whole", '{"a": [{"prefix": "abc"}]}', {"a": "abc"}, True),
    ("prefix miss", '{"a": [{"prefix": "ab"}]}', {"a": "xabc"}, False),
    ("prefix strings only", '{"a": [{"prefix": "1"}]}', {"a": 123}, False),
    ("empty prefix any string", '{"a": [{"prefix": ""}]}', {"a": ""}, True),
    ("empty prefix not null", '{"a": [{"prefix": ""}]}', {"a": None}, False),
    ("prefix not normalized ip", '{"a": [{"prefix": "10.0"}]}', {"a": "010.0.0.1"}, False),
    ("suffix", '{"a": [{"suffix": ".png"}]}', {"a": "x.png"}, True),
    ("suffix miss", '{"a": [{"suffix": ".png"}]}', {"a": "x.png2"}, False),
    ("empty suffix", '{"a": [{"suffix": ""}]}', {"a": "x"}, True),
    ("suffix strings only", '{"a": [{"suffix": "3"}]}', {"a": 123}, False),
    ("prefix ignore case", '{"a": [{"prefix": {"equals-ignore-case": "AB"}}]}', {"a": "aBc"}, True),
    ("prefix ignore case miss", '{"a": [{"prefix": {"equals-ignore-case": "AB"}}]}', {"a": "xab"}, False),
    ("suffix ignore case", '{"a": [{"suffix": {"equals-ignore-case": "BC"}}]}', {"a": "abC"}, True),
    ("suffix ignore case miss", '{"a": [{"suffix": {"equals-ignore-case": "BC"}}]}', {"a": "bca"}, False),
    # equals-ignore-case, per character
    ("ignore case", '{"a": [{"equals-ignore-case": "HeLLo"}]}', {"a": "hello"}, True),
    ("ignore case whole value", '{"a": [{"equals-ignore-case": "HeLLo"}]}', {"a": "hello!"}, False),
    ("ignore case strings only", '{"a": [{"equals-ignore-case": "1"}]}', {"a": 1}, False),
    ("ignore case umlaut", '{"a": [{"equals-ignore-case": "ÄBC"}]}', {"a": "äbc"}, True),
    ("no full folding sharp s", '{"a": [{"equals-ignore-case": "STRASSE"}]}', {"a": "straße"}, False),
    ("no final sigma folding", '{"a": [{"equals-ignore-case": "ΟΔΟΣ"}]}', {"a": "οδος"}, False),
    ("sigma", '{"a": [{"equals-ignore-case": "ΟΔΟΣ"}]}', {"a": "οδοσ"}, True),
    ("no kelvin sign", '{"a": [{"equals-ignore-case": "k"}]}', {"a": "\u212a"}, False),
    ("no dotless i", '{"a": [{"equals-ignore-case": "I"}]}', {"a": "\u0131"}, False),
    ("astral exact", '{"a": [{"equals-ignore-case": "😀a"}]}', {"a": "😀A"}, True),
    # wildcard
    ("wildcard", '{"a": [{"wildcard": "a*c"}]}', {"a": "abbbc"}, True),
    ("wildcard empty run", '{"a": [{"wildcard": "a*c"}]}', {"a": "ac"}, True),
    ("wildcard whole value", '{"a": [{"wildcard": "a*c"}]}', {"a": "abcd"}, False),
    ("wildcard star alone", '{"a": [{"wildcard": "*"}]}', {"a": ""}, True),
    ("wildcard no star is exact", '{"a": [{"wildcard": "abc"}]}', {"a": "abc"}, True),
    ("wildcard escaped star", '{"a": [{"wildcard": "a\\\\*c"}]}', {"a": "a*c"}, True),
    ("wildcard escaped star literal", '{"a": [{"wildcard": "a\\\\*c"}]}', {"a": "abc"}, False),
    ("wildcard escaped backslash", r'{"a": [{"wildcard": "a\\\\*"}]}', {"a": "a\\xyz"}, True),
    ("wildcard strings only", '{"a": [{"wildcard": "*"}]}', {"a": 1}, False),
    ("wildcard newline", '{"a": [{"wildcard": "a*b"}]}', {"a": "a\nb"}, True),
    ("wildcard regex chars", '{"a": [{"wildcard": "a.c*"}]}', {"a": "abc"}, False),
    # anything-but
    ("anything-but missing field", '{"a": [{"anything-but": "x"}]}', {}, False),
    ("anything-but null", '{"a": [{"anything-but": "x"}]}', {"a": None}, True),
    ("anything-but other type", '{"a": [{"anything-but": "x"}]}', {"a": 5}, True),
    ("anything-but number vs string", '{"a": [{"anything-but": 5}]}', {"a": "5"}, True),
    ("anything-but number by value", '{"a": [{"anything-but": 5}]}', {"a": 5.0}, False),
    ("anything-but excluded", '{"a": [{"anything-but": ["x", "y"]}]}', {"a": "y"}, False),
    ("anything-but array any", '{"a": [{"anything-but": ["x", "y"]}]}', {"a": ["x", "z"]}, True),
    ("anything-but array all excluded", '{"a": [{"anything-but": ["x", "y"]}]}', {"a": ["x", "y"]}, False),
    ("anything-but empty array", '{"a": [{"anything-but": "x"}]}', {"a": []}, False),
    ("anything-but object", '{"a": [{"anything-but": "x"}]}', {"a": {"b": 1}}, False),
    ("anything-but ip normalized", '{"a": [{"anything-but": "10.0.0.1"}]}', {"a": "10.000.0.1"}, False),
    ("anything-but prefix", '{"a": [{"anything-but": {"prefix": "in"}}]}', {"a": "init"}, False),
    ("anything-but prefix other", '{"a": [{"anything-but": {"prefix": "in"}}]}', {"a": "run"}, True),
    ("anything-but prefix number", '{"a": [{"anything-but": {"prefix": "1"}}]}', {"a": 1}, True),
    ("anything-but suffix", '{"a": [{"anything-but": {"suffix": ".png"}}]}', {"a": "a.png"}, False),
    (
        "anything-but suffix list",
        '{"a": [{"anything-but": {"suffix": [".png", ".jpg"]}}]}',
        {"a": "a.gif"},
        True,
    ),
    (
        "anything-but ignore case",
        '{"a": [{"anything-but": {"equals-ignore-case": "STOP"}}]}',
        {"a": "stop"},
        False,
    ),
    (
        "anything-but ignore case other",
        '{"a": [{"anything-but": {"equals-ignore-case": "STOP"}}]}',
        {"a": "go"},
        True,
    ),
    (
        "anything-but wildcard",
        '{"a": [{"anything-but": {"wildcard": "*/lib/*"}}]}',
        {"a": "/usr/lib/x"},
        False,
    ),
    (
        "anything-but wildcard other",
        '{"a": [{"anything-but": {"wildcard": "*/lib/*"}}]}',
        {"a": "/usr/bin/x"},
        True,
    ),
    (
        "anything-but empty ignore-case list",
        '{"a": [{"anything-but": {"equals-ignore-case": []}}]}',
        {"a": "x"},
        True,
    ),
    # numeric
    ("numeric range", '{"a": [{"numeric": [">", 0, "<=", 5]}]}', {"a": 5}, True),
    ("numeric range open top", '{"a": [{"numeric": [">", 0, "<", 5]}]}', {"a": 5}, False),
    ("numeric range open bottom", '{"a": [{"numeric": [">", 0, "<", 5]}]}', {"a": 0}, False),
    ("numeric range closed bottom", '{"a": [{"numeric": [">=", 0, "<", 5]}]}', {"a": 0}, True),
    ("numeric less", '{"a": [{"numeric": ["<", 10]}]}', {"a": -1e300}, True),
    ("numeric equals", '{"a": [{"numeric": ["=", 3.018e2]}]}', {"a": 301.8}, True),
    ("numeric string", '{"a": [{"numeric": [">", 0]}]}', {"a": "5"}, False),
    ("numeric bool", '{"a": [{"numeric": [">", 0]}]}', {"a": True}, False),
    ("numeric null", '{"a": [{"numeric": ["<", 1]}]}', {"a": None}, False),
    ("numeric big event number", '{"a": [{"numeric": [">", 0]}]}', '{"a": 9007199254740993}', False),
    (
        "numeric imprecise event decimal",
        '{"a": [{"numeric": [">", 0]}]}',
        '{"a": 0.30000000000000000001}',
        False,
    ),
    ("numeric huge double", '{"a": [{"numeric": [">", 1e300]}]}', {"a": 1.5e308}, True),
    ("numeric tiny", '{"a": [{"numeric": [">", 0]}]}', '{"a": 1E-320}', True),
    ("numeric float64", '{"a": [{"numeric": ["=", 0.1]}]}', {"a": 0.1}, True),
    ("numeric float64 sum", '{"a": [{"numeric": ["=", 0.3]}]}', {"a": 0.1 + 0.2}, False),
    ("numeric array", '{"a": [{"numeric": [">", 0, "<", 10]}]}', {"a": [100, 5, 200]}, True),
    # cidr
    ("cidr", '{"a": [{"cidr": "10.0.0.0/24"}]}', {"a": "10.0.0.255"}, True),
    ("cidr outside", '{"a": [{"cidr": "10.0.0.0/24"}]}', {"a": "10.0.1.0"}, False),
    ("cidr host bits", '{"a": [{"cidr": "10.0.0.5/8"}]}', {"a": "10.255.0.1"}, True),
    ("cidr zero padded", '{"a": [{"cidr": "10.0.0.0/8"}]}', {"a": "010.001.002.003"}, True),
    ("cidr host bits /31", '{"a": [{"cidr": "220.160.153.171/31"}]}', {"a": "220.160.153.170"}, True),
    ("cidr not ip", '{"a": [{"cidr": "10.0.0.0/8"}]}', {"a": "ten"}, False),
    ("cidr number", '{"a": [{"cidr": "10.0.0.0/8"}]}', {"a": 10}, False),
    ("cidr v6", '{"a": [{"cidr": "2001:db8::/32"}]}', {"a": "2001:DB8:0:0::ffff"}, True),
    ("cidr v6 outside", '{"a": [{"cidr": "2001:db8::/32"}]}', {"a": "2001:db9::1"}, False),
    ("cidr v4 vs v6", '{"a": [{"cidr": "0.0.0.0/0"}]}', {"a": "::1"}, False),
    # exists
    ("exists true", '{"a": [{"exists": true}]}', {"a": 1}, True),
    ("exists true null", '{"a": [{"exists": true}]}', {"a": None}, True),
    ("exists true empty string", '{"a": [{"exists": true}]}', {"a": ""}, True),
    ("exists true missing", '{"a": [{"exists": true}]}', {}, False),
    ("exists true empty object", '{"a": [{"exists": true}]}', {"a": {}}, False),
    ("exists true empty array", '{"a": [{"exists": true}]}', {"a": []}, False),
    ("exists true object", '{"a": [{"exists": true}]}', {"a": {"b": 1}}, False),
    ("exists false missing", '{"a": [{"exists": false}]}', {}, True),
    ("exists false present", '{"a": [{"exists": false}]}', {"a": 1}, False),
    ("exists false null", '{"a": [{"exists": false}]}', {"a": None}, False),
    ("exists false empty object", '{"a": [{"exists": false}]}', {"a": {}}, True),
    ("exists false empty array", '{"a": [{"exists": false}]}', {"a": []}, True),
    ("exists false non-leaf", '{"a": [{"exists": false}]}', {"a": {"c1": 100}}, True),
    ("exists false or value: absent", '{"a": ["x", {"exists": false}]}', {}, True),
    ("exists false or value: value", '{"a": ["x", {"exists": false}]}', {"a": "x"}, True),
    ("exists false or value: other", '{"a": ["x", {"exists": false}]}', {"a": "y"}, False),
    # $or
    (
        "or normal",
        '{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPU"]}, {"namespace": ["AWS/EC2"]}]}',
        {"source": "aws.cloudwatch", "namespace": "AWS/EC2"},
        True,
    ),
    (
        "or none",
        '{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPU"]}, {"namespace": ["AWS/EC2"]}]}',
        {"source": "aws.cloudwatch", "namespace": "AWS/ES"},
        False,
    ),
    (
        "or nested",
        '{"source": ["s"], "$or": [{"m": ["1"]}, {"t": ["T"], "$or": [{"id": [1234]}, {"sp": [1000]}]}]}',
        {"source": "s", "t": "T", "sp": 1000},
        True,
    ),
    (
        "or nested needs inner",
        '{"source": ["s"], "$or": [{"m": ["1"]}, {"t": ["T"], "$or": [{"id": [1234]}, {"sp": [1000]}]}]}',
        {"source": "s", "t": "T"},
        False,
    ),
    (
        "or parallel",
        '{"$or": [{"a": ["1"]}, {"b": ["1"]}], "d": {"$or": [{"c": ["1"]}, {"e": ["1"]}]}}',
        {"b": "1", "d": {"e": "1"}},
        True,
    ),
    (
        "or parallel one side",
        '{"$or": [{"a": ["1"]}, {"b": ["1"]}], "d": {"$or": [{"c": ["1"]}, {"e": ["1"]}]}}',
        {"b": "1", "d": {"f": "1"}},
        False,
    ),
    (
        "or branch replaces outer key",
        '{"name": ["a", "b"], "$or": [{"name": [{"anything-but": "a"}]}, {"condition1": ["x"]}]}',
        {"name": "c"},
        True,
    ),
    (
        "later key replaces or branch",
        '{"$or": [{"name": ["x"]}, {"c": ["y"]}], "name": ["a"]}',
        {"name": "x"},
        False,
    ),
]


@pytest.mark.parametrize(("pattern", "event", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_matches(pattern: str, event: Any, expected: bool) -> None:
    compiled = EventPattern(pattern)
    assert compiled.matches(event) is expected
    assert (RuleSet({"r": compiled}).matching(event) == ["r"]) is expected
    if isinstance(event, dict):
        assert compiled.matches(json.dumps(event)) is expected


def test_dict_and_text_patterns_agree() -> None:
    pattern = {"detail": {"state": [{"anything-but": {"prefix": "init"}}], "c-count": [5]}}
    assert EventPattern(pattern).rules == EventPattern(json.dumps(pattern)).rules


def test_event_must_be_an_object() -> None:
    pattern = EventPattern('{"a": ["x"]}')
    with pytest.raises(ValueError, match="JSON object"):
        pattern.matches("[1]")
    with pytest.raises(ValueError, match="not valid JSON"):
        pattern.matches("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        pattern.matches('{"a": NaN}')
