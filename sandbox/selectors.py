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


# Per resource: the field labels a real server accepts (its field label conversion functions)
# and how it words the refusal of any other. Everything else accepts only metadata.name and
# metadata.namespace (apimachinery's DefaultMetaV1FieldSelectorConversion).
_META = ("metadata.name", "metadata.namespace")
_NOT_SUPPORTED = "field label not supported: {label}"
SELECTABLE: dict[str, tuple[tuple[str, ...], str]] = {
    "pods": (
        (
            *_META,
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        ),
        _NOT_SUPPORTED,
    ),
    "nodes": (("metadata.name", "spec.unschedulable"), _NOT_SUPPORTED),
    "replicationcontrollers": ((*_META, "status.replicas"), _NOT_SUPPORTED),
    "replicasets": ((*_META, "status.replicas"), _NOT_SUPPORTED),
    "events": (
        (
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
            *_META,
        ),
        _NOT_SUPPORTED,
    ),
    "namespaces": (("status.phase", "metadata.name"), _NOT_SUPPORTED),
    "secrets": (("type", *_META), _NOT_SUPPORTED),
    "services": ((*_META, "spec.clusterIP", "spec.type"), _NOT_SUPPORTED),
    "jobs": ((*_META, "status.successful"), 'field label "{label}" not supported for batchv1.Job'),
    "certificatesigningrequests": ((*_META, "spec.signerName"), _NOT_SUPPORTED),
}
_DEFAULT_REFUSAL = (
    '"{label}" is not a known field selector: only "metadata.name", "metadata.namespace"'
)
# Selectable fields whose value is not simply the object's field at that path.
_DEFAULTS = {
    "status.replicas": "0",
    "status.successful": "0",
    "spec.unschedulable": "false",
    "spec.hostNetwork": "false",
}


def _field_value(obj: Any, path: str) -> str:
    if path == "source":  # events: the reporting component
        path = "source.component"
    elif path == "status.successful":  # jobs: the count of succeeded pods
        path = "status.succeeded"
    elif path == "status.podIPs":
        ips = ((obj.get("status") or {}).get("podIPs")) or []
        return ",".join(str(ip.get("ip", "")) for ip in ips if isinstance(ip, dict))
    default = _DEFAULTS.get(path, "")
    for part in path.split("."):
        if not isinstance(obj, dict):
            return default
        obj = obj.get(part)
    if obj is None:
        return default
    if isinstance(obj, bool):
        return "true" if obj else "false"
    return str(obj)


def check_field_labels(plural: str | None, labels: list[str]) -> None:
    """Refuse field labels the real server cannot select on for ``plural`` (400 there too)."""
    if plural is None:
        return
    allowed, refusal = SELECTABLE.get(plural, (_META, _DEFAULT_REFUSAL))
    for label in labels:
        if label not in allowed and not (plural == "pods" and label == "spec.host"):
            raise SelectorError(refusal.format(label=label))


def field_matcher(text: str | None, plural: str | None = None) -> Matcher:
    """Only the fields a real server allows for ``plural`` are accepted (any, when None)."""
    try:
        requirements = [_requirement(term, sets=False) for term in _split(text or "")]
    except SelectorError as exc:
        raise SelectorError(f"invalid selector: '{text}'") from exc
    check_field_labels(plural, [k for k, _, _ in requirements])
    requirements = [
        ("spec.nodeName" if k == "spec.host" else k, op, vs) for k, op, vs in requirements
    ]

    def match(obj: dict[str, Any]) -> bool:
        return all(_holds(_field_value(obj, k), op, vs) for k, op, vs in requirements)

    return match
