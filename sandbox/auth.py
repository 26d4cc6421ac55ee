"""Who the caller is and what they may do: default RBAC objects, access reviews, aggregation.

The sandbox has one credential, its bearer token, which authenticates as ``sandbox-admin`` in
the groups ``system:masters`` and ``system:authenticated`` (the kubeadm admin of a real
cluster). Requests are not authorized against RBAC (the admin may do anything), but the review
APIs evaluate the stored Roles and bindings the way the RBAC authorizer does, so
``kubectl auth can-i`` and ``kubectl auth can-i --as=system:serviceaccount:ns:sa`` answer
correctly; ``kubectl auth whoami`` reports the caller (or whom it impersonates).

Reviews are create-only virtual resources: the POST returns the object with ``status`` filled
in and nothing is stored.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from sandbox import protobuf
from sandbox.api import Api, ApiError
from sandbox.resources import BY_PLURAL, RBAC, Resource
from sandbox.store import WatchEvent

if TYPE_CHECKING:
    from email.message import Message

    from sandbox.controllers import Controllers

ADMIN_USER = "sandbox-admin"
ADMIN_GROUPS = ["system:masters", "system:authenticated"]
CLUSTERROLES = BY_PLURAL["clusterroles"]
CLUSTERROLEBINDINGS = BY_PLURAL["clusterrolebindings"]
ROLES = BY_PLURAL["roles"]
ROLEBINDINGS = BY_PLURAL["rolebindings"]
MANAGER = "kube-apiserver"
AGGREGATOR = "clusterrole-aggregation-controller"

READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]
_VIEWABLE = {
    "": [
        "configmaps",
        "endpoints",
        "persistentvolumeclaims",
        "persistentvolumeclaims/status",
        "pods",
        "replicationcontrollers",
        "replicationcontrollers/scale",
        "serviceaccounts",
        "services",
        "services/status",
        "bindings",
        "events",
        "limitranges",
        "namespaces/status",
        "pods/log",
        "pods/status",
        "replicationcontrollers/status",
        "resourcequotas",
        "resourcequotas/status",
        "namespaces",
    ],
    "apps": [
        "controllerrevisions",
        "daemonsets",
        "daemonsets/status",
        "deployments",
        "deployments/scale",
        "deployments/status",
        "replicasets",
        "replicasets/scale",
        "replicasets/status",
        "statefulsets",
        "statefulsets/scale",
        "statefulsets/status",
    ],
    "autoscaling": ["horizontalpodautoscalers", "horizontalpodautoscalers/status"],
    "batch": ["cronjobs", "cronjobs/status", "jobs", "jobs/status"],
    "discovery.k8s.io": ["endpointslices"],
    "networking.k8s.io": ["ingresses", "ingresses/status", "networkpolicies"],
    "policy": ["poddisruptionbudgets", "poddisruptionbudgets/status"],
}
_EDITABLE = {
    "": [
        "pods",
        "pods/attach",
        "pods/exec",
        "pods/portforward",
        "pods/proxy",
        "configmaps",
        "endpoints",
        "persistentvolumeclaims",
        "replicationcontrollers",
        "replicationcontrollers/scale",
        "secrets",
        "serviceaccounts",
        "services",
        "services/proxy",
    ],
    "apps": [
        "daemonsets",
        "deployments",
        "deployments/rollback",
        "deployments/scale",
        "replicasets",
        "replicasets/scale",
        "statefulsets",
        "statefulsets/scale",
    ],
    "autoscaling": ["horizontalpodautoscalers"],
    "batch": ["cronjobs", "jobs"],
    "networking.k8s.io": ["ingresses", "networkpolicies"],
    "policy": ["poddisruptionbudgets"],
}
_BASIC_RULES = [
    {
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
        "verbs": ["create"],
    },
    {
        "apiGroups": ["authentication.k8s.io"],
        "resources": ["selfsubjectreviews"],
        "verbs": ["create"],
    },
]
_DISCOVERY_URLS = [
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/healthz",
    "/livez",
    "/openapi",
    "/openapi/*",
    "/readyz",
    "/version",
    "/version/",
]


def _rules(groups: dict[str, list[str]], verbs: list[str]) -> list[dict[str, Any]]:
    return [
        {"apiGroups": [g], "resources": list(r), "verbs": list(verbs)} for g, r in groups.items()
    ]


def _meta(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "labels": {"kubernetes.io/bootstrapping": "rbac-defaults", **(labels or {})},
        "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
    }


def default_cluster_roles() -> list[dict[str, Any]]:
    """The bootstrap ClusterRoles users rely on, with the real aggregation structure."""
    agg = "rbac.authorization.k8s.io/aggregate-to-"
    roles: list[dict[str, Any]] = [
        {
            "metadata": _meta("cluster-admin"),
            "rules": [
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                {"nonResourceURLs": ["*"], "verbs": ["*"]},
            ],
        }
    ]
    for name, into in (("admin", None), ("edit", "admin"), ("view", "edit")):
        labels = {agg + into: "true"} if into else {}  # view is part of edit, edit of admin
        roles.append(
            {
                "metadata": _meta(name, labels),
                "aggregationRule": {
                    "clusterRoleSelectors": [{"matchLabels": {agg + name: "true"}}]
                },
                "rules": [],
            }
        )
    admin_rules = [
        {"apiGroups": [RBAC], "resources": ["rolebindings", "roles"], "verbs": [*WRITE, *READ]},
        {
            "apiGroups": ["authorization.k8s.io"],
            "resources": ["localsubjectaccessreviews"],
            "verbs": ["create"],
        },
    ]
    edit_rules = _rules(_EDITABLE, WRITE) + [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": READ},
        {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
    ]
    view_rules = _rules(_VIEWABLE, READ)
    for name, labels, rules in (
        ("system:aggregate-to-admin", {agg + "admin": "true"}, admin_rules),
        ("system:aggregate-to-edit", {agg + "edit": "true"}, edit_rules),
        ("system:aggregate-to-view", {agg + "view": "true"}, view_rules),
    ):
        roles.append({"metadata": _meta(name, labels), "rules": rules})
    roles += [
        {"metadata": _meta("system:basic-user"), "rules": _BASIC_RULES},
        {
            "metadata": _meta("system:discovery"),
            "rules": [{"nonResourceURLs": _DISCOVERY_URLS, "verbs": ["get"]}],
        },
        {
            "metadata": _meta("system:public-info-viewer"),
            "rules": [
                {
                    "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"],
                    "verbs": ["get"],
                }
            ],
        },
    ]
    for role in roles:
        role.update(apiVersion=f"{RBAC}/v1", kind="ClusterRole")
    return roles


def default_bindings() -> list[dict[str, Any]]:
    def binding(name: str, groups: list[str]) -> dict[str, Any]:
        return {
            "apiVersion": f"{RBAC}/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _meta(name),
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": name},
            "subjects": [{"apiGroup": RBAC, "kind": "Group", "name": g} for g in groups],
        }

    return [
        binding("cluster-admin", ["system:masters"]),
        binding("system:basic-user", ["system:authenticated"]),
        binding("system:discovery", ["system:authenticated"]),
        binding("system:public-info-viewer", ["system:authenticated", "system:unauthenticated"]),
    ]


# --- aggregation controller ------------------------------------------------------------------


def _selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def aggregate(api: Api) -> None:
    """Set each aggregated ClusterRole's rules to the union of the roles it selects."""
    for _ in range(5):  # aggregated roles can select each other (view -> edit -> admin)
        changed = False
        roles = api.list(CLUSTERROLES)
        for role in roles:
            selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors")
            if not selectors:
                continue
            rules: list[dict[str, Any]] = []
            for other in roles:
                if other["metadata"]["name"] == role["metadata"]["name"]:
                    continue
                labels = other["metadata"].get("labels") or {}
                if any(_selector_matches(s, labels) for s in selectors):
                    rules += [r for r in other.get("rules") or [] if r not in rules]
            if rules != (role.get("rules") or []):
                role["rules"] = rules
                with contextlib.suppress(ApiError):
                    api.update(CLUSTERROLES, "", role["metadata"]["name"], role, manager=AGGREGATOR)
                    changed = True
        if not changed:
            return


