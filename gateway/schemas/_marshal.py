"""Turn a JSON value into the dataclasses or TypedDicts of a generated binding, checking it.

Copied as `_marshal.py` into the bindings of the `dataclasses` and `typeddict` styles, so
that they need nothing but the standard library: `unmarshal(data, AWSEvent)` builds the
dataclasses (a field's JSON key is its `metadata["name"]`, else its name) or checks the
TypedDict's keys and values and returns the dict itself. A value that does not fit raises
`ValueError` naming where: `detail.items[2].price: expected int, got str`.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from typing import Any, TypeVar

__all__ = ["marshal", "unmarshal"]

T = TypeVar("T")

_SCALARS: dict[type, tuple[type, ...]] = {
    str: (str,),
    int: (int,),
    float: (int, float),
    bool: (bool,),
}


def unmarshal(data: Any, cls: type[T]) -> T:
    """`data` (as `json.loads` returns it) as an instance of `cls`; `ValueError` if it does not fit."""
    return typing.cast(T, _convert(data, cls, "$"))


def marshal(value: Any) -> Any:
    """The JSON value of a binding's object (dataclasses back to dicts keyed by their JSON names)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.metadata.get("name", field.name): marshal(getattr(value, field.name))
            for field in dataclasses.fields(value)
            if getattr(value, field.name) is not None or field.name in _required(type(value))
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {key: marshal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [marshal(item) for item in value]
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


@functools.cache
def _required(cls: type) -> frozenset[str]:
    return frozenset(
        field.name
        for field in dataclasses.fields(cls)
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
    )


def _fail(path: str, expected: str, value: Any) -> ValueError:
    return ValueError(f"{path}: expected {expected}, got {type(value).__name__}")


def _convert(value: Any, tp: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any or tp is object:
        return value
    if tp is None or tp is type(None):
        if value is not None:
            raise _fail(path, "null", value)
        return None
    if origin is typing.Union or origin is types.UnionType:
        return _union(value, typing.get_args(tp), path)
    if origin is typing.Literal:
        if not any(value == a and type(value) is type(a) for a in typing.get_args(tp)):
            raise ValueError(f"{path}: expected one of {list(typing.get_args(tp))!r}")
        return value
    if origin in (typing.Required, typing.NotRequired, typing.Annotated):
        return _convert(value, typing.get_args(tp)[0], path)
    if origin is list:
        if not isinstance(value, list):
            raise _fail(path, "list", value)
        [item] = typing.get_args(tp) or (Any,)
        return [_convert(x, item, f"{path}[{i}]") for i, x in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise _fail(path, "object", value)
        _, item = typing.get_args(tp) or (str, Any)
        return {k: _convert(x, item, f"{path}.{k}") for k, x in value.items()}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            raise ValueError(f"{path}: {value!r} is not one of {[m.value for m in tp]!r}") from None
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass(value, tp, path)
    if _is_typeddict(tp):
        return _typeddict(value, tp, path)
    if tp in _SCALARS:
        if not isinstance(value, _SCALARS[tp]) or (tp is not bool and isinstance(value, bool)):
            raise _fail(path, tp.__name__, value)
        return value
    if tp is list or tp is dict:
        return _convert(value, tp[Any] if tp is list else dict[str, Any], path)
    raise TypeError(f"{path}: no conversion to {tp!r}")


def _union(value: Any, members: tuple[Any, ...], path: str) -> Any:
    errors: list[str] = []
    for member in members:
        try:
            return _convert(value, member, path)
        except ValueError as exc:
            errors.append(str(exc))
    raise ValueError(" or ".join(dict.fromkeys(errors)))


def _dataclass(value: Any, cls: type, path: str) -> Any:
    if not isinstance(value, dict):
        raise _fail(path, cls.__name__, value)
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        key = field.metadata.get("name", field.name)
        if key in value:
            kwargs[field.name] = _convert(value[key], hints[field.name], f"{path}.{key}")
        elif field.name in _required(cls):
            raise ValueError(f"{path}: missing {key!r}")
    return cls(**kwargs)


def _is_typeddict(tp: Any) -> bool:
    """A TypedDict of `typing`, or of `typing_extensions` (which a closed one needs)."""
    return typing.is_typeddict(tp) or (
        isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__total__")
    )


def _typeddict(value: Any, cls: Any, path: str) -> Any:
    if not isinstance(value, dict):
        raise _fail(path, cls.__name__, value)
    # required keys from the hints themselves: `__required_keys__` is wrong for a TypedDict
    # of string annotations (`from __future__ import annotations`) before Python 3.12
    hints = typing.get_type_hints(cls, include_extras=True)
    for key, hint in hints.items():
        origin = typing.get_origin(hint)
        if key in value:
            _convert(value[key], hint, f"{path}.{key}")
        elif origin is typing.Required or (origin is not typing.NotRequired and cls.__total__):
            raise ValueError(f"{path}: missing {key!r}")
    # PEP 728: `closed=True` takes no other key, `extra_items=T` others of type T
    extra = getattr(cls, "__extra_items__", None)
    closed = getattr(cls, "__closed__", None) is True
    extra_typed = extra is not None and "NoExtraItems" not in type(extra).__name__
    if closed or extra_typed:
        for key in value.keys() - hints.keys():
            if closed:
                raise ValueError(f"{path}: unexpected key {key!r}")
            _convert(value[key], extra, f"{path}.{key}")
    return value
