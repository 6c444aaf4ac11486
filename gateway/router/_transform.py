"""What a rule's target receives: EventBridge's `Input`, `InputPath` and `InputTransformer`.

    TargetInput()                                       the whole event, as stored
    TargetInput(input='{"k": 1}')                       constant JSON text, nothing of the event
    TargetInput(input_path="$.detail")                  one part of the event, as JSON
    TargetInput(input_paths_map={...}, input_template=...)   variables filled into a template

Everything is validated and compiled once, in `__init__` (`InvalidTargetInputError`, with the
key at fault); `render` then only walks the compiled paths and joins text.

Paths are the JSONPath EventBridge evaluates: `$`, `.name` (letters, digits, `_`, `-`, `/`),
`[0]`, and the wildcards `.*` / `[*]`. A path with a wildcard yields the array of what it
reaches (maybe `[]`); any other path yields one value, or nothing when the event lacks it.
`InputPath` also takes bracketed names (`$['odd.key']`); `InputPathsMap` does not (the API
asks for dot notation there).

Filling a template (the cases come from the AWS user guide and from deliveries recorded
against EventBridge itself):

- A template whose text starts with `{` or `[` is a JSON template. A placeholder outside
  quotes becomes the variable's JSON value (`"RUNNING"`, `3`, `{"a":1}`); inside a quoted
  string it becomes the raw text, not escaped (`RUNNING`, `3`). An object or array placed
  inside a string, or a string value carrying `"` or `\\`, can break the JSON: EventBridge
  then delivers nothing, and `render` raises `InputRenderError`. A placeholder may not be an
  object key, and the template must be JSON once its placeholders are filled, else nothing
  could ever be delivered: both are refused up front.
- Any other template is text (`"instance <id> is in <state>"`, quotes included, or bare
  words). Values go in raw; an object or array inside quotes loses its quotes
  (`{acc_id:0a787ecb,sf_id:baz}`, `[ACTIVE,INACTIVE]`), outside quotes it stays JSON.
- A variable whose path finds nothing in the event is empty: nothing inside quotes and in
  text, `""` as a JSON value (EventBridge's observed output; the guide says only that the
  variable "won't appear").
- Predefined variables: `aws.events.rule-name`, `aws.events.rule-arn`,
  `aws.events.event.ingestion-time` (strings), `aws.events.event.json` (the event's own JSON
  text) and `aws.events.event` (the event without `detail`, `detail-type` renamed
  `detailType`, keys in EventBridge's order). Every `<name>` (letters, digits, `_`, `-`,
  `.`) is a placeholder, since EventBridge has no escape for `<` and `>`; one naming neither
  a predefined variable nor a key of `InputPathsMap` is refused, as `PutTargets` refuses it.
- JSON values are written compact, numbers exactly as Python holds them (integers of any
  size), non-ASCII characters as themselves. The output is not reformatted otherwise.

`InputPath` to something the event lacks raises `InputRenderError`: EventBridge has no input
to send, and a delivery that fails says why where a silent drop would not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any, Final, NamedTuple

from gateway.errors import HookgateError

__all__ = [
    "MAX_INPUT_LENGTH",
    "MAX_INPUT_PATHS",
    "MAX_INPUT_PATH_LENGTH",
    "MAX_INPUT_TEMPLATE_LENGTH",
    "PREDEFINED_VARIABLES",
    "EventPath",
    "InputRenderError",
    "InvalidTargetInputError",
    "RuleContext",
    "TargetInput",
]

#: `Input`: constant JSON text of at most this many characters.
MAX_INPUT_LENGTH = 8192
#: `InputPath` and each `InputPathsMap` path.
MAX_INPUT_PATH_LENGTH = 256
#: Entries of `InputPathsMap`.
MAX_INPUT_PATHS = 100
#: `InputTemplate`, at least one character.
MAX_INPUT_TEMPLATE_LENGTH = 8192

_RULE_NAME = "aws.events.rule-name"
_RULE_ARN = "aws.events.rule-arn"
_INGESTION_TIME = "aws.events.event.ingestion-time"
_EVENT = "aws.events.event"
_EVENT_JSON = "aws.events.event.json"
#: Variables every template may use; `InputPathsMap` cannot define them.
PREDEFINED_VARIABLES: Final = frozenset({_RULE_NAME, _RULE_ARN, _INGESTION_TIME, _EVENT, _EVENT_JSON})

_KEY = re.compile(r"[A-Za-z0-9_\-]{1,256}")
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_SEGMENT = re.compile(r"""\.([\w\-/]+)|\.(\*)|\[(\d+)\]|\[(\*)\]|\['([^']*)'\]|\["([^"]*)"\]""")
_COLON_NEXT = re.compile(r"\s*:")
# Raw text with none of these cannot end a JSON string early or make an invalid escape.
_BREAKS_JSON = re.compile(r'["\\\x00-\x1f]')
# EventBridge's order for `<aws.events.event>`; other keys (`replay-name`) follow.
_EVENT_KEYS = ("id", "account", "detail-type", "time", "source", "region", "resources", "version")

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_CONSTANTS = {True: "true", False: "false", None: "null"}