def install(api: Api, controllers: Controllers) -> None:
    for obj in default_cluster_roles():
        api.create(CLUSTERROLES, "", obj, manager=MANAGER)
    for obj in default_bindings():
        api.create(CLUSTERROLEBINDINGS, "", obj, manager=MANAGER)
    aggregate(api)
    pending: list[bool] = []

    def run() -> None:
        pending.clear()
        aggregate(api)

    def on_event(ev: WatchEvent) -> None:
        if ev.resource is CLUSTERROLES and not pending and _writer(ev.obj) != AGGREGATOR:
            pending.append(True)
            controllers.after(0, run)

    api.store.listeners.append(on_event)


def _writer(obj: dict[str, Any]) -> str:
    managed = obj["metadata"].get("managedFields") or []
    latest = max(managed, key=lambda m: m.get("time", ""), default={})
    return latest.get("manager", "")


# --- the RBAC authorizer ----------------------------------------------------------------------


def _subject_text(subject: dict[str, Any], namespace: str) -> str:
    if subject.get("kind") == "ServiceAccount":
        return f'ServiceAccount "{subject.get("name")}/{subject.get("namespace") or namespace}"'
    return f'{subject.get("kind")} "{subject.get("name")}"'


def _subject_matches(subject: dict[str, Any], user: str, groups: list[str], ns: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return name == user
    if kind == "Group":
        return name in groups
    if kind == "ServiceAccount":
        return user == f"system:serviceaccount:{subject.get('namespace') or ns}:{name}"
    return False


def applicable_rules(
    api: Api, user: str, groups: list[str], namespace: str
) -> list[tuple[dict[str, Any], str]]:
    """(rule, "X of Y to Z") for every rule bound to the subject, cluster-wide then in namespace."""
    out: list[tuple[dict[str, Any], str]] = []
    bindings = [(b, "ClusterRoleBinding", "") for b in api.list(CLUSTERROLEBINDINGS)]
    if namespace:
        bindings += [(b, "RoleBinding", namespace) for b in api.list(ROLEBINDINGS, namespace)]
    for binding, kind, ns in bindings:
        subject = next(
            (s for s in binding.get("subjects") or [] if _subject_matches(s, user, groups, ns)),
            None,
        )
        if subject is None:
            continue
        ref = binding.get("roleRef") or {}
        role_resource = ROLES if ref.get("kind") == "Role" else CLUSTERROLES
        role = api.find(role_resource, ns if role_resource is ROLES else "", ref.get("name", ""))
        if role is None:
            continue
        name = binding["metadata"]["name"] + (f"/{ns}" if ns else "")
        text = (
            f'{kind} "{name}" of {ref.get("kind")} "{ref.get("name")}" '
            f"to {_subject_text(subject, ns)}"
        )
        out += [(rule, text) for rule in role.get("rules") or []]
    return out


def _has(values: list[str] | None, wanted: str) -> bool:
    return bool(values) and ("*" in values or wanted in values)  # type: ignore[operator]


def _rule_allows(rule: dict[str, Any], attrs: dict[str, Any], non_resource: bool) -> bool:
    if not _has(rule.get("verbs"), attrs.get("verb", "")):
        return False
    if non_resource:
        path = attrs.get("path", "")
        return any(
            u == "*" or u == path or (u.endswith("*") and path.startswith(u[:-1]))
            for u in rule.get("nonResourceURLs") or []
        )
    if not _has(rule.get("apiGroups"), attrs.get("group", "")):
        return False
    resource, sub = attrs.get("resource", ""), attrs.get("subresource", "")
    combined = f"{resource}/{sub}" if sub else resource
    resources = rule.get("resources") or []
    if not (
        "*" in resources
        or combined in resources
        or (sub and (f"*/{sub}" in resources or f"{resource}/*" in resources))
    ):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.get("name", "") in names


def authorize(
    api: Api, user: str, groups: list[str], attrs: dict[str, Any], non_resource: bool
) -> tuple[bool, str]:
    namespace = "" if non_resource else attrs.get("namespace", "")
    for rule, text in applicable_rules(api, user, groups, namespace):
        if _rule_allows(rule, attrs, non_resource):
            return True, f"RBAC: allowed by {text}"
    if "system:masters" in groups:  # the privileged group bypasses RBAC
        return True, ""
    return False, ""


# --- the review endpoints ---------------------------------------------------------------------

# kubectl auth can-i / whoami send their reviews as protobuf (field numbers from the
# authorization/v1 and authentication/v1 generated.proto files).
_ACCESS_SPEC = {
    1: ("resourceAttributes", "ResourceAttributes"),
    2: ("nonResourceAttributes", "NonResourceAttributes"),
    3: ("user", "string"),
    4: ("groups", "[]string"),
    6: ("uid", "string"),
}
protobuf.MESSAGES.update(
    {
        "ResourceAttributes": {
            1: ("namespace", "string"),
            2: ("verb", "string"),
            3: ("group", "string"),
            4: ("version", "string"),
            5: ("resource", "string"),
            6: ("subresource", "string"),
            7: ("name", "string"),
        },
        "NonResourceAttributes": {1: ("path", "string"), 2: ("verb", "string")},
        "SelfSubjectAccessReviewSpec": {k: v for k, v in _ACCESS_SPEC.items() if k < 3},
        "SubjectAccessReviewSpec": _ACCESS_SPEC,
        "SelfSubjectRulesReviewSpec": {1: ("namespace", "string")},
        "TokenReviewSpec": {1: ("token", "string"), 2: ("audiences", "[]string")},
        "SelfSubjectAccessReview": {
            1: ("metadata", "ObjectMeta"),
            2: ("spec", "SelfSubjectAccessReviewSpec"),
        },
        "SubjectAccessReview": {
            1: ("metadata", "ObjectMeta"),
            2: ("spec", "SubjectAccessReviewSpec"),
        },
        "LocalSubjectAccessReview": {
            1: ("metadata", "ObjectMeta"),
            2: ("spec", "SubjectAccessReviewSpec"),
        },
        "SelfSubjectRulesReview": {
            1: ("metadata", "ObjectMeta"),
            2: ("spec", "SelfSubjectRulesReviewSpec"),
        },
        "SelfSubjectReview": {1: ("metadata", "ObjectMeta")},
        # kubectl create role|clusterrole|rolebinding|clusterrolebinding
        "PolicyRule": {
            1: ("verbs", "[]string"),
            2: ("apiGroups", "[]string"),
            3: ("resources", "[]string"),
            4: ("resourceNames", "[]string"),
            5: ("nonResourceURLs", "[]string"),
        },
        "AggregationRule": {1: ("clusterRoleSelectors", "[]LabelSelector")},
        "Role": {1: ("metadata", "ObjectMeta"), 2: ("rules", "[]PolicyRule")},
        "ClusterRole": {
            1: ("metadata", "ObjectMeta"),
            2: ("rules", "[]PolicyRule"),
            3: ("aggregationRule", "AggregationRule"),
        },
        "Subject": {
            1: ("kind", "string"),
            2: ("apiGroup", "string"),
            3: ("name", "string"),
            4: ("namespace", "string"),
        },
        "RoleRef": {1: ("apiGroup", "string"), 2: ("kind", "string"), 3: ("name", "string")},
        "RoleBinding": {
            1: ("metadata", "ObjectMeta"),
            2: ("subjects", "[]Subject"),
            3: ("roleRef", "RoleRef"),
        },
        "ClusterRoleBinding": {
            1: ("metadata", "ObjectMeta"),
            2: ("subjects", "[]Subject"),
            3: ("roleRef", "RoleRef"),
        },
        "TokenReview": {1: ("metadata", "ObjectMeta"), 2: ("spec", "TokenReviewSpec")},
    }
)
protobuf.KINDS.update(
    {
        "SelfSubjectAccessReview",
        "SubjectAccessReview",
        "LocalSubjectAccessReview",
        "SelfSubjectRulesReview",
        "SelfSubjectReview",
        "TokenReview",
        "Role",
        "ClusterRole",
        "RoleBinding",
        "ClusterRoleBinding",
    }
)


def caller(headers: Message) -> tuple[str, list[str], dict[str, list[str]]]:
    """The authenticated user, or the one named by impersonation headers (kubectl --as)."""
    user = headers.get("Impersonate-User")
    if not user:
        return ADMIN_USER, list(ADMIN_GROUPS), {}
    groups = list(headers.get_all("Impersonate-Group") or [])
    if user.startswith("system:serviceaccount:"):
        namespace = user.split(":")[2]
        groups += ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]
    if user != "system:anonymous" and "system:authenticated" not in groups:
        groups.append("system:authenticated")
    extra: dict[str, list[str]] = {}
    for key in headers:
        if key.lower().startswith("impersonate-extra-"):
            extra[key[len("impersonate-extra-") :].lower()] = headers.get_all(key) or []
    return user, groups, extra


