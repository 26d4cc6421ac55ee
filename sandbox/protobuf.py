"""Decode the few protobuf request bodies kubectl's generator commands send.

``kubectl create namespace|configmap|secret|serviceaccount|deployment|job|cronjob|ingress|pdb``
(and ``create job --from=cronjob/x``), ``kubectl expose`` and ``kubectl autoscale`` encode their
object as Kubernetes protobuf (there is no JSON fallback in kubectl). This module understands
just those kinds, field by field; unknown fields are skipped. Field numbers come from the API's
``generated.proto`` files.
"""

from __future__ import annotations

import base64
from typing import Any

MAGIC = b"k8s\x00"

# message name -> {field number: (json name, type)}. Types: "string", "bytes", "int", "bool",
# "map" (string -> string), "bmap" (string -> bytes), a message name; "[]" prefix = repeated.
MESSAGES: dict[str, dict[int, tuple[str, str]]] = {
    "Unknown": {
        1: ("typeMeta", "TypeMeta"),
        2: ("raw", "rawbytes"),
        3: ("contentEncoding", "string"),
        4: ("contentType", "string"),
    },
    "TypeMeta": {1: ("apiVersion", "string"), 2: ("kind", "string")},
    "ObjectMeta": {
        1: ("name", "string"),
        2: ("generateName", "string"),
        3: ("namespace", "string"),
        11: ("labels", "map"),
        12: ("annotations", "map"),
        13: ("ownerReferences", "[]OwnerReference"),
        14: ("finalizers", "[]string"),
    },
    "OwnerReference": {
        1: ("kind", "string"),
        3: ("name", "string"),
        4: ("uid", "string"),
        5: ("apiVersion", "string"),
        6: ("controller", "bool"),
        7: ("blockOwnerDeletion", "bool"),
    },
    "Namespace": {1: ("metadata", "ObjectMeta"), 2: ("spec", "NamespaceSpec")},
    "NamespaceSpec": {1: ("finalizers", "[]string")},
    "ConfigMap": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "map"),
        3: ("binaryData", "bmap"),
        4: ("immutable", "bool"),
    },
    "Secret": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "bmap"),
        3: ("type", "string"),
        4: ("stringData", "map"),
        5: ("immutable", "bool"),
    },
    "ServiceAccount": {1: ("metadata", "ObjectMeta"), 4: ("automountServiceAccountToken", "bool")},
    "Deployment": {1: ("metadata", "ObjectMeta"), 2: ("spec", "DeploymentSpec")},
    "DeploymentSpec": {
        1: ("replicas", "int"),
        2: ("selector", "LabelSelector"),
        3: ("template", "PodTemplateSpec"),
        4: ("strategy", "Empty"),
        5: ("minReadySeconds", "int"),
        6: ("revisionHistoryLimit", "int"),
        7: ("paused", "bool"),
        9: ("progressDeadlineSeconds", "int"),
    },
    "Job": {1: ("metadata", "ObjectMeta"), 2: ("spec", "JobSpec")},
    "JobSpec": {
        1: ("parallelism", "int"),
        2: ("completions", "int"),
        3: ("activeDeadlineSeconds", "int"),
        4: ("selector", "LabelSelector"),
        5: ("manualSelector", "bool"),
        6: ("template", "PodTemplateSpec"),
        7: ("backoffLimit", "int"),
        8: ("ttlSecondsAfterFinished", "int"),
        9: ("completionMode", "string"),
        10: ("suspend", "bool"),
        14: ("podReplacementPolicy", "string"),
    },
    "CronJob": {1: ("metadata", "ObjectMeta"), 2: ("spec", "CronJobSpec")},
    "CronJobSpec": {
        1: ("schedule", "string"),
        2: ("startingDeadlineSeconds", "int"),
        3: ("concurrencyPolicy", "string"),
        4: ("suspend", "bool"),
        5: ("jobTemplate", "JobTemplateSpec"),
        6: ("successfulJobsHistoryLimit", "int"),
        7: ("failedJobsHistoryLimit", "int"),
        8: ("timeZone", "string"),
    },
    "JobTemplateSpec": {1: ("metadata", "ObjectMeta"), 2: ("spec", "JobSpec")},
    "Ingress": {1: ("metadata", "ObjectMeta"), 2: ("spec", "IngressSpec")},
    "IngressSpec": {
        1: ("defaultBackend", "IngressBackend"),
        2: ("tls", "[]IngressTLS"),
        3: ("rules", "[]IngressRule"),
        4: ("ingressClassName", "string"),
    },
    # ingressRuleValue is inlined in JSON: its "http" sits directly in the rule.
    "IngressRule": {1: ("host", "string"), 2: ("...", "IngressRuleValue")},
    "IngressRuleValue": {1: ("http", "HTTPIngressRuleValue")},
    "HTTPIngressRuleValue": {1: ("paths", "[]HTTPIngressPath")},
    "HTTPIngressPath": {
        1: ("path", "string"),
        2: ("backend", "IngressBackend"),
        3: ("pathType", "string"),
    },
    "IngressBackend": {4: ("service", "IngressServiceBackend")},
    "IngressServiceBackend": {1: ("name", "string"), 2: ("port", "ServiceBackendPort")},
    "ServiceBackendPort": {1: ("name", "string"), 2: ("number", "int")},
    "IngressTLS": {1: ("hosts", "[]string"), 2: ("secretName", "string")},
    "PodDisruptionBudget": {1: ("metadata", "ObjectMeta"), 2: ("spec", "PodDisruptionBudgetSpec")},
    "PodDisruptionBudgetSpec": {
        1: ("minAvailable", "IntOrString"),
        2: ("selector", "LabelSelector"),
        3: ("maxUnavailable", "IntOrString"),
        4: ("unhealthyPodEvictionPolicy", "string"),
    },
    "HorizontalPodAutoscaler": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "HorizontalPodAutoscalerSpec"),
    },
    "HorizontalPodAutoscalerSpec": {
        1: ("scaleTargetRef", "CrossVersionObjectReference"),
        2: ("minReplicas", "int"),
        3: ("maxReplicas", "int"),
        4: ("metrics", "[]MetricSpec"),
    },
    # autoscaling/v1's spec: field 4 is targetCPUUtilizationPercentage instead.
    "HorizontalPodAutoscalerV1": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "HorizontalPodAutoscalerSpecV1"),
    },
    "HorizontalPodAutoscalerSpecV1": {
        1: ("scaleTargetRef", "CrossVersionObjectReference"),
        2: ("minReplicas", "int"),
        3: ("maxReplicas", "int"),
        4: ("targetCPUUtilizationPercentage", "int"),
    },
    "CrossVersionObjectReference": {
        1: ("kind", "string"),
        2: ("name", "string"),
        3: ("apiVersion", "string"),
    },
    "MetricSpec": {1: ("type", "string"), 4: ("resource", "ResourceMetricSource")},
    "ResourceMetricSource": {1: ("name", "string"), 2: ("target", "MetricTarget")},
    "MetricTarget": {
        1: ("type", "string"),
        2: ("value", "Quantity"),
        3: ("averageValue", "Quantity"),
        4: ("averageUtilization", "int"),
    },
    "Quantity": {1: ("string", "string")},
    "LabelSelector": {
        1: ("matchLabels", "map"),
        2: ("matchExpressions", "[]LabelSelectorRequirement"),
    },
    "LabelSelectorRequirement": {
        1: ("key", "string"),
        2: ("operator", "string"),
        3: ("values", "[]string"),
    },
    "PodTemplateSpec": {1: ("metadata", "ObjectMeta"), 2: ("spec", "PodSpec")},
    "PodSpec": {
        2: ("containers", "[]Container"),
        3: ("restartPolicy", "string"),
        4: ("terminationGracePeriodSeconds", "int"),
        6: ("dnsPolicy", "string"),
        7: ("nodeSelector", "map"),
        8: ("serviceAccountName", "string"),
        11: ("hostNetwork", "bool"),
        14: ("securityContext", "Empty"),
        19: ("schedulerName", "string"),
    },
    "Container": {
        1: ("name", "string"),
        2: ("image", "string"),
        3: ("command", "[]string"),
        4: ("args", "[]string"),
        5: ("workingDir", "string"),
        6: ("ports", "[]ContainerPort"),
        7: ("env", "[]EnvVar"),
        8: ("resources", "Empty"),
        13: ("terminationMessagePath", "string"),
        14: ("imagePullPolicy", "string"),
        20: ("terminationMessagePolicy", "string"),
    },
    "ContainerPort": {
        1: ("name", "string"),
        3: ("containerPort", "int"),
        4: ("protocol", "string"),
    },
    "EnvVar": {1: ("name", "string"), 2: ("value", "string")},
    "Service": {1: ("metadata", "ObjectMeta"), 2: ("spec", "ServiceSpec")},
    "ServiceSpec": {
        1: ("ports", "[]ServicePort"),
        2: ("selector", "map"),
        3: ("clusterIP", "string"),
        4: ("type", "string"),
    },
    "ServicePort": {
        1: ("name", "string"),
        2: ("protocol", "string"),
        3: ("port", "int"),
        4: ("targetPort", "IntOrString"),
        5: ("nodePort", "int"),
    },
    "IntOrString": {1: ("type", "int"), 2: ("intVal", "int"), 3: ("strVal", "string")},
    "Empty": {},
}
# Optional (pointer) fields: their zero values were set on purpose and are kept.
POINTERS = {
    "replicas",
    "revisionHistoryLimit",
    "progressDeadlineSeconds",
    "parallelism",
    "completions",
    "backoffLimit",
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "immutable",
    "automountServiceAccountToken",
    "intVal",
    "type",
    "startingDeadlineSeconds",
    "suspend",
    "successfulJobsHistoryLimit",
    "failedJobsHistoryLimit",
    "timeZone",
    "ttlSecondsAfterFinished",
    "manualSelector",
    "minReplicas",
    "averageUtilization",
    "controller",
    "blockOwnerDeletion",
}
KINDS = {
    "Namespace",
    "ConfigMap",
    "Secret",
    "ServiceAccount",
    "Deployment",
    "Job",
    "Service",
    "CronJob",
    "Ingress",
    "PodDisruptionBudget",
    "HorizontalPodAutoscaler",
}


