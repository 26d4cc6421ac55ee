"""The table of served resources: drives routing, discovery and OpenAPI."""

from __future__ import annotations

from dataclasses import dataclass

RBAC = "rbac.authorization.k8s.io"
ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class Resource:
    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    has_status: bool = True
    # Real servers only keep metadata.generation on objects with a spec that controllers observe.
    has_generation: bool = True
    categories: tuple[str, ...] = ()
    # Create-only virtual resources (access reviews) are served with ("create",) only.
    verbs: tuple[str, ...] = tuple(ALL_VERBS)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def group_resource(self) -> str:
        """The name used in error messages, e.g. ``deployments.apps``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def list_kind(self) -> str:
        return self.kind + "List"


RESOURCES: list[Resource] = [
    Resource("", "v1", "namespaces", "Namespace", False, ("ns",), has_generation=False),
    Resource("", "v1", "configmaps", "ConfigMap", True, ("cm",), False, False),
    Resource("", "v1", "secrets", "Secret", True, (), False, False),
    Resource(
        "", "v1", "services", "Service", True, ("svc",), has_generation=False, categories=("all",)
    ),
    Resource("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",), False, False),
    Resource("", "v1", "pods", "Pod", True, ("po",), has_generation=False, categories=("all",)),
    Resource("", "v1", "events", "Event", True, ("ev",), False, False),
    Resource("", "v1", "endpoints", "Endpoints", True, ("ep",), False, False),
    Resource(
        "",
        "v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        True,
        ("pvc",),
        has_generation=False,
    ),
    Resource(
        "", "v1", "persistentvolumes", "PersistentVolume", False, ("pv",), has_generation=False
    ),
    # Stored only (no controller), so kubectl apply --prune's default allowlist resolves.
    Resource(
        "",
        "v1",
        "replicationcontrollers",
        "ReplicationController",
        True,
        ("rc",),
        categories=("all",),
    ),
    Resource("apps", "v1", "deployments", "Deployment", True, ("deploy",), categories=("all",)),
    Resource("apps", "v1", "replicasets", "ReplicaSet", True, ("rs",), categories=("all",)),
    Resource("apps", "v1", "statefulsets", "StatefulSet", True, ("sts",), categories=("all",)),
    Resource("apps", "v1", "daemonsets", "DaemonSet", True, ("ds",), categories=("all",)),
    Resource("apps", "v1", "controllerrevisions", "ControllerRevision", True, (), False, False),
    Resource("batch", "v1", "jobs", "Job", True, (), categories=("all",)),
    Resource("batch", "v1", "cronjobs", "CronJob", True, ("cj",), categories=("all",)),
    Resource("networking.k8s.io", "v1", "ingresses", "Ingress", True, ("ing",)),
    Resource(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        True,
        ("hpa",),
        categories=("all",),
    ),
    Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ("pdb",)),
    Resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True, (), False, False),
    Resource(
        "storage.k8s.io", "v1", "storageclasses", "StorageClass", False, ("sc",), False, False
    ),
    # Cluster furniture (see sandbox/cluster_objects.py and sandbox/auth.py).
    Resource("", "v1", "nodes", "Node", False, ("no",), has_generation=False),
    Resource("", "v1", "resourcequotas", "ResourceQuota", True, ("quota",), has_generation=False),
    *(
        Resource(RBAC, "v1", plural, kind, namespaced, (), False, False)
        for plural, kind, namespaced in (
            ("clusterrolebindings", "ClusterRoleBinding", False),
            ("clusterroles", "ClusterRole", False),
            ("rolebindings", "RoleBinding", True),
            ("roles", "Role", True),
        )
    ),
    Resource(
        "scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, ("pc",), False, False
    ),
    *(
        Resource(group, "v1", plural, kind, namespaced, (), False, False, verbs=("create",))
        for group, plural, kind, namespaced in (
            ("authentication.k8s.io", "selfsubjectreviews", "SelfSubjectReview", False),
            ("authentication.k8s.io", "tokenreviews", "TokenReview", False),
            ("authorization.k8s.io", "localsubjectaccessreviews", "LocalSubjectAccessReview", True),
            ("authorization.k8s.io", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False),
            ("authorization.k8s.io", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False),
            ("authorization.k8s.io", "subjectaccessreviews", "SubjectAccessReview", False),
        )
    ),
]

# Kinds also served in an older version, stored as the one in RESOURCES and converted at the HTTP
# boundary (sandbox/conversion.py), as kube-apiserver serves them.
CONVERTED: list[Resource] = [
    Resource(
        "autoscaling",
        "v1",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        True,
        ("hpa",),
        categories=("all",),
    ),
]
SERVED = RESOURCES + CONVERTED

BY_PATH: dict[tuple[str, str, str], Resource] = {(r.group, r.version, r.plural): r for r in SERVED}
BY_KIND: dict[tuple[str, str], Resource] = {(r.api_version, r.kind): r for r in RESOURCES}
BY_PLURAL: dict[str, Resource] = {r.plural: r for r in RESOURCES}


def group_versions() -> dict[str, list[str]]:
    """Map each API group to its served versions (core group is "")."""
    out: dict[str, list[str]] = {}
    for r in SERVED:  # the stored (preferred) version first
        versions = out.setdefault(r.group, [])
        if r.version not in versions:
            versions.append(r.version)
    return out


def resources_in(group: str, version: str) -> list[Resource]:
    return [r for r in SERVED if r.group == group and r.version == version]