def _bad(resource: Resource, message: str, field: str) -> ApiError:
    return ApiError(
        422,
        "Invalid",
        f'{resource.kind}.{resource.group} "" is invalid: {field}: {message}',
        {
            "group": resource.group,
            "kind": resource.kind,
            "causes": [{"reason": "FieldValueInvalid", "message": message, "field": field}],
        },
    )


def review(
    sandbox: Any, resource: Resource, namespace: str, body: Any, headers: Message
) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
    api: Api = sandbox.api
    if body.get("kind", resource.kind) != resource.kind:
        raise ApiError(
            400,
            "BadRequest",
            f"the API version in the data ({body.get('apiVersion')}) does not match the "
            f"expected API version ({resource.api_version})",
        )
    spec = body.get("spec") or {}
    meta = dict(body.get("metadata") or {})
    meta.setdefault("creationTimestamp", None)
    out = {"kind": resource.kind, "apiVersion": resource.api_version, "metadata": meta}
    user, groups, extra = caller(headers)
    plural = resource.plural
    if plural == "selfsubjectreviews":
        info: dict[str, Any] = {"username": user, "groups": groups}
        if extra:
            info["extra"] = extra
        return out | {"status": {"userInfo": info}}
    if plural == "tokenreviews":
        token = spec.get("token", "")
        if token == sandbox.token:
            status: dict[str, Any] = {
                "authenticated": True,
                "user": {"username": ADMIN_USER, "groups": list(ADMIN_GROUPS)},
                "audiences": spec.get("audiences")
                or ["https://kubernetes.default.svc.cluster.local"],
            }
        else:
            status = {"user": {}, "error": "[invalid bearer token, token lookup failed]"}
        return out | {"spec": spec, "status": status}
    if plural == "selfsubjectrulesreviews":
        if not spec.get("namespace"):
            raise _bad(resource, "Required value", "spec.namespace")
        resource_rules, non_resource_rules = [], []
        for rule, _ in applicable_rules(api, user, groups, spec["namespace"]):
            if rule.get("nonResourceURLs"):
                entry = {"verbs": rule.get("verbs", []), "nonResourceURLs": rule["nonResourceURLs"]}
                if entry not in non_resource_rules:
                    non_resource_rules.append(entry)
            else:
                entry = {
                    k: rule[k]
                    for k in ("verbs", "apiGroups", "resources", "resourceNames")
                    if rule.get(k)
                }
                if entry not in resource_rules:
                    resource_rules.append(entry)
        return out | {
            "spec": spec,
            "status": {
                "resourceRules": resource_rules,
                "nonResourceRules": non_resource_rules,
                "incomplete": False,
            },
        }
    # SubjectAccessReview, LocalSubjectAccessReview, SelfSubjectAccessReview
    attrs, non_attrs = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if bool(attrs) == bool(non_attrs):
        raise _bad(
            resource,
            "Required value: exactly one of nonResourceAttributes or resourceAttributes must be "
            "specified",
            "spec.resourceAttributes",
        )
    if plural != "selfsubjectaccessreviews":
        if not spec.get("user") and not spec.get("groups") and not spec.get("uid"):
            raise _bad(
                resource,
                'Invalid value: "": at least one of user or group must be specified',
                "spec.user",
            )
        user, groups = spec.get("user", ""), list(spec.get("groups") or [])
    if plural == "localsubjectaccessreviews" and (attrs or {}).get("namespace") != namespace:
        raise _bad(
            resource,
            f'Invalid value: "{(attrs or {}).get("namespace", "")}": must match metadata.namespace',
            "spec.resourceAttributes.namespace",
        )
    if plural == "localsubjectaccessreviews":
        meta["namespace"] = namespace
    allowed, reason = authorize(api, user, groups, attrs or non_attrs, bool(non_attrs))
    status = {"allowed": allowed}
    if reason:
        status["reason"] = reason
    return out | {"spec": spec, "status": status}
