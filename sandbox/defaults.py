"""The defaults kube-apiserver fills in when an object is created or updated.

Each mirrors the API's defaulting functions (k8s.io/api's SetDefaults_* and the registry
strategies), so that stored objects, diffs and `kubectl get -o yaml` look as on a real cluster.
"""

from __future__ import annotations

import base64
from typing import Any

from sandbox.resources import Resource


def _template_defaults(template: dict[str, Any]) -> None:
    template.setdefault("metadata", {})
    _pod_spec_defaults(template.setdefault("spec", {}))


def _pod_spec_defaults(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if not isinstance(container, dict):
            continue
        image = str(container.get("image", ""))
        tag = image.rsplit("/", 1)[-1].partition(":")[2] if "@" not in image else "digest"
        container.setdefault(
            "imagePullPolicy", "Always" if tag in ("", "latest") else "IfNotPresent"
        )
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
        for port in container.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")


def _job_selector(obj: dict[str, Any], spec: dict[str, Any], template: dict[str, Any]) -> None:
    """What the Job strategy adds unless ``manualSelector``: pods labelled with the job's uid
    and name, selected by uid. The Job itself gets its template's labels if it has none."""
    meta = obj.setdefault("metadata", {})
    template_meta = template.setdefault("metadata", {})
    if template_meta.get("labels") and not meta.get("labels"):
        meta["labels"] = dict(template_meta["labels"])
    uid = meta.get("uid")
    if not uid or spec.get("manualSelector"):
        return
    labels = template_meta.setdefault("labels", {})
    for key in ("batch.kubernetes.io/job-name", "job-name"):
        labels.setdefault(key, meta.get("name", ""))
    for key in ("batch.kubernetes.io/controller-uid", "controller-uid"):
        labels.setdefault(key, uid)
    selector = spec.get("selector") or {}
    spec["selector"] = selector
    selector.setdefault("matchLabels", {}).setdefault("batch.kubernetes.io/controller-uid", uid)
    if not meta.get("labels"):  # defaulting runs again when the stored object is read back
        meta["labels"] = dict(labels)


def apply_defaults(resource: Resource, obj: dict[str, Any]) -> None:
    """The defaults real API servers fill in, so diffs and rollouts look familiar."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = None
    plural = resource.plural
    if plural == "deployments" and spec is not None:
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxSurge", "25%")
            rolling.setdefault("maxUnavailable", "25%")
        _template_defaults(spec.setdefault("template", {}))
    elif plural in ("replicasets", "statefulsets", "daemonsets") and spec is not None:
        if plural != "daemonsets":
            spec.setdefault("replicas", 1)
        if plural == "statefulsets":
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault(
                "updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
            )
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault(
                "persistentVolumeClaimRetentionPolicy",
                {"whenDeleted": "Retain", "whenScaled": "Retain"},
            )
            for claim in spec.get("volumeClaimTemplates") or []:
                if isinstance(claim, dict):
                    claim.setdefault("apiVersion", "v1")
                    claim.setdefault("kind", "PersistentVolumeClaim")
                    claim.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
                    claim.setdefault("status", {"phase": "Pending"})
        if plural == "daemonsets":
            spec.setdefault(
                "updateStrategy",
                {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
            )
            spec.setdefault("revisionHistoryLimit", 10)
        _template_defaults(spec.setdefault("template", {}))
    elif plural == "jobs" and spec is not None:
        if spec.get("completions") is None and spec.get("parallelism") is None:
            spec["completions"] = 1
        spec.setdefault("parallelism", 1)
        per_index = spec.get("backoffLimitPerIndex") is not None
        spec.setdefault("backoffLimit", 2147483647 if per_index else 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault(
            "podReplacementPolicy",
            "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed",
        )
        template = spec.setdefault("template", {})
        restart_policy = (template.get("spec") or {}).get("restartPolicy")
        _template_defaults(template)
        template["spec"]["restartPolicy"] = restart_policy or "Never"
        _job_selector(obj, spec, template)
    elif plural == "cronjobs" and spec is not None:
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        job_spec = (spec.get("jobTemplate") or {}).get("spec")
        if isinstance(job_spec, dict) and isinstance(job_spec.get("template"), dict):
            _template_defaults(job_spec["template"])  # only the pod template, not Job defaults
    elif plural == "horizontalpodautoscalers" and spec is not None:
        spec.setdefault("minReplicas", 1)
        if not spec.get("metrics") and resource.version == "v2":
            target = {"type": "Utilization", "averageUtilization": 80}
            spec["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": target}}]
    elif plural == "pods" and spec is not None:
        _pod_spec_defaults(spec)
    elif plural == "services" and spec is not None:
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("internalTrafficPolicy", "Cluster")
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
    elif plural == "persistentvolumeclaims" and spec is not None:
        spec.setdefault("volumeMode", "Filesystem")
    elif plural == "persistentvolumes" and spec is not None:
        spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
        spec.setdefault("volumeMode", "Filesystem")
    elif plural == "storageclasses":
        obj.setdefault("reclaimPolicy", "Delete")
        obj.setdefault("volumeBindingMode", "Immediate")
    elif plural == "secrets":
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict) and string_data:  # merged into data, as on decoding
            data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
            obj["data"] = data
    elif plural == "namespaces":
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
