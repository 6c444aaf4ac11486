"""Compatibility: Confluent Schema Registry's JSON Schema rules over two schema versions.

`diff(old, new)` lists what changed, each change with Confluent's name for it and whether
it is compatible for a reader of the new schema (BACKWARD). FORWARD is the same check the
other way round, FULL both; the `_TRANSITIVE` modes check against every earlier version
instead of the latest one only; NONE checks nothing.

The content model decides what adding or removing a property means. A model is *open*
when it admits properties it does not list (`additionalProperties` absent or true, the
JSON Schema default, and the only model discovery infers), *closed* with
`additionalProperties: false`:

    change (old → new)                           open model     closed model
    property added (its schema not `{}`)         incompatible   compatible if optional
    property removed                             compatible     incompatible
    property made required                       incompatible   incompatible
    property no longer required                  compatible     compatible
    type extended (a type added, integer→number) compatible     compatible
    type narrowed or changed                     incompatible   incompatible
    format removed / added or changed            compatible / incompatible
    additionalProperties false→true / true→false compatible / incompatible
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

__all__ = ["MODES", "Change", "Comparison", "Mode", "Verdict", "check", "compare", "diff"]

Schema = dict[str, Any]
Mode = Literal[
    "NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"
]
MODES: tuple[Mode, ...] = get_args(Mode)

_COMPATIBLE = frozenset(
    {
        "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL",
        "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
        "PROPERTY_ADDED_IS_COVERED_BY_OPEN_CONTENT_MODEL",
        "REQUIRED_ATTRIBUTE_REMOVED",
        "TYPE_EXTENDED",
        "FORMAT_REMOVED",
        "ADDITIONAL_PROPERTIES_ADDED",
        "ITEMS_REMOVED",
    }
)


@dataclass(frozen=True, slots=True)
class Change:
    """One difference from an old schema to a new one, at a JSON pointer into the data."""

    kind: str
    path: str
    detail: str

    @property
    def compatible(self) -> bool:
        """Whether a reader of the new schema still reads data written for the old one."""
        return self.kind in _COMPATIBLE

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "detail": self.detail, "compatible": self.compatible}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of a compatibility check: the mode, and what broke it (nothing: compatible)."""

    mode: Mode
    breaking: tuple[tuple[str, Change], ...] = ()

    @property
    def compatible(self) -> bool:
        return not self.breaking

    def describe(self) -> str:
        if self.compatible:
            return f"compatible ({self.mode})"
        return f"incompatible ({self.mode}): " + "; ".join(
            f"{direction} {c.kind} at {c.path or '/'}" for direction, c in self.breaking
        )


def check(mode: Mode, earlier: Sequence[Schema], new: Schema) -> Verdict:
    """Whether `new` may follow `earlier` (oldest first) under `mode`."""
    if mode == "NONE" or not earlier:
        return Verdict(mode)
    against = earlier if mode.endswith("_TRANSITIVE") else earlier[-1:]
    base = mode.removesuffix("_TRANSITIVE")
    breaking: list[tuple[str, Change]] = []
    for old in against:
        if base in ("BACKWARD", "FULL"):
            breaking += [("backward:", c) for c in diff(old, new) if not c.compatible]
        if base in ("FORWARD", "FULL"):
            breaking += [("forward:", c) for c in diff(new, old) if not c.compatible]
    return Verdict(mode, tuple(dict.fromkeys(breaking)))


@dataclass(frozen=True, slots=True)
class Comparison:
    """What changed from one version of a schema to another, and the verdict under the
    schema's mode (checked as FULL when the mode is NONE, which would check nothing)."""

    mode: Mode
    changes: tuple[Change, ...]
    verdict: Verdict

    @property
    def checked_as_full(self) -> bool:
        """The schema's mode is NONE: the verdict is FULL's."""
        return self.mode == "NONE"


def compare(mode: Mode, old: Schema, new: Schema) -> Comparison:
    """The changes from `old` to `new` and the verdict on `new` following `old` under `mode`."""
    checked: Mode = "FULL" if mode == "NONE" else mode
    return Comparison(mode, tuple(diff(old, new)), check(checked, [old], new))


def diff(old: Schema, new: Schema) -> list[Change]:
    """Every change from `old` to `new`."""
    changes: list[Change] = []
    _diff(old, new, "", changes)
    return changes


