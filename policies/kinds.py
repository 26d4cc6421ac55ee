"""Which kinds a namespace accepts: cluster-scoped objects, and allowed or denied kinds.

A deployment targets one namespace, so by default nothing in it may reach beyond that namespace:
a Namespace, a ClusterRole(Binding), a CRD or a webhook configuration changes the whole cluster.
Argo CD's AppProject says the same with an empty `clusterResourceWhitelist`.

Kinds are named as Kubernetes names a group and kind (`GroupKind.String()`): `Kind.group`, or
`Kind` alone for that kind in any group, e.g. `Deployment.apps`, `Ingress`, `*.cert-manager.io`
(every kind of a group; `*` matches anything, as in Argo CD's resource lists).
"""

import re
from collections.abc import Callable
from fnmatch import fnmatchcase

from policies.types import Policy, Violation

# The built-in kinds that are not namespaced (`kubectl api-resources --namespaced=false`, 1.37).
CLUSTER_SCOPED = {
    "": {"Namespace", "Node", "PersistentVolume", "ComponentStatus"},
    "admissionregistration.k8s.io": {
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
    },
    "apiextensions.k8s.io": {"CustomResourceDefinition"},
    "apiregistration.k8s.io": {"APIService"},
    "authentication.k8s.io": {"TokenReview", "SelfSubjectReview"},
    "authorization.k8s.io": {
        "SubjectAccessReview",
        "SelfSubjectAccessReview",
        "SelfSubjectRulesReview",
    },
    "certificates.k8s.io": {"CertificateSigningRequest", "ClusterTrustBundle"},
    "flowcontrol.apiserver.k8s.io": {"FlowSchema", "PriorityLevelConfiguration"},
    "internal.apiserver.k8s.io": {"StorageVersion"},
    "networking.k8s.io": {"IngressClass", "IPAddress", "ServiceCIDR"},
    "node.k8s.io": {"RuntimeClass"},
    "rbac.authorization.k8s.io": {"ClusterRole", "ClusterRoleBinding"},
    "resource.k8s.io": {"DeviceClass", "ResourceSlice", "DeviceTaintRule"},
    "scheduling.k8s.io": {"PriorityClass"},
    "storage.k8s.io": {
        "CSIDriver",
        "CSINode",
        "StorageClass",
        "VolumeAttachment",
        "VolumeAttributesClass",
    },
    "storagemigration.k8s.io": {"StorageVersionMigration"},
}
# Groups Kubernetes itself serves: a kind in them that is not listed above is namespaced. Any
# other group belongs to a custom resource, whose scope only its cluster knows.
BUILT_IN_GROUPS = {
    "",
    "apps",
    "batch",
    "autoscaling",
    "policy",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    *CLUSTER_SCOPED,
}

KIND_PATTERN = re.compile(r"^[A-Za-z0-9*?]+(\.[a-z0-9*?]([a-z0-9.*?-]*[a-z0-9*?])?)?$")
KIND_PATTERN_HELP = (
    "Name kinds as Kind or Kind.group, e.g. Deployment.apps, Ingress or *.cert-manager.io."
)

# Is this object cluster-scoped? True, False, or None when it cannot be told offline.
ScopeOf = Callable[[dict], bool | None]


def group_of(obj: dict) -> str:
    api_version = str(obj.get("apiVersion", ""))
    return api_version.split("/")[0] if "/" in api_version else ""


def describe(obj: dict) -> str:
    """kubectl's name for an object: `deployment.apps/web`, `service/web`."""
    group = group_of(obj)
    kind = str(obj.get("kind", "")).lower() + (f".{group}" if group else "")
    name = (obj.get("metadata") or {}).get("name") if isinstance(obj.get("metadata"), dict) else ""
    return f"{kind}/{name}"


def known_scope(obj: dict) -> bool | None:
    """Whether a built-in kind is cluster-scoped; None for a custom resource."""
    group = group_of(obj)
    if group not in BUILT_IN_GROUPS:
        return None
    return obj.get("kind") in CLUSTER_SCOPED.get(group, ())


def matches(pattern: str, obj: dict) -> bool:
    kind_pattern, dot, group_pattern = pattern.partition(".")
    if not fnmatchcase(str(obj.get("kind", "")), kind_pattern):
        return False
    return not dot or fnmatchcase(group_of(obj), group_pattern)


def check_kinds(obj: dict, policy: Policy, scope_of: ScopeOf | None = None) -> list[Violation]:
    name = describe(obj)
    kind = str(obj.get("kind", ""))
    group = group_of(obj)
    group_kind = f"{kind}.{group}" if group else kind
    cluster_scoped = known_scope(obj)
    if cluster_scoped is None and scope_of is not None:
        cluster_scoped = scope_of(obj)
    violations = []
    if cluster_scoped and not policy.allow_cluster_scoped:
        violations.append(
            Violation(
                object=name,
                field="kind",
                rule="cluster-scoped",
                message=f"{name}: kind {group_kind} is cluster-scoped, and this namespace does not "
                "allow cluster-scoped objects (they change the whole cluster, not just the "
                "namespace).",
            )
        )
    if policy.allowed_kinds and not any(matches(p, obj) for p in policy.allowed_kinds):
        violations.append(
            Violation(
                object=name,
                field="kind",
                rule="allowed-kinds",
                message=f"{name}: kind {group_kind} is not among the kinds this namespace allows "
                f"({', '.join(policy.allowed_kinds)}).",
            )
        )
    denied = [p for p in policy.denied_kinds if matches(p, obj)]
    if denied:
        violations.append(
            Violation(
                object=name,
                field="kind",
                rule="denied-kinds",
                message=f"{name}: kind {group_kind} is denied in this namespace "
                f"(by {denied[0]!r}).",
            )
        )
    return violations