class InvalidTargetInputError(HookgateError, ValueError):
    """A target input option EventBridge would refuse. `key` names it
    (`input_transformer.input_paths_map.state`), `reason` says what is wrong."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


class InputRenderError(InvalidTargetInputError):
    """One event cannot give this target an input: its `InputPath` finds nothing, or a JSON
    template filled with its values is not JSON. EventBridge drops such an invocation."""


@dataclass(frozen=True, slots=True)
class RuleContext:
    """The rule a target belongs to, for the predefined template variables."""

    rule_name: str
    rule_arn: str


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


_STRICT_JSON = json.JSONDecoder(parse_constant=_reject_constant)


def _parse_error(text: str) -> str | None:
    """Why `text` is not one JSON value (None when it is)."""
    try:
        _STRICT_JSON.decode(text)
    except json.JSONDecodeError as exc:
        return f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
    except ValueError as exc:
        return str(exc)
    except RecursionError:
        return "nested too deeply"
    return None


# -- paths ----------------------------------------------------------------------------------

_MISSING: Final = object()
#: A step of a path: a name, an index, or None for a wildcard.
Step = str | int | None


class _Path:
    """A compiled JSONPath: names, indexes and wildcards from the root."""

    __slots__ = ("_definite", "steps", "text")

    def __init__(self, text: str, key: str, *, brackets: bool) -> None:
        if not isinstance(text, str):
            raise InvalidTargetInputError(key, "must be a JSONPath string")
        if len(text) > MAX_INPUT_PATH_LENGTH:
            raise InvalidTargetInputError(
                key, f"is {len(text)} characters long; the limit is {MAX_INPUT_PATH_LENGTH}"
            )
        if not text.startswith("$"):
            raise InvalidTargetInputError(key, f"{text!r} is not a JSONPath: it must start with `$`")
        steps: list[Step] = []
        at = 1
        while at < len(text):
            m = _SEGMENT.match(text, at)
            if m is None:
                raise InvalidTargetInputError(
                    key,
                    f"{text!r} is not a JSONPath EventBridge evaluates: expected `.name`, `[0]` or a "
                    f"wildcard at character {at + 1}",
                )
            name, _, index, _, single, double = m.groups()
            quoted = single if single is not None else double
            if quoted is not None and not brackets:
                raise InvalidTargetInputError(
                    key, f"{text!r} uses bracket notation; InputPathsMap paths use dot notation"
                )
            if name is not None:
                steps.append(name)
            elif index is not None:
                steps.append(int(index))
            elif quoted is not None:
                steps.append(quoted)
            else:
                steps.append(None)
            at = m.end()
        self.text = text
        self.steps = tuple(steps)
        self._definite = None if None in steps else tuple(s for s in steps if s is not None)

    def find(self, event: Any) -> Any:
        """What the path reaches in `event`: a list when it has a wildcard, else one value or
        `_MISSING`."""
        if self._definite is None:
            return list(_collect(event, self.steps, 0))
        node = event
        for step in self._definite:
            if isinstance(step, str):
                try:
                    node = node[step]
                except (KeyError, TypeError, IndexError):
                    return _MISSING
            elif type(node) is list and step < len(node):
                node = node[step]
            else:
                return _MISSING
        return node


def _collect(node: Any, steps: tuple[Step, ...], at: int) -> Iterator[Any]:
    if at == len(steps):
        yield node
        return
    step = steps[at]
    if step is None:
        if isinstance(node, Mapping):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            return
        for child in children:
            yield from _collect(child, steps, at + 1)
    elif isinstance(step, str):
        if isinstance(node, Mapping) and step in node:
            yield from _collect(node[step], steps, at + 1)
    elif isinstance(node, list) and step < len(node):
        yield from _collect(node[step], steps, at + 1)


class EventPath:
    """A target's dynamic parameter: a JSONPath into the original event, never the rendered
    input (EventBridge's `PartitionKeyPath`). It names one value, so wildcards are refused
    (`InvalidTargetInputError` with `key`); `find` gives the value or None when the event
    lacks it."""

    __slots__ = ("_path",)

    def __init__(self, text: str, key: str) -> None:
        self._path = _Path(text, key, brackets=True)
        if None in self._path.steps:
            raise InvalidTargetInputError(key, f"{text!r} has a wildcard; this path must name one value")

    @property
    def text(self) -> str:
        return self._path.text

    def find(self, event: Any) -> Any:
        found = self._path.find(event)
        return None if found is _MISSING else found


# -- values into text -----------------------------------------------------------------------


class _JsonText(str):
    """Text that already is JSON (the event as stored): inserted as is."""

    __slots__ = ()


def _as_json(value: Any) -> str:
    """A value where the template expects JSON: strings quoted and escaped."""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is int:
        return int.__repr__(value)
    if kind is bool or value is None:
        return _CONSTANTS[value]
    if kind is _JsonText:
        return str.__str__(value)
    if value is _MISSING:
        return '""'
    return _ENCODER.encode(value)


def _as_raw(value: Any) -> str:
    """A value where the template expects text: strings as they are, anything else as JSON."""
    kind = type(value)
    if kind is str or kind is _JsonText:
        return str.__str__(value)
    if value is _MISSING:
        return ""
    return _as_json(value)


def _as_unquoted(value: Any) -> str:
    """A value inside a quoted string of a text template: objects and arrays lose their quotes."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if value is _MISSING:
        return ""
    if kind is dict or kind is list or kind is _JsonText or isinstance(value, Mapping | list):
        return _as_raw(value).replace('"', "")
    return _as_json(value)


def _event_without_detail(event: Mapping[str, Any]) -> dict[str, Any]:
    known = {("detailType" if k == "detail-type" else k): event[k] for k in _EVENT_KEYS if k in event}
    return known | {k: v for k, v in event.items() if k not in _EVENT_KEYS and k != "detail"}


class _Source(NamedTuple):
    """What one rendering draws its variables from."""

    entry: str
    event: Mapping[str, Any]
    context: RuleContext
    ingestion_time: str


Resolver = Callable[[_Source], Any]

_PREDEFINED: dict[str, Resolver] = {
    _RULE_NAME: lambda source: source.context.rule_name,
    _RULE_ARN: lambda source: source.context.rule_arn,
    _INGESTION_TIME: lambda source: source.ingestion_time,
    _EVENT: lambda source: _event_without_detail(source.event),
    _EVENT_JSON: lambda source: _JsonText(source.entry.strip()),
}


def _finder(path: _Path) -> Resolver:
    return lambda source: path.find(source.event)


# -- templates ------------------------------------------------------------------------------

_KEY_OF_TEMPLATE = "input_transformer.input_template"


class _Slot(NamedTuple):
    variable: int
    format: Callable[[Any], str]
    #: Raw text in a JSON template: check the output when the text could break it.
    guarded: bool


class _Template:
    """An `InputTemplate` split into literal text and slots, with its variables' resolvers."""

    __slots__ = ("is_json", "literals", "resolvers", "slots")

    def __init__(self, template: Any, paths: Mapping[str, _Path]) -> None:
        key = _KEY_OF_TEMPLATE
        if not isinstance(template, str):
            raise InvalidTargetInputError(key, "must be a string")
        if not 1 <= len(template) <= MAX_INPUT_TEMPLATE_LENGTH:
            raise InvalidTargetInputError(
                key,
                f"is {len(template)} characters long; it must have 1 to {MAX_INPUT_TEMPLATE_LENGTH}",
            )
        self.is_json = template.lstrip()[:1] in ("{", "[")
        found = list(_placeholders(template, check_keys=self.is_json))
        variables: dict[str, int] = {}
        resolvers: list[Resolver] = []
        literals: list[str] = []
        slots: list[_Slot] = []
        at = 0
        for start, end, name, quoted in found:
            if name not in variables:
                if name in paths:
                    resolvers.append(_finder(paths[name]))
                elif name in _PREDEFINED:
                    resolvers.append(_PREDEFINED[name])
                else:
                    raise InvalidTargetInputError(
                        key,
                        f"contains invalid placeholder <{name}>: not a key of input_paths_map "
                        "nor a predefined variable",
                    )
                variables[name] = len(resolvers) - 1
            if self.is_json:
                fmt, guarded = (_as_raw, True) if quoted else (_as_json, False)
            else:
                fmt, guarded = (_as_unquoted if quoted else _as_raw), False
            literals.append(template[at:start])
            slots.append(_Slot(variables[name], fmt, guarded))
            at = end
        literals.append(template[at:])
        if self.is_json:
            _check_json_template(template, found)
        self.literals = tuple(literals)
        self.slots = tuple(slots)
        self.resolvers = tuple(resolvers)

    def render(self, source: _Source) -> str:
        values = [resolve(source) for resolve in self.resolvers]
        literals = self.literals
        parts = [literals[0]]
        check = False
        for i, (variable, fmt, guarded) in enumerate(self.slots, 1):
            text = fmt(values[variable])
            if guarded and not check and _BREAKS_JSON.search(text):
                check = True
            parts.append(text)
            parts.append(literals[i])
        out = "".join(parts)
        if check and (why := _parse_error(out)) is not None:
            raise InputRenderError(
                _KEY_OF_TEMPLATE,
                f"filled with this event's values, the template is not JSON: {why}; EventBridge "
                "drops such an invocation (a value placed inside quotes is not escaped)",
            )
        return out


def _placeholders(template: str, *, check_keys: bool) -> Iterator[tuple[int, int, str, bool]]:
    """(start, end, name, inside a quoted string) of each `<name>`, in order."""
    in_string = False
    string_has_placeholder = False
    i, n = 0, len(template)
    while i < n:
        c = template[i]
        if c == "<" and (m := _PLACEHOLDER.match(template, i)):
            if check_keys and not in_string and _COLON_NEXT.match(template, m.end()):
                raise InvalidTargetInputError(
                    _KEY_OF_TEMPLATE, f"placeholder <{m.group(1)}> is used as an object key"
                )
            string_has_placeholder = string_has_placeholder or in_string
            yield m.start(), m.end(), m.group(1), in_string
            i = m.end()
            continue
        if in_string and c == "\\":
            i += 1 if template.startswith("<", i + 1) else 2
            continue
        if c == '"':
            if in_string and string_has_placeholder and check_keys and _COLON_NEXT.match(template, i + 1):
                raise InvalidTargetInputError(_KEY_OF_TEMPLATE, "a placeholder is used in an object key")
            in_string = not in_string
            string_has_placeholder = False
        i += 1


def _check_json_template(template: str, found: list[tuple[int, int, str, bool]]) -> None:
    """A JSON template must parse once filled: each placeholder becomes `""` outside quotes and
    nothing inside them, padded with spaces so error columns point into the template."""
    filled: list[str] = []
    at = 0
    for start, end, _, quoted in found:
        filled.append(template[at:start])
        filled.append(" " * (end - start) if quoted else '""'.ljust(end - start))
        at = end
    filled.append(template[at:])
    why = _parse_error("".join(filled))
    if why is not None:
        raise InvalidTargetInputError(
            _KEY_OF_TEMPLATE,
            f"starts like JSON but is not JSON once its placeholders are filled: {why}",
        )


# -- the target input -----------------------------------------------------------------------


def _encode(text: str) -> bytes:
    # Lone surrogates (from `\ud800` escapes in the event) become their JSON escape.
    return text.encode("utf-8", "backslashreplace")


class TargetInput:
    """What a target receives: the whole event, a constant, a path of it, or a transformation.

    >>> TargetInput(input_path="$.detail").render('{"detail": {"a": 1}}', {"detail": {"a": 1}},
    ...     RuleContext("r", "arn:hookgate:events:::rule/bus/r"), ingestion_time="2024-01-01T00:00:00Z")
    b'{"a":1}'

    At most one of `input`, `input_path` and the transformer (`input_paths_map` with
    `input_template`) may be set; `InvalidTargetInputError` says which option is wrong.
    `render` raises `InputRenderError` for an event that gives no input (see the module).
    """

    __slots__ = ("_constant", "_path", "_template")

    def __init__(
        self,
        *,
        input: str | None = None,
        input_path: str | None = None,
        input_paths_map: Mapping[str, str] | None = None,
        input_template: str | None = None,
    ) -> None:
        chosen = [
            name
            for name, given in (
                ("input", input is not None),
                ("input_path", input_path is not None),
                ("input_transformer", input_paths_map is not None or input_template is not None),
            )
            if given
        ]
        if len(chosen) > 1:
            raise InvalidTargetInputError(
                "/".join(chosen), "only one of input, input_path or input_transformer may be set"
            )
        self._constant: bytes | None = None
        self._path: _Path | None = None
        self._template: _Template | None = None
        if input is not None:
            self._constant = _constant(input)
        elif input_path is not None:
            self._path = _Path(input_path, "input_path", brackets=True)
        elif input_template is None and input_paths_map is not None:
            raise InvalidTargetInputError(_KEY_OF_TEMPLATE, "an input transformer needs an input_template")
        elif input_template is not None:
            self._template = _Template(
                input_template, _paths_map({} if input_paths_map is None else input_paths_map)
            )

    @property
    def is_whole_event(self) -> bool:
        """Whether the target receives the event itself (no option, or `input_path = "$"`)."""
        if self._path is not None:
            return not self._path.steps
        return self._constant is None and self._template is None

    def render(
        self, entry: str, event: Mapping[str, Any], context: RuleContext, *, ingestion_time: str
    ) -> bytes:
        """The body sent to the target. `entry` is the event's JSON text (sent as is when the
        target takes the whole event), `event` the same parsed (`json.loads`)."""
        if self._template is not None:
            return _encode(self._template.render(_Source(entry, event, context, ingestion_time)))
        if self._constant is not None:
            return self._constant
        if self._path is not None and self._path.steps:
            value = self._path.find(event)
            if value is _MISSING:
                raise InputRenderError(
                    "input_path", f"{self._path.text} finds nothing in this event, so there is no input"
                )
            return _encode(_as_json(value))
        return _encode(entry)

    def __repr__(self) -> str:
        if self._constant is not None:
            return f"TargetInput(input={self._constant.decode()!r})"
        if self._path is not None:
            return f"TargetInput(input_path={self._path.text!r})"
        if self._template is not None:
            return "TargetInput(input_transformer=...)"
        return "TargetInput()"


def _constant(text: Any) -> bytes:
    if not isinstance(text, str):
        raise InvalidTargetInputError("input", "must be a string of JSON text")
    if len(text) > MAX_INPUT_LENGTH:
        raise InvalidTargetInputError(
            "input", f"is {len(text)} characters long; the limit is {MAX_INPUT_LENGTH}"
        )
    why = _parse_error(text)
    if why is not None:
        raise InvalidTargetInputError("input", f"is not valid JSON text: {why}")
    return _encode(text)


def _paths_map(paths: Any) -> dict[str, _Path]:
    prefix = "input_transformer.input_paths_map"
    if not isinstance(paths, Mapping):
        raise InvalidTargetInputError(prefix, "must be a table of variable names to JSONPaths")
    if len(paths) > MAX_INPUT_PATHS:
        raise InvalidTargetInputError(prefix, f"has {len(paths)} entries; the limit is {MAX_INPUT_PATHS}")
    compiled: dict[str, _Path] = {}
    for name, path in paths.items():
        key = f"{prefix}.{name}"
        if not isinstance(name, str):
            raise InvalidTargetInputError(key, "a variable name must be a string")
        if name in PREDEFINED_VARIABLES:
            raise InvalidTargetInputError(key, f"{name} is a predefined variable and cannot be redefined")
        if name[:4].upper() == "AWS.":
            raise InvalidTargetInputError(key, "a variable name cannot start with 'AWS.'")
        if not _KEY.fullmatch(name):
            raise InvalidTargetInputError(key, "a variable name has 1 to 256 letters, digits, '_' or '-'")
        compiled[name] = _Path(path, key, brackets=False)
    return compiled
