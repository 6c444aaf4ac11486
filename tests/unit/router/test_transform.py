"""Target input: `Input`, `InputPath` and `InputTransformer`, rendered as EventBridge renders them.

The cases come from the AWS user guide ("Amazon EventBridge input transformation") and from
deliveries recorded against EventBridge itself (SQS message bodies for a given template).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import HookgateError
from gateway.router._transform import (
    MAX_INPUT_LENGTH,
    MAX_INPUT_PATH_LENGTH,
    MAX_INPUT_PATHS,
    MAX_INPUT_TEMPLATE_LENGTH,
    PREDEFINED_VARIABLES,
    InputRenderError,
    InvalidTargetInputError,
    RuleContext,
    TargetInput,
)

PROPERTIES = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

CONTEXT = RuleContext("example", "arn:hookgate:events:::rule/bus/example")
INGESTED = "2024-05-06T07:08:09Z"

# The user guide's EC2 event.
EC2 = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "123456789012",
    "time": "2015-11-11T21:29:54Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
    "detail": {"instance-id": "i-0123456789", "state": "RUNNING"},
}
EC2_PATHS = {"timestamp": "$.time", "instance": "$.detail.instance-id", "state": "$.detail.state"}

# The event of the recorded deliveries.
ACCOUNT = {
    "version": "0",
    "id": "0d7ac3a4-2b1e-4c1f-9d55-6c0c2a0f3b11",
    "detail-type": "core.update-account-command",
    "source": "core.update-account-command",
    "account": "111111111111",
    "time": "2024-12-13T17:27:50Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {
        "command": "update-account",
        "payload": {"acc_id": "0a787ecb-4015", "sf_id": "baz"},
        "listsingle": ["HIGH"],
        "listmulti": ["ACTIVE", "INACTIVE"],
        "valid": True,
    },
}
ACCOUNT_PATHS = {
    "userId": "$.detail.payload.acc_id",
    "payload": "$.detail.payload",
    "systemstring": "$.detail.awsAccountId",
    "listsingle": "$.detail.listsingle",
    "listmulti": "$.detail.listmulti",
    "valid": "$.detail.valid",
}


def render(target: TargetInput, event: Any, entry: str | None = None) -> str:
    text = json.dumps(event) if entry is None else entry
    return target.render(text, json.loads(text), CONTEXT, ingestion_time=INGESTED).decode()


def transform(paths: dict[str, str] | None, template: str, event: Any = EC2) -> str:
    return render(TargetInput(input_paths_map=paths, input_template=template), event)


# -- the user guide's examples -----------------------------------------------------------------

GUIDE = [
    ('"instance <instance> is in <state>"', '"instance i-0123456789 is in RUNNING"'),
    ('"instance \\"<instance>\\" is in <state>"', '"instance \\"i-0123456789\\" is in RUNNING"'),
    (
        '{\n  "instance" : <instance>,\n  "state": <state>\n}',
        '{\n  "instance" : "i-0123456789",\n  "state": "RUNNING"\n}',
    ),
    (
        '{"instance" : <instance>, "state": "<state>", '
        '"instanceStatus": "instance \\"<instance>\\" is in <state>"}',
        '{"instance" : "i-0123456789", "state": "RUNNING", '
        '"instanceStatus": "instance \\"i-0123456789\\" is in RUNNING"}',
    ),
    (
        '{"instance" : <instance>, "state": [ 9, <state>, true ], "Transformed" : "Yes"}',
        '{"instance" : "i-0123456789", "state": [ 9, "RUNNING", true ], "Transformed" : "Yes"}',
    ),
    ('"<aws.events.rule-name> triggered"', '"example triggered"'),
    (
        '{"timestamp" : <timestamp>, "message": "instance \\"<instance>\\" is in <state>"}',
        '{"timestamp" : "2015-11-11T21:29:54Z", "message": "instance \\"i-0123456789\\" is in RUNNING"}',
    ),
    # The API reference's plain-text form.
    ("<instance> is in state <state>", "i-0123456789 is in state RUNNING"),
    ('<instance> is in state "<state>"', 'i-0123456789 is in state "RUNNING"'),
]


@pytest.mark.parametrize(("template", "expected"), GUIDE)
def test_user_guide_examples(template: str, expected: str) -> None:
    assert transform(EC2_PATHS, template) == expected


def test_reserved_variables_in_json() -> None:
    template = (
        '{"instance" : <instance>, "state": <state>, "ruleArn" : <aws.events.rule-arn>, '
        '"ruleName" : <aws.events.rule-name>, "at": <aws.events.event.ingestion-time>, '
        '"originalEvent" : <aws.events.event>}'
    )
    body = json.loads(transform(EC2_PATHS, template))
    assert body == {
        "instance": "i-0123456789",
        "state": "RUNNING",
        "ruleArn": CONTEXT.rule_arn,
        "ruleName": "example",
        "at": INGESTED,
        "originalEvent": {
            "id": EC2["id"],
            "account": "123456789012",
            "detailType": "EC2 Instance State-change Notification",
            "time": "2015-11-11T21:29:54Z",
            "source": "aws.ec2",
            "region": "us-east-1",
            "resources": EC2["resources"],
            "version": "0",
        },
    }
    assert list(body["originalEvent"]) == [
        "id",
        "account",
        "detailType",
        "time",
        "source",
        "region",
        "resources",
        "version",
    ]


def test_event_without_detail_keeps_extra_keys_after_the_known_ones() -> None:
    replayed = {**EC2, "replay-name": "nightly"}
    body = json.loads(transform(None, '{"e": <aws.events.event>}', replayed))
    assert "detail" not in body["e"]
    assert list(body["e"])[-2:] == ["version", "replay-name"]


def test_event_json_is_the_stored_text_as_is() -> None:
    entry = '{"source": "s", "n": 1.50, "big": 123456789012345678901234567890, "detail": {"é": "ü"}}'
    target = TargetInput(input_template='{"whole": <aws.events.event.json>}')
    out = render(target, None, entry)
    assert out == f'{{"whole": {entry}}}'
    assert json.loads(out)["whole"]["big"] == 123456789012345678901234567890


# -- deliveries recorded against EventBridge ---------------------------------------------------

RECORDED = [
    (
        '{"method": "PUT", "path": "users-service/users/<userId>", "bod": <payload>}',
        '{"method": "PUT", "path": "users-service/users/0a787ecb-4015", '
        '"bod": {"acc_id":"0a787ecb-4015","sf_id":"baz"}}',
    ),
    (
        '"Payload of <payload> with path users-service/users/<userId> and <userId>"',
        '"Payload of {acc_id:0a787ecb-4015,sf_id:baz} with path users-service/users/0a787ecb-4015 '
        'and 0a787ecb-4015"',
    ),
    ('{"id" : <userId>}', '{"id" : "0a787ecb-4015"}'),
    ('{"id" : "<userId>"}', '{"id" : "0a787ecb-4015"}'),
    (
        '{"method": "PUT", "path": "users-service/users/<userId>", "bod": [<userId>, "hardcoded"]}',
        '{"method": "PUT", "path": "users-service/users/0a787ecb-4015", '
        '"bod": ["0a787ecb-4015", "hardcoded"]}',
    ),
    (
        '{"nested": {"level1": {"level2": {"level3": "users-service/users/<userId>"} } }, "bod": "<userId>"}',
        '{"nested": {"level1": {"level2": {"level3": "users-service/users/0a787ecb-4015"} } }, '
        '"bod": "0a787ecb-4015"}',
    ),
    ('"<listsingle> single list item"', '"[HIGH] single list item"'),
    ('"<listmulti> multiple list items"', '"[ACTIVE,INACTIVE] multiple list items"'),
    ('{"singlelistitem": <listsingle>}', '{"singlelistitem": ["HIGH"]}'),
    (
        '"<listsingle> single list item <listmulti> multiple list items <systemstring> system account id '
        '<payload> payload <userId> user id"',
        '"[HIGH] single list item [ACTIVE,INACTIVE] multiple list items  system account id '
        '{acc_id:0a787ecb-4015,sf_id:baz} payload 0a787ecb-4015 user id"',
    ),
    (
        '"<listsingle> single list item"\n"<systemstring> system account id"\n"<userId> user id"',
        '"[HIGH] single list item"\n" system account id"\n"0a787ecb-4015 user id"',
    ),
    (
        '{"multi_replacement": "users/<userId>/second/<userId>"}',
        '{"multi_replacement": "users/0a787ecb-4015/second/0a787ecb-4015"}',
    ),
    ('"Command is <valid>!"', '"Command is true!"'),
    (
        '"{[/Check with special starting characters for <userId>"',
        '"{[/Check with special starting characters for 0a787ecb-4015"',
    ),
]


@pytest.mark.parametrize(("template", "expected"), RECORDED)
def test_recorded_deliveries(template: str, expected: str) -> None:
    assert transform(ACCOUNT_PATHS, template, ACCOUNT) == expected


@pytest.mark.parametrize(
    "template",
    [
        '{"not_valid": "users-service/users/<payload>", "bod": <payload>}',
        '{"payload": "<payload>"}',
        '{"singlelistitem": "<listsingle>"}',
        '{"whole": "<aws.events.event.json>"}',
    ],
)
def test_json_template_that_the_event_breaks_is_not_delivered(template: str) -> None:
    target = TargetInput(input_paths_map=ACCOUNT_PATHS, input_template=template)
    with pytest.raises(InputRenderError, match=r"^input_transformer\.input_template: .* not JSON"):
        render(target, ACCOUNT)


def test_a_path_the_event_lacks_is_empty() -> None:
    paths = {"type": "$.detail-type", "command": "$.detail.notinmessage"}
    assert (
        transform(paths, '{"detailType": <type>, "command": <command>}', ACCOUNT)
        == '{"detailType": "core.update-account-command", "command": ""}'
    )
    assert transform(paths, '"Event of <type> type, command <command>"', ACCOUNT) == (
        '"Event of core.update-account-command type, command "'
    )
    assert transform(paths, "<command>|<type>", ACCOUNT) == "|core.update-account-command"


# -- values: escaping, numbers, unicode ---------------------------------------------------------

ODD = {
    "detail": {
        "quote": 'say "hi"\\now',
        "control": "tab\there\nline\x01",
        "unicode": "日本語 ünïcødé 🎉",
        "big": 2**80 + 1,
        "negative": -(2**70),
        "float": 1.5e-7,
        "null": None,
        "false": False,
        "empty": "",
        "obj": {"a": [1, {"b": None}], "c": "d"},
        "arr": [],
    }
}


@pytest.mark.parametrize("name", sorted(ODD["detail"]))
def test_unquoted_values_are_json(name: str) -> None:
    out = transform({"v": f"$.detail.{name}"}, '{"v": <v>}', ODD)
    assert json.loads(out) == {"v": ODD["detail"][name]}


def test_numbers_and_unicode_are_written_exactly() -> None:
    out = transform(
        {"b": "$.detail.big", "n": "$.detail.negative", "u": "$.detail.unicode"}, "[<b>, <n>, <u>]", ODD
    )
    assert out == '[1208925819614629174706177, -1180591620717411303424, "日本語 ünïcødé 🎉"]'
    assert transform({"b": "$.detail.big"}, '"<b> items"', ODD) == '"1208925819614629174706177 items"'


def test_values_inside_quotes_go_in_raw_without_escaping() -> None:
    out = transform({"q": "$.detail.quote", "c": "$.detail.control"}, '"<q> / <c>"', ODD)
    assert out == '"say "hi"\\now / tab\there\nline\x01"'
    assert transform({"n": "$.detail.null", "f": "$.detail.false"}, '"<n>,<f>"', ODD) == '"null,false"'
    assert transform({"u": "$.detail.unicode"}, '{"u": "<u>!"}', ODD) == '{"u": "日本語 ünïcødé 🎉!"}'


def test_objects_outside_quotes_in_text_stay_json() -> None:
    assert transform({"o": "$.detail.obj"}, "object: <o>", ODD) == 'object: {"a":[1,{"b":null}],"c":"d"}'
    assert transform(None, "<aws.events.event.json>", ODD) == json.dumps(ODD)


def test_a_string_that_only_looks_dangerous_is_checked_not_refused() -> None:
    event = {"detail": {"path": "C:\\\\temp", "tab": "a\\tb"}}
    out = transform({"p": "$.detail.path", "t": "$.detail.tab"}, '{"p": "<p>", "t": "<t>"}', event)
    assert json.loads(out) == {"p": "C:\\temp", "t": "a\tb"}


def test_lone_surrogates_become_json_escapes() -> None:
    entry = '{"detail": {"s": "a\\ud800b"}}'
    target = TargetInput(input_paths_map={"s": "$.detail.s"}, input_template='{"s": <s>}')
    out = render(target, None, entry)
    assert out == '{"s": "a\\ud800b"}'
    assert json.loads(out) == {"s": "a\ud800b"}


def test_angle_brackets_that_are_not_placeholders_stay_text() -> None:
    assert (
        transform(EC2_PATHS, '"a < b, c <= d, <state> > e, < state >"')
        == '"a < b, c <= d, RUNNING > e, < state >"'
    )
    assert transform(EC2_PATHS, '"<<state>>"') == '"<RUNNING>"'
    assert transform(EC2_PATHS, '"\\<state>"') == '"\\RUNNING"'


def test_one_target_input_renders_many_events_independently() -> None:
    target = TargetInput(input_paths_map={"s": "$.detail.state"}, input_template='{"s": <s>}')
    states = ["RUNNING", "STOPPED", None, 'q"uote']
    outs = [render(target, {"detail": {"state": s}}) for s in states]
    outs.append(render(target, {"detail": {}}))
    assert [json.loads(o)["s"] for o in outs] == [*states, ""]


# -- Input, InputPath and the whole event -------------------------------------------------------


def test_whole_event_is_the_entry_as_is() -> None:
    entry = '{ "source" : "s",\n "detail": {"ünï": 12345678901234567890123} }'
    target = TargetInput()
    assert target.is_whole_event
    assert render(target, None, entry) == entry
    assert TargetInput(input_path="$").is_whole_event
    assert render(TargetInput(input_path="$"), None, entry) == entry


def test_constant_input_is_sent_as_written() -> None:
    text = '{"fixed": [1, 2.50, "é"],\n "big": 123456789012345678901234567890}'
    target = TargetInput(input=text)
    assert not target.is_whole_event
    assert render(target, EC2) == text
    assert render(TargetInput(input='"just a string"'), EC2) == '"just a string"'


INPUT_PATHS = [
    ("$.detail", '{"instance-id":"i-0123456789","state":"RUNNING"}'),
    ("$.detail.state", '"RUNNING"'),
    ("$.resources[0]", '"arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"'),
    ("$['detail']['instance-id']", '"i-0123456789"'),
    ('$["detail"].state', '"RUNNING"'),
    ("$.resources[*]", '["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"]'),
    ("$.detail.*", '["i-0123456789","RUNNING"]'),
    ("$.detail[*]", '["i-0123456789","RUNNING"]'),
    ("$.nothing[*]", "[]"),
    ("$.resources[5].x[*]", "[]"),
]


@pytest.mark.parametrize(("path", "expected"), INPUT_PATHS)
def test_input_path(path: str, expected: str) -> None:
    target = TargetInput(input_path=path)
    assert not target.is_whole_event
    assert render(target, EC2) == expected


def test_wildcards_collect_what_they_reach_and_skip_the_rest() -> None:
    event = {"detail": {"items": [{"id": 1}, {"name": "x"}, {"id": {"deep": True}}, 7, {"id": None}]}}
    assert render(TargetInput(input_path="$.detail.items[*].id"), event) == '[1,{"deep":true},null]'
    assert render(TargetInput(input_path="$.detail.items.*.id"), event) == '[1,{"deep":true},null]'
    out = transform({"ids": "$.detail.items[*].id"}, '{"ids": <ids>}', event)
    assert json.loads(out) == {"ids": [1, {"deep": True}, None]}


def test_input_path_values_keep_their_json() -> None:
    assert render(TargetInput(input_path="$.detail.big"), ODD) == "1208925819614629174706177"
    assert render(TargetInput(input_path="$.detail.null"), ODD) == "null"
    assert render(TargetInput(input_path="$.detail.control"), ODD) == '"tab\\there\\nline\\u0001"'
    assert render(TargetInput(input_path="$.detail.unicode"), ODD) == '"日本語 ünïcødé 🎉"'


@pytest.mark.parametrize(
    "path",
    [
        "$.detail.missing",
        "$.detail.state.deeper",
        "$.resources[1]",
        "$.detail[0]",
        "$.resources.x",
        "$.source[0]",
    ],
)
def test_input_path_to_nothing_gives_no_input(path: str) -> None:
    with pytest.raises(InputRenderError, match=rf"^input_path: {re.escape(path)} finds nothing"):
        render(TargetInput(input_path=path), EC2)


def test_paths_reach_names_with_dashes_slashes_digits_and_letters_of_any_script() -> None:
    event = {"detail": {"a-b": {"c/d": {"0": {"ключ_1": "found"}}}}}
    assert transform({"v": "$.detail.a-b.c/d.0.ключ_1"}, "<v>", event) == "found"


# -- every validation error ---------------------------------------------------------------------

INVALID: list[tuple[dict[str, Any], str]] = [
    ({"input": "{}", "input_path": "$"}, "input/input_path: only one of"),
    ({"input": "{}", "input_template": "<x>"}, "input/input_transformer: only one of"),
    ({"input_path": "$", "input_paths_map": {}}, "input_path/input_transformer: only one of"),
    (
        {"input": "1", "input_path": "$", "input_template": '"x"'},
        "input/input_path/input_transformer: only one of",
    ),
    ({"input_paths_map": {"a": "$.a"}}, "input_transformer.input_template: an input transformer needs"),
    ({"input": "{"}, "input: is not valid JSON text"),
    ({"input": ""}, "input: is not valid JSON text"),
    ({"input": "NaN"}, "input: is not valid JSON text"),
    ({"input": "{'a': 1}"}, "input: is not valid JSON text"),
    ({"input": '{"a": 1} {"b": 2}'}, "input: is not valid JSON text"),
    (
        {"input": '"' + "x" * (MAX_INPUT_LENGTH - 1) + '"'},
        "input: is 8193 characters long; the limit is 8192",
    ),
    ({"input": 5}, "input: must be a string"),
    ({"input": "[" * 4000 + "]" * 4000}, "input: is not valid JSON text: nested too deeply"),
    ({"input_path": "$." + "a" * (MAX_INPUT_PATH_LENGTH - 1)}, "input_path: is 257 characters long"),
    ({"input_path": ""}, "input_path: '' is not a JSONPath: it must start with `$`"),
    ({"input_path": "detail.state"}, "input_path: 'detail.state' is not a JSONPath"),
    ({"input_path": "$."}, "at character 2"),
    ({"input_path": "$..state"}, "at character 2"),
    ({"input_path": "$.detail..state"}, "at character 9"),
    ({"input_path": "$.resources[-1]"}, "at character 12"),
    ({"input_path": "$.resources[0:2]"}, "at character 12"),
    ({"input_path": "$.resources[?(@.a)]"}, "at character 12"),
    ({"input_path": "$.detail.a b"}, "at character 11"),
    ({"input_path": "$.detail.@type"}, "at character 9"),
    ({"input_path": "$detail"}, "at character 2"),
    ({"input_path": ["$"]}, "input_path: must be a JSONPath string"),
    (
        {"input_paths_map": {"s": "$['detail']"}, "input_template": "<s>"},
        "input_paths_map.s: \"$['detail']\" uses bracket notation",
    ),
    (
        {"input_paths_map": {"s": "state"}, "input_template": "<s>"},
        "input_paths_map.s: 'state' is not a JSONPath",
    ),
    (
        {"input_paths_map": {"s": "$.a[x]"}, "input_template": "<s>"},
        "input_paths_map.s: '$.a[x]' is not a JSONPath",
    ),
    ({"input_paths_map": {"s": 3}, "input_template": "<s>"}, "input_paths_map.s: must be a JSONPath string"),
    (
        {"input_paths_map": {"s": "$." + "a" * 300}, "input_template": "<s>"},
        "input_transformer.input_paths_map.s: is 302 characters long; the limit is 256",
    ),
    (
        {"input_paths_map": {"AWS.x": "$.a"}, "input_template": '"x"'},
        "input_paths_map.AWS.x: a variable name cannot",
    ),
    (
        {"input_paths_map": {"aws.x": "$.a"}, "input_template": '"x"'},
        "input_paths_map.aws.x: a variable name cannot",
    ),
    (
        {"input_paths_map": {"a.b": "$.a"}, "input_template": '"x"'},
        "input_paths_map.a.b: a variable name has 1 to 256",
    ),
    ({"input_paths_map": {"": "$.a"}, "input_template": '"x"'}, "input_paths_map.: a variable name has"),
    (
        {"input_paths_map": {"a b": "$.a"}, "input_template": '"x"'},
        "input_paths_map.a b: a variable name has",
    ),
    ({"input_paths_map": {"x" * 257: "$.a"}, "input_template": '"x"'}, "a variable name has 1 to 256"),
    (
        {"input_paths_map": {1: "$.a"}, "input_template": '"x"'},
        "input_paths_map.1: a variable name must be a string",
    ),
    (
        {"input_paths_map": [("a", "$.a")], "input_template": '"x"'},
        "input_transformer.input_paths_map: must be a table",
    ),
    ({"input_paths_map": [], "input_template": '"x"'}, "input_transformer.input_paths_map: must be a table"),
    (
        {"input_paths_map": {f"v{i}": "$.a" for i in range(MAX_INPUT_PATHS + 1)}, "input_template": '"x"'},
        "input_transformer.input_paths_map: has 101 entries; the limit is 100",
    ),
    (
        {"input_template": ""},
        "input_transformer.input_template: is 0 characters long; it must have 1 to 8192",
    ),
    (
        {"input_template": '"' + "x" * (MAX_INPUT_TEMPLATE_LENGTH - 1) + '"'},
        "input_transformer.input_template: is 8193 characters long",
    ),
    ({"input_template": 7}, "input_transformer.input_template: must be a string"),
    (
        {"input_paths_map": {"a": "$.a"}, "input_template": '"<a> <notdefinedkey>"'},
        "input_transformer.input_template: contains invalid placeholder <notdefinedkey>",
    ),
    ({"input_template": '"<html>"'}, "contains invalid placeholder <html>"),
    ({"input_template": '"<aws.events.rule>"'}, "contains invalid placeholder <aws.events.rule>"),
    (
        {"input_paths_map": {"k": "$.a"}, "input_template": "{<k>: 1}"},
        "placeholder <k> is used as an object key",
    ),
    (
        {"input_paths_map": {"k": "$.a"}, "input_template": '{"a": 1, <k> : 2}'},
        "placeholder <k> is used as an object",
    ),
    (
        {"input_paths_map": {"k": "$.a"}, "input_template": '{"<k>": 1}'},
        "a placeholder is used in an object key",
    ),
    (
        {"input_paths_map": {"k": "$.a"}, "input_template": '{"x-<k>" : 1}'},
        "a placeholder is used in an object key",
    ),
    (
        {"input_paths_map": {"k": "$.a"}, "input_template": '{"a": <k>'},
        "is not JSON once its placeholders are filled",
    ),
    ({"input_paths_map": {"k": "$.a"}, "input_template": '{"a": -<k>}'}, "is not JSON once its placeholders"),
    (
        {"input_paths_map": {"k": "$.a"}, "input_template": '{"a": <k><k>}'},
        "is not JSON once its placeholders",
    ),
    ({"input_paths_map": {"k": "$.a"}, "input_template": '{"a": <k>,}'}, "(line 1, column 11)"),
    ({"input_template": "[1, 2"}, "is not JSON once its placeholders are filled"),
    ({"input_template": '{"a": NaN}'}, "is not JSON once its placeholders are filled"),
]


@pytest.mark.parametrize(("options", "message"), INVALID)
def test_invalid_options_say_what_and_where(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidTargetInputError) as caught:
        TargetInput(**options)
    assert message in str(caught.value)
    assert str(caught.value).startswith(caught.value.key + ": ")
    assert not isinstance(caught.value, InputRenderError)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, HookgateError)


@pytest.mark.parametrize("name", sorted(PREDEFINED_VARIABLES))
def test_predefined_variables_cannot_be_redefined(name: str) -> None:
    with pytest.raises(InvalidTargetInputError, match=rf"input_paths_map\.{re.escape(name)}: .* predefined"):
        TargetInput(input_paths_map={name: "$.a"}, input_template='"x"')


def test_limits_themselves_are_accepted() -> None:
    TargetInput(input='"' + "x" * (MAX_INPUT_LENGTH - 2) + '"')
    TargetInput(input_path="$." + "a" * (MAX_INPUT_PATH_LENGTH - 2))
    TargetInput(input_template='"' + "x" * (MAX_INPUT_TEMPLATE_LENGTH - 2) + '"')
    paths = {f"v{i}": f"$.detail.v{i}" for i in range(MAX_INPUT_PATHS)}
    target = TargetInput(input_paths_map=paths, input_template="[" + ",".join(f"<{k}>" for k in paths) + "]")
    assert json.loads(render(target, {"detail": {"v7": 7}})) == [""] * 7 + [7] + [""] * 92
    TargetInput(input_paths_map={"x" * 256: "$.a", "Aws_-1": "$.a"}, input_template="x")


def test_templates_need_no_paths_and_paths_need_no_use() -> None:
    assert transform(None, '"ingested at <aws.events.event.ingestion-time>"') == f'"ingested at {INGESTED}"'
    assert transform({"unused": "$.nothing"}, '{"constant": true}') == '{"constant": true}'
    assert transform({}, "plain") == "plain"


# -- properties ---------------------------------------------------------------------------------

NAMES = st.text(alphabet="abcXYZ019_-/éж", min_size=1, max_size=6)
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**100), max_value=2**100),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
EVENTS = st.recursive(
    st.dictionaries(NAMES, LEAVES, max_size=4),
    lambda children: st.dictionaries(NAMES, children | LEAVES | st.lists(LEAVES, max_size=3), max_size=4),
    max_leaves=25,
)


def leaf_paths(node: Any, path: str = "$") -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in leaf_paths(v, f"{path}.{k}")]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in leaf_paths(v, f"{path}[{i}]")]
    return [(path, node)]


@PROPERTIES
@given(EVENTS)
def test_unquoted_placeholders_give_back_every_leaf(event: dict[str, Any]) -> None:
    leaves = leaf_paths({"detail": event})[:MAX_INPUT_PATHS]
    paths = {f"v{i}": path for i, (path, _) in enumerate(leaves)}
    template = "{" + ", ".join(f'"{k}": <{k}>' for k in paths) + "}"
    out = transform(paths, template, {"detail": event})
    assert json.loads(out) == {k: value for k, (_, value) in zip(paths, leaves, strict=True)}
    for path, value in leaves[:3]:
        assert json.loads(render(TargetInput(input_path=path), {"detail": event})) == value


@PROPERTIES
@given(st.text(max_size=30))
def test_strings_go_in_raw_inside_quotes_and_escaped_outside(value: str) -> None:
    event = {"detail": {"v": value}}
    paths = {"v": "$.detail.v"}
    assert transform(paths, '"<v>"', event) == f'"{value}"'
    assert json.loads(transform(paths, "[<v>]", event)) == [value]
    quoted = TargetInput(input_paths_map=paths, input_template='{"v": "<v>"}')
    try:
        out = render(quoted, event)
    except InputRenderError:
        return
    assert out == f'{{"v": "{value}"}}'
    parsed = json.loads(out)["v"]
    if not re.search(r'["\\\x00-\x1f]', value):
        assert parsed == value