class Unsupported(ValueError):
    """A protobuf body of a kind or shape the sandbox does not decode."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise Unsupported("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    out, pos = [], 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise Unsupported(f"wire type {wire}")
        out.append((number, wire, value))
    return out


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _message(data: bytes, name: str) -> dict[str, Any]:
    spec = MESSAGES[name]
    out: dict[str, Any] = {}
    for number, _, value in _fields(data):
        if number not in spec:
            continue
        field, kind = spec[number]
        repeated = kind.startswith("[]")
        kind = kind.removeprefix("[]")
        if kind in ("map", "bmap"):
            entry = {n: v for n, _, v in _fields(value)}
            raw = entry.get(2, b"")
            text = base64.b64encode(raw).decode() if kind == "bmap" else raw.decode()
            out.setdefault(field, {})[entry.get(1, b"").decode()] = text
            continue
        if kind == "string":
            item: Any = value.decode()
        elif kind in ("bytes", "rawbytes"):
            item = value if kind == "rawbytes" else base64.b64encode(value).decode()
        elif kind == "int":
            item = _signed(value)
        elif kind == "bool":
            item = bool(value)
        else:
            item = _message(value, kind)
        if field == "...":  # an inlined struct: its fields belong to this message
            out.update(item)
            continue
        if repeated:
            out.setdefault(field, []).append(item)
        elif item in ("", 0, False) and item is not None and field not in POINTERS:
            continue  # Go omits zero values of non-pointer fields from JSON (omitempty)
        else:
            out[field] = item
    if name == "Quantity":
        return out.get("string", "")  # type: ignore[return-value]
    if name == "IntOrString":
        return out.get("strVal") if out.get("type") == 1 else out.get("intVal", 0)  # type: ignore[return-value]
    return out


def decode(body: bytes) -> dict[str, Any]:
    """Turn a ``application/vnd.kubernetes.protobuf`` body into the JSON-shaped object."""
    if not body.startswith(MAGIC):
        raise Unsupported("missing protobuf magic number")
    unknown = _message(body[len(MAGIC) :], "Unknown")
    type_meta = unknown.get("typeMeta") or {}
    kind = type_meta.get("kind", "")
    if kind not in KINDS:
        raise Unsupported(f"protobuf bodies of kind {kind or '?'} are not supported")
    api_version = type_meta.get("apiVersion", "")
    message = kind
    if kind == "HorizontalPodAutoscaler" and api_version == "autoscaling/v1":
        message = "HorizontalPodAutoscalerV1"
    obj = _message(unknown.get("raw", b""), message)
    return {"apiVersion": api_version, "kind": kind, **obj}
