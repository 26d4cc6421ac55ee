"""Kinds served in more than one version: stored in one, converted at the HTTP boundary.

As kube-apiserver does for HorizontalPodAutoscalers: objects are stored as autoscaling/v2 and
served as autoscaling/v1 too. v1 can only say "target CPU utilization"; what only v2 can say
(other metrics, behavior, conditions) travels in the annotations real servers use for it, so a
round trip through v1 loses nothing.
"""

from __future__ import annotations

import contextlib
import copy
import json
from typing import Any

from sandbox.resources import BY_PATH, Resource

HPA_V1 = BY_PATH[("autoscaling", "v1", "horizontalpodautoscalers")]
HPA_V2 = BY_PATH[("autoscaling", "v2", "horizontalpodautoscalers")]
STORED_AS = {HPA_V1: HPA_V2}

METRICS = "autoscaling.alpha.kubernetes.io/metrics"
BEHAVIOR = "autoscaling.alpha.kubernetes.io/behavior"
CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"
CURRENT_METRICS = "autoscaling.alpha.kubernetes.io/current-metrics"


def stored_resource(resource: Resource) -> Resource:
    return STORED_AS.get(resource, resource)


def _is_cpu_utilization(metric: dict[str, Any], target_key: str) -> bool:
    resource = metric.get("resource") or {}
    value = resource.get(target_key) or {}
    return (
        metric.get("type") == "Resource"
        and resource.get("name") == "cpu"
        and ("averageUtilization" in value)
        and (target_key == "current" or value.get("type") == "Utilization")
    )


def _hpa_to_v1(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["apiVersion"] = "autoscaling/v1"
    meta = out.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    spec = out.get("spec")
    if isinstance(spec, dict):
        metrics = spec.pop("metrics", None) or []
        behavior = spec.pop("behavior", None)
        cpu = next((m for m in metrics if _is_cpu_utilization(m, "target")), None)
        if cpu is not None:
            spec["targetCPUUtilizationPercentage"] = cpu["resource"]["target"]["averageUtilization"]
        others = [m for m in metrics if m is not cpu]
        if others:
            annotations[METRICS] = json.dumps(others, separators=(",", ":"))
        if behavior:
            annotations[BEHAVIOR] = json.dumps(behavior, separators=(",", ":"))
    status = out.get("status")
    if isinstance(status, dict):
        current = status.pop("currentMetrics", None) or []
        conditions = status.pop("conditions", None)
        cpu = next((m for m in current if _is_cpu_utilization(m, "current")), None)
        if cpu is not None:
            status["currentCPUUtilizationPercentage"] = cpu["resource"]["current"][
                "averageUtilization"
            ]
        others = [m for m in current if m is not cpu]
        if others:
            annotations[CURRENT_METRICS] = json.dumps(others, separators=(",", ":"))
        if conditions:
            annotations[CONDITIONS] = json.dumps(conditions, separators=(",", ":"))
        status.setdefault("currentReplicas", 0)
        status.setdefault("desiredReplicas", 0)
    if annotations:
        meta["annotations"] = annotations
    return out


def _annotation_list(annotations: dict[str, Any], key: str) -> list[Any]:
    try:
        value = json.loads(annotations.pop(key, "[]"))
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def _hpa_to_v2(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    if out.get("apiVersion") == "autoscaling/v1":
        out["apiVersion"] = "autoscaling/v2"
    meta = out.get("metadata")
    annotations = dict((meta or {}).get("annotations") or {})
    spec = out.get("spec")
    if isinstance(spec, dict):
        metrics = _annotation_list(annotations, METRICS)
        if "targetCPUUtilizationPercentage" in spec:
            target = {
                "type": "Utilization",
                "averageUtilization": spec.pop("targetCPUUtilizationPercentage"),
            }
            metrics.insert(0, {"type": "Resource", "resource": {"name": "cpu", "target": target}})
        if metrics:
            spec["metrics"] = metrics
        behavior = annotations.pop(BEHAVIOR, None)
        if behavior:
            with contextlib.suppress(ValueError):
                spec["behavior"] = json.loads(behavior)
    else:
        for key in (METRICS, BEHAVIOR):
            annotations.pop(key, None)
    status = out.get("status")
    current = _annotation_list(annotations, CURRENT_METRICS)
    conditions = _annotation_list(annotations, CONDITIONS)
    if isinstance(status, dict):
        if "currentCPUUtilizationPercentage" in status:
            value = {"averageUtilization": status.pop("currentCPUUtilizationPercentage")}
            current.insert(0, {"type": "Resource", "resource": {"name": "cpu", "current": value}})
        if current:
            status["currentMetrics"] = current
        if conditions:
            status["conditions"] = conditions
    if isinstance(meta, dict):
        if annotations:
            meta["annotations"] = annotations
        else:
            meta.pop("annotations", None)
    return out


def to_stored(served: Resource, obj: Any) -> Any:
    """A request body in the served version, as the stored version."""
    if served is HPA_V1 and isinstance(obj, dict) and obj.get("kind") == HPA_V1.kind:
        return _hpa_to_v2(obj)
    return obj


def to_served(served: Resource, body: Any) -> Any:
    """An answer (object, list or Table rows) in the stored version, as the served version."""
    if served is not HPA_V1 or not isinstance(body, dict):
        return body
    if body.get("kind") == HPA_V2.kind and body.get("apiVersion") == HPA_V2.api_version:
        return _hpa_to_v1(body)
    if body.get("kind") == HPA_V2.list_kind:
        return {
            **body,
            "apiVersion": HPA_V1.api_version,
            "items": [_hpa_to_v1(item) for item in body.get("items") or []],
        }
    if body.get("kind") == "Table":
        rows = [
            {**row, "object": to_served(served, row.get("object"))}
            for row in body.get("rows") or []
        ]
        return {**body, "rows": rows}
    return body