def _types(schema: Schema) -> set[str] | None:
    kind = schema.get("type")
    if kind is None:
        return None
    return {kind} if isinstance(kind, str) else set(kind)


def _show(types: set[str] | None) -> str:
    return "any" if types is None else "|".join(sorted(types))


def _diff(old: Schema, new: Schema, path: str, out: list[Change]) -> None:
    to, tn = _types(old), _types(new)
    if to != tn:
        _type_change(to, tn, path, out)
    if to is None or tn is None:
        return
    if "string" in to and "string" in tn:
        fo, fn = old.get("format"), new.get("format")
        if fo and not fn:
            out.append(Change("FORMAT_REMOVED", path, f"format {fo} removed"))
        elif fn and fo != fn:
            out.append(
                Change("FORMAT_CHANGED" if fo else "FORMAT_ADDED", path, f"format {fo or 'none'} → {fn}")
            )
    if "object" in to and "object" in tn:
        _object(old, new, path, out)
    if "array" in to and "array" in tn:
        io, in_ = old.get("items"), new.get("items")
        if io is not None and in_ is not None:
            _diff(io, in_, f"{path}/items", out)
        elif io is None and in_ is not None:
            out.append(Change("ITEMS_ADDED", f"{path}/items", "items constrained"))
        elif io is not None:
            out.append(Change("ITEMS_REMOVED", f"{path}/items", "items no longer constrained"))


def _type_change(to: set[str] | None, tn: set[str] | None, path: str, out: list[Change]) -> None:
    shown = f"type {_show(to)} → {_show(tn)}"
    if tn is None:
        out.append(Change("TYPE_EXTENDED", path, shown))
        return
    if to is None:
        out.append(Change("TYPE_NARROWED", path, shown))
        return
    lost = to - tn
    if "integer" in lost and "number" in tn:
        lost.discard("integer")
    if not lost:
        out.append(Change("TYPE_EXTENDED", path, shown))
    elif lost == to and not ("number" in lost and "integer" in tn):  # number → integer narrows
        out.append(Change("TYPE_CHANGED", path, shown))
    else:
        out.append(Change("TYPE_NARROWED", path, shown))


def _is_open(schema: Schema) -> bool:
    return schema.get("additionalProperties", True) is not False


def _object(old: Schema, new: Schema, path: str, out: list[Change]) -> None:
    po, pn = old.get("properties", {}), new.get("properties", {})
    ro, rn = set(old.get("required", ())), set(new.get("required", ()))
    if _is_open(old) and not _is_open(new):
        out.append(Change("ADDITIONAL_PROPERTIES_REMOVED", path, "additional properties no longer allowed"))
    elif not _is_open(old) and _is_open(new):
        out.append(Change("ADDITIONAL_PROPERTIES_ADDED", path, "additional properties allowed"))
    for key in sorted(pn.keys() - po.keys()):
        at = f"{path}/{_escape(key)}"
        if pn[key] in ({}, True):
            out.append(
                Change(
                    "PROPERTY_ADDED_IS_COVERED_BY_OPEN_CONTENT_MODEL", at, f"property {key} added (any value)"
                )
            )
        elif _is_open(new):
            out.append(Change("PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", at, f"property {key} added"))
        elif key in rn:
            out.append(
                Change(
                    "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", at, f"required property {key} added"
                )
            )
        else:
            out.append(
                Change(
                    "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", at, f"optional property {key} added"
                )
            )
    for key in sorted(po.keys() - pn.keys()):
        at = f"{path}/{_escape(key)}"
        if _is_open(new):
            out.append(Change("PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL", at, f"property {key} removed"))
        else:
            out.append(Change("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", at, f"property {key} removed"))
    for key in sorted(po.keys() & pn.keys()):
        _diff(po[key], pn[key], f"{path}/{_escape(key)}", out)
    out.extend(
        Change("REQUIRED_ATTRIBUTE_ADDED", f"{path}/{_escape(key)}", f"property {key} now required")
        for key in sorted((rn - ro) & po.keys())
    )
    out.extend(
        Change("REQUIRED_ATTRIBUTE_REMOVED", f"{path}/{_escape(key)}", f"property {key} no longer required")
        for key in sorted((ro - rn) & pn.keys())
    )


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")
