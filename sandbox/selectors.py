"""Label and field selectors as accepted by list and watch requests."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Matcher = Callable[[dict[str, Any]], bool]
# One requirement: (key, operator, values). Operators: =, !=, in, notin, exists, !exists.
Requirement = tuple[str, str, frozenset[str]]


class SelectorError(ValueError):
    """A label or field selector that cannot be parsed; the message says where."""


def _split(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


_SET_EXPR = re.compile(r"^([^\s!=]+)\s+(in|notin)\s+\((.*)\)$")
_KEY = re.compile(r"^[A-Za-z0-9._/-]+$")


def _requirement(term: str, sets: bool) -> Requirement:
    match = _SET_EXPR.match(term) if sets else None
    if match:
        values = frozenset(v.strip() for v in match.group(3).split(","))
        return match.group(1), match.group(2), values
    if "!=" in term:
        key, value = term.split("!=", 1)
        return key.strip(), "!=", frozenset([value.strip()])
    if "=" in term:
        key, value = re.split(r"==?", term, maxsplit=1)
        return key.strip(), "=", frozenset([value.strip()])
    if sets and term.startswith("!") and _KEY.match(term[1:].strip()):
        return term[1:].strip(), "!exists", frozenset()
    if sets and _KEY.match(term):
        return term, "exists", frozenset()
    raise SelectorError(f"unable to parse requirement: {term!r}")


def _holds(value: str | None, op: str, values: frozenset[str]) -> bool:
    if op in ("=", "in"):
        return value in values
    if op in ("!=", "notin"):
        return value not in values
    if op == "exists":
        return value is not None
    return value is None


def label_matcher(text: str | None) -> Matcher:
    requirements = [_requirement(term, sets=True) for term in _split(text or "")]

    def match(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(_holds(labels.get(k), op, vs) for k, op, vs in requirements)

    return match


def _field_value(obj: Any, path: str) -> str:
    for part in path.split("."):
        if not isinstance(obj, dict):
            return ""
        obj = obj.get(part)
    if obj is None:
        return ""
    if isinstance(obj, bool):
        return "true" if obj else "false"
    return str(obj)


def field_matcher(text: str | None) -> Matcher:
    """Any dotted field path is accepted (a real server only allows a few per resource)."""
    try:
        requirements = [_requirement(term, sets=False) for term in _split(text or "")]
    except SelectorError as exc:
        raise SelectorError(f"invalid selector: '{text}'") from exc

    def match(obj: dict[str, Any]) -> bool:
        return all(_holds(_field_value(obj, k), op, vs) for k, op, vs in requirements)

    return match
