"""The furniture every real cluster has, and the admission plugins and controllers around it.

* the node ``sandbox-node`` (the one pods are scheduled to), with a kubelet's status;
* in every namespace, the ``default`` ServiceAccount and the ``kube-root-ca.crt`` ConfigMap
  (created with the namespace, as the serviceaccount and root-ca-cert-publisher controllers do);
* ``kube-system`` populated like a kubeadm cluster's: CoreDNS (Deployment, ``kube-dns`` Service
  10.96.0.10), the kube-proxy DaemonSet and the control plane's static (mirror) pods; the
  ``kubernetes`` Service in ``default``;
* the built-in PriorityClasses and the default RBAC objects (``sandbox/auth.py``);
* admission: ServiceAccount (``serviceAccountName`` defaulting, unknown accounts are rejected),
  Priority (``priorityClassName`` resolved to ``priority``), ResourceQuota (requests/limits
  required and quotas enforced), plus PriorityClass and RoleBinding update rules;
* the resource quota controller, which keeps ``status.hard`` and ``status.used`` current.

Everything reacts to store events; nothing polls, so an idle sandbox still uses no CPU.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from sandbox import auth, protobuf
from sandbox.api import Api, ApiError, invalid, now
from sandbox.resources import BY_PLURAL, RESOURCES, Resource
from sandbox.store import WatchEvent

if TYPE_CHECKING:
    from sandbox.controllers import Controllers

NODE_NAME = "sandbox-node"
NODE_IP = "10.0.0.10"  # the hostIP the simulated kubelet reports
NAMESPACES = BY_PLURAL["namespaces"]
NODES = BY_PLURAL["nodes"]
PODS = BY_PLURAL["pods"]
SERVICES = BY_PLURAL["services"]
CONFIGMAPS = BY_PLURAL["configmaps"]
SERVICEACCOUNTS = BY_PLURAL["serviceaccounts"]
QUOTAS = BY_PLURAL["resourcequotas"]
PRIORITYCLASSES = BY_PLURAL["priorityclasses"]
MIRROR = "kubernetes.io/config.mirror"
ROOT_CA = "kube-root-ca.crt"
ROOT_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
    "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
    "guaranteed across distributions of Kubernetes clusters."
)
SYSTEM_PRIORITIES = {
    "system-cluster-critical": (
        2000000000,
        "Used for system critical pods that must run in the cluster, but can be moved to "
        "another node if necessary.",
    ),
    "system-node-critical": (
        2000001000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
}
HIGHEST_USER_PRIORITY = 1000000000

# kubectl create priorityclass sends protobuf (scheduling/v1 generated.proto).
protobuf.MESSAGES["PriorityClass"] = {
    1: ("metadata", "ObjectMeta"),
    2: ("value", "int"),
    3: ("globalDefault", "bool"),
    4: ("description", "string"),
    5: ("preemptionPolicy", "string"),
}
protobuf.KINDS.add("PriorityClass")


def _forbidden(resource: Resource, name: str, message: str) -> ApiError:
    return ApiError(
        403,
        "Forbidden",
        f'{resource.group_resource} "{name}" is forbidden: {message}',
        {"name": name, "group": resource.group, "kind": resource.plural},
    )


def _cause(field: str, message: str, reason: str = "FieldValueForbidden") -> dict[str, str]:
    return {"reason": reason, "field": field, "message": message}


# --- quantities -------------------------------------------------------------------------------

_QUANTITY = re.compile(
    r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:[eE]([+-]?\d+))?(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$"
)
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def parse_quantity(text: Any) -> tuple[Fraction, bool]:
    """A resource quantity as an exact number, and whether it used a binary (Ki, Mi...) suffix."""
    match = _QUANTITY.match(str(text).strip())
    if not match:
        return Fraction(0), False
    number, exponent, suffix = match.group(1), match.group(2), match.group(3) or ""
    value = Fraction(number) * Fraction(10) ** int(exponent or 0)
    if suffix in _BINARY:
        return value * 1024 ** _BINARY[suffix], True
    return value * Fraction(10) ** _DECIMAL[suffix], False


def format_quantity(value: Fraction, binary: bool = False) -> str:
    """The canonical form kube-apiserver prints (``1500m``, ``2``, ``256Mi``, ``0``)."""
    if value == 0:
        return "0"
    if binary and value.denominator == 1 and value >= 1024:
        for suffix, power in sorted(_BINARY.items(), key=lambda kv: -kv[1]):
            if value % 1024**power == 0:
                return f"{value // 1024**power}{suffix}"
    for suffix, power in sorted(_DECIMAL.items(), key=lambda kv: -kv[1]):
        scaled = value / Fraction(10) ** power
        if scaled.denominator == 1 and (power <= 0 or abs(scaled) >= 1):
            return f"{scaled}{suffix}"
    return f"{-((-value * 10**9) // 1)}n"  # rounded up to nanos, like the real Quantity


# --- resource quota ---------------------------------------------------------------------------

_COMPUTE = ("cpu", "memory")
_LEGACY_COUNTS = {
    "configmaps": "configmaps",
    "secrets": "secrets",
    "services": "services",
    "resourcequotas": "resourcequotas",
    "persistentvolumeclaims": "persistentvolumeclaims",
    "replicationcontrollers": "replicationcontrollers",
}


def _count_key(resource: Resource) -> str:
    return f"count/{resource.plural}" + (f".{resource.group}" if resource.group else "")


def _pod_usage(pod: dict[str, Any]) -> dict[str, tuple[Fraction, bool]]:
    """What one pod is charged: pods, requests.* (also plain cpu/memory) and limits.*."""
    spec = pod.get("spec") or {}
    usage: dict[str, tuple[Fraction, bool]] = {"pods": (Fraction(1), False)}
    for kind in ("requests", "limits"):
        for name in _COMPUTE:
            total, binary, seen = Fraction(0), False, False
            for container in spec.get("containers") or []:
                value = ((container.get("resources") or {}).get(kind) or {}).get(name)
                if value is not None:
                    amount, is_binary = parse_quantity(value)
                    binary = binary or (is_binary and not seen)
                    total, seen = total + amount, True
            if seen:
                usage[f"{kind}.{name}"] = (total, binary)
                if kind == "requests":
                    usage[name] = (total, binary)
    return usage


def _missing_constraints(pod: dict[str, Any], hard: dict[str, Any]) -> str | None:
    """Quotas on cpu or memory require every container to state them (the pod evaluator's rule)."""
    required = set(hard) & {
        "cpu",
        "memory",
        "requests.cpu",
        "requests.memory",
        "limits.cpu",
        "limits.memory",
    }
    missing: dict[str, list[str]] = {}
    spec = pod.get("spec") or {}
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        resources = container.get("resources") or {}
        have = set()
        for name in _COMPUTE:
            if name in (resources.get("requests") or {}):
                have |= {name, f"requests.{name}"}
            if name in (resources.get("limits") or {}):
                have.add(f"limits.{name}")
        for key in required - have:
            missing.setdefault(key, []).append(container.get("name", ""))
    if not missing:
        return None
    return "must specify " + "; ".join(
        f"{key} for: {','.join(sorted(names))}" for key, names in sorted(missing.items())
    )


def quota_usage(api: Api, namespace: str, keys: list[str]) -> dict[str, tuple[Fraction, bool]]:
    """What the quota controller would count for ``keys`` in ``namespace``."""
    used: dict[str, tuple[Fraction, bool]] = {key: (Fraction(0), False) for key in keys}
    pods = api.list(PODS, namespace)
    live = [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    for pod in live:
        for key, (amount, binary) in _pod_usage(pod).items():
            if key in used:
                total, was_binary = used[key]
                used[key] = (total + amount, was_binary if total else binary)
    for resource in RESOURCES:
        if not resource.namespaced or resource.verbs == ("create",):
            continue
        for key in (_count_key(resource), _LEGACY_COUNTS.get(resource.plural)):
            if key in used and key != "pods":
                used[key] = (Fraction(len(api.list(resource, namespace))), False)
    if "services.nodeports" in used or "services.loadbalancers" in used:
        services = [s.get("spec") or {} for s in api.list(SERVICES, namespace)]
        if "services.nodeports" in used:
            ports = sum(1 for s in services for p in s.get("ports") or [] if p.get("nodePort"))
            used["services.nodeports"] = (Fraction(ports), False)
        if "services.loadbalancers" in used:
            lbs = sum(1 for s in services if s.get("type") == "LoadBalancer")
            used["services.loadbalancers"] = (Fraction(lbs), False)
    return used


def quota_status(api: Api, quota: dict[str, Any]) -> dict[str, Any]:
    hard = (quota.get("spec") or {}).get("hard") or {}
    used = quota_usage(api, quota["metadata"]["namespace"], list(hard))
    return {
        "hard": {k: format_quantity(*parse_quantity(v)) for k, v in hard.items()},
        "used": {k: format_quantity(*used[k]) for k in hard},
    }


def _check_quotas(api: Api, resource: Resource, obj: dict[str, Any]) -> None:
    namespace = obj["metadata"].get("namespace", "")
    quotas = api.list(QUOTAS, namespace)
    if not quotas:
        return
    if resource.plural == "pods":
        requested = _pod_usage(obj)
        requested["count/pods"] = (Fraction(1), False)
    else:
        requested = {_count_key(resource): (Fraction(1), False)}
        if resource.plural in _LEGACY_COUNTS:
            requested[resource.plural] = (Fraction(1), False)
        if resource.plural == "services":
            spec = obj.get("spec") or {}
            if spec.get("type") == "LoadBalancer":
                requested["services.loadbalancers"] = (Fraction(1), False)
            if spec.get("type") in ("NodePort", "LoadBalancer"):
                requested["services.nodeports"] = (Fraction(len(spec.get("ports") or [])), False)
    name = obj["metadata"].get("name", "")
    for quota in quotas:
        hard = (quota.get("spec") or {}).get("hard") or {}
        if resource.plural == "pods":
            problem = _missing_constraints(obj, hard)
            if problem:
                message = f"failed quota: {quota['metadata']['name']}: {problem}"
                raise _forbidden(resource, name, message)
        keys = sorted(k for k in hard if k in requested)
        if not keys:
            continue
        used = quota_usage(api, namespace, keys)
        exceeded = [k for k in keys if used[k][0] + requested[k][0] > parse_quantity(hard[k])[0]]
        if exceeded:

            def show(values: dict[str, Any], keys: list[str] = exceeded) -> str:
                return ",".join(f"{k}={values[k]}" for k in keys)

            message = (
                f"exceeded quota: {quota['metadata']['name']}, "
                f"requested: {show({k: format_quantity(*requested[k]) for k in exceeded})}, "
                f"used: {show({k: format_quantity(*used[k]) for k in exceeded})}, "
                f"limited: {show({k: format_quantity(*parse_quantity(hard[k])) for k in exceeded})}"
            )
            raise _forbidden(resource, name, message)


# --- admission --------------------------------------------------------------------------------


def _admit_pod(api: Api, pod: dict[str, Any]) -> None:
    meta, spec = pod["metadata"], pod.setdefault("spec", {})
    shown = meta.get("generateName") or meta.get("name", "")
    namespace = meta.get("namespace", "")
    # LimitRanger-free defaulting of the API: a limit without a request requests the limit.
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if not isinstance(container, dict):
            continue
        resources = container.get("resources") or {}
        limits = resources.get("limits") or {}
        if limits:
            requests = resources.setdefault("requests", {})
            for key, value in limits.items():
                requests.setdefault(key, value)
    # ServiceAccount admission (mirror pods of static pods are exempt).
    if MIRROR not in (meta.get("annotations") or {}):
        account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        spec["serviceAccountName"] = spec["serviceAccount"] = account
        if api.find(SERVICEACCOUNTS, namespace, account) is None:
            raise _forbidden(
                PODS,
                shown,
                f"error looking up service account {namespace}/{account}: serviceaccount "
                f'"{account}" not found',
            )
    # Priority admission.
    class_name = spec.get("priorityClassName")
    if class_name:
        pc = api.find(PRIORITYCLASSES, "", class_name)
        if pc is None:
            raise _forbidden(PODS, shown, f"no PriorityClass with name {class_name} was found")
    else:
        pc = next((c for c in api.list(PRIORITYCLASSES) if c.get("globalDefault")), None)
        if pc is not None:
            spec["priorityClassName"] = pc["metadata"]["name"]
    spec["priority"] = pc.get("value", 0) if pc else 0
    spec["preemptionPolicy"] = (pc or {}).get("preemptionPolicy", "PreemptLowerPriority")


def _admit_priority_class(api: Api, pc: dict[str, Any], old: dict[str, Any] | None) -> None:
    pc.setdefault("preemptionPolicy", "PreemptLowerPriority")
    name = pc["metadata"].get("name", "")
    causes = []
    if old is None:
        if name.startswith("system-"):
            known = SYSTEM_PRIORITIES.get(name)
            if known is None or known[0] != pc.get("value") or pc.get("globalDefault"):
                problem = (
                    f"{name} is not a known system priority class"
                    if known is None
                    else f"value of {name} PriorityClass must be {known[0]}"
                )
                causes.append(
                    _cause(
                        "metadata.name",
                        "Forbidden: priority class names with 'system-' prefix are reserved "
                        f"for system use only. error: {problem}",
                    )
                )
        elif isinstance(pc.get("value"), int) and pc["value"] > HIGHEST_USER_PRIORITY:
            causes.append(
                _cause(
                    "value",
                    "Forbidden: maximum allowed value of a user defined priority is "
                    f"{HIGHEST_USER_PRIORITY}",
                )
            )
    else:
        if pc.get("value") != old.get("value"):
            causes.append(_cause("value", "Forbidden: may not be changed in an update."))
        if pc.get("preemptionPolicy") != old.get("preemptionPolicy"):
            causes.append(
                _cause(
                    "preemptionPolicy",
                    f'Invalid value: "{pc.get("preemptionPolicy")}": field is immutable',
                    "FieldValueInvalid",
                )
            )
    if pc.get("globalDefault"):
        other = next(
            (
                c["metadata"]["name"]
                for c in api.list(PRIORITYCLASSES)
                if c.get("globalDefault") and c["metadata"]["name"] != name
            ),
            None,
        )
        if other:
            causes.append(
                _cause(
                    "globalDefault",
                    f"Forbidden: PriorityClass {other} is already marked as default. Only one "
                    "default can exist",
                )
            )
    if causes:
        raise invalid(PRIORITYCLASSES, name, causes)


def _go_role_ref(ref: dict[str, Any]) -> str:
    return (
        f'rbac.RoleRef{{APIGroup:"{ref.get("apiGroup", "")}", Kind:"{ref.get("kind", "")}", '
        f'Name:"{ref.get("name", "")}"}}'
    )


def admission(api: Api):  # type: ignore[no-untyped-def]
    def admit(resource: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        plural = resource.plural
        if plural == "pods" and old is None:
            _admit_pod(api, obj)
        elif plural == "priorityclasses":
            _admit_priority_class(api, obj, old)
        elif (
            plural in ("rolebindings", "clusterrolebindings")
            and old is not None
            and obj.get("roleRef") != old.get("roleRef")
        ):
            raise invalid(
                resource,
                obj["metadata"].get("name", ""),
                [
                    _cause(
                        "roleRef",
                        f"Invalid value: {_go_role_ref(obj.get('roleRef') or {})}: "
                        "cannot change roleRef",
                        "FieldValueInvalid",
                    )
                ],
            )
        if old is None and resource.namespaced:
            _check_quotas(api, resource, obj)

    return admit


# --- per-namespace objects --------------------------------------------------------------------


def _namespace_objects(api: Api, namespace: str, ca_pem: str) -> None:
    with api.lock:
        if api.find(NAMESPACES, "", namespace) is None:
            return
        if api.find(SERVICEACCOUNTS, namespace, "default") is None:
            api.create(
                SERVICEACCOUNTS,
                namespace,
                {"metadata": {"name": "default"}},
                manager="kube-controller-manager",
            )
        if api.find(CONFIGMAPS, namespace, ROOT_CA) is None:
            api.create(
                CONFIGMAPS,
                namespace,
                {
                    "metadata": {
                        "name": ROOT_CA,
                        "annotations": {"kubernetes.io/description": ROOT_CA_DESCRIPTION},
                    },
                    "data": {"ca.crt": ca_pem},
                },
                manager="kube-controller-manager",
            )


# --- the node ---------------------------------------------------------------------------------


def node(version: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": NODE_NAME,
            "labels": {
                "beta.kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": NODE_NAME,
                "kubernetes.io/os": "linux",
                "node-role.kubernetes.io/control-plane": "",
                "node.kubernetes.io/exclude-from-external-load-balancers": "",
            },
            "annotations": {
                "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": {
            "podCIDR": "10.244.0.0/24",
            "podCIDRs": ["10.244.0.0/24"],
            "providerID": f"sandbox://{NODE_NAME}",
        },
    }


def node_status(version: str) -> dict[str, Any]:
    stamp = now()
    capacity = {
        "cpu": "4",
        "ephemeral-storage": "102687672Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": "16318956Ki",
        "pods": "110",
    }
    allocatable = capacity | {"ephemeral-storage": "94636477411", "memory": "16216556Ki"}

    def condition(type_: str, status: str, reason: str, message: str) -> dict[str, Any]:
        return {
            "type": type_,
            "status": status,
            "lastHeartbeatTime": stamp,
            "lastTransitionTime": stamp,
            "reason": reason,
            "message": message,
        }

    machine = hashlib.sha256(NODE_NAME.encode()).hexdigest()[:32]
    return {
        "capacity": capacity,
        "allocatable": allocatable,
        "conditions": [
            condition(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            condition(
                "DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"
            ),
            condition(
                "PIDPressure",
                "False",
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
            condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        "addresses": [
            {"type": "InternalIP", "address": NODE_IP},
            {"type": "Hostname", "address": NODE_NAME},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": machine,
            "systemUUID": str(uuid.UUID(machine)),
            "bootID": hashlib.sha256(stamp.encode()).hexdigest()[:32],
            "kernelVersion": "6.1.0-28-amd64",
            "osImage": "Debian GNU/Linux 12 (bookworm)",
            "containerRuntimeVersion": "containerd://1.7.24",
            "kubeletVersion": version,
            "kubeProxyVersion": version,
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
    }


# --- kube-system ------------------------------------------------------------------------------

COREFILE = """.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
"""


def _static_pod(name: str, image: str, command: list[str], node_uid: str) -> dict[str, Any]:
    digest = hashlib.sha256(f"{name}{image}".encode()).hexdigest()[:32]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{name}-{NODE_NAME}",
            "labels": {"component": name, "tier": "control-plane"},
            "annotations": {
                "kubernetes.io/config.hash": digest,
                MIRROR: digest,
                "kubernetes.io/config.seen": now(),
                "kubernetes.io/config.source": "file",
            },
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "name": NODE_NAME,
                    "uid": node_uid,
                    "controller": True,
                }
            ],
        },
        "spec": {
            "containers": [
                {
                    "name": name,
                    "image": image,
                    "command": command,
                    "resources": {
                        "requests": {"cpu": "100m" if name != "kube-apiserver" else "250m"}
                    },
                }
            ],
            "hostNetwork": True,
            "nodeName": NODE_NAME,
            "priorityClassName": "system-node-critical",
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "tolerations": [{"effect": "NoExecute", "operator": "Exists"}],
        },
    }


def _kube_system(api: Api, tag: str, node_uid: str) -> list[str]:
    """Create kube-system's workloads; return the images they use (preloaded on the node)."""
    ns = "kube-system"
    manager = "kubeadm"
    images = {
        "coredns": "registry.k8s.io/coredns/coredns:v1.11.3",
        "kube-proxy": f"registry.k8s.io/kube-proxy:{tag}",
        "etcd": "registry.k8s.io/etcd:3.5.16-0",
        "kube-apiserver": f"registry.k8s.io/kube-apiserver:{tag}",
        "kube-controller-manager": f"registry.k8s.io/kube-controller-manager:{tag}",
        "kube-scheduler": f"registry.k8s.io/kube-scheduler:{tag}",
    }
    for account in ("coredns", "kube-proxy"):
        api.create(SERVICEACCOUNTS, ns, {"metadata": {"name": account}}, manager=manager)
    api.create(
        CONFIGMAPS,
        ns,
        {"metadata": {"name": "coredns"}, "data": {"Corefile": COREFILE}},
        manager=manager,
    )
    api.create(
        CONFIGMAPS,
        ns,
        {
            "metadata": {"name": "kube-proxy", "labels": {"app": "kube-proxy"}},
            "data": {
                "config.conf": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
                "kind: KubeProxyConfiguration\nclusterCIDR: 10.244.0.0/16\nmode: iptables\n"
            },
        },
        manager=manager,
    )
    api.create(
        SERVICES,
        ns,
        {
            "metadata": {
                "name": "kube-dns",
                "labels": {
                    "k8s-app": "kube-dns",
                    "kubernetes.io/cluster-service": "true",
                    "kubernetes.io/name": "CoreDNS",
                },
                "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"},
            },
            "spec": {
                "clusterIP": "10.96.0.10",
                "selector": {"k8s-app": "kube-dns"},
                "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                    {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
                ],
            },
        },
        manager=manager,
    )
    critical_tolerations = [
        {"key": "CriticalAddonsOnly", "operator": "Exists"},
        {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
    ]
    api.create(
        BY_PLURAL["deployments"],
        ns,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "coredns", "labels": {"k8s-app": "kube-dns"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1},
                },
                "template": {
                    "metadata": {"labels": {"k8s-app": "kube-dns"}},
                    "spec": {
                        "serviceAccountName": "coredns",
                        "priorityClassName": "system-cluster-critical",
                        "dnsPolicy": "Default",
                        "nodeSelector": {"kubernetes.io/os": "linux"},
                        "tolerations": critical_tolerations,
                        "containers": [
                            {
                                "name": "coredns",
                                "image": images["coredns"],
                                "args": ["-conf", "/etc/coredns/Corefile"],
                                "ports": [
                                    {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                    {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                                    {"name": "metrics", "containerPort": 9153, "protocol": "TCP"},
                                ],
                                "resources": {
                                    "limits": {"memory": "170Mi"},
                                    "requests": {"cpu": "100m", "memory": "70Mi"},
                                },
                                "volumeMounts": [
                                    {
                                        "name": "config-volume",
                                        "mountPath": "/etc/coredns",
                                        "readOnly": True,
                                    }
                                ],
                            }
                        ],
                        "volumes": [
                            {
                                "name": "config-volume",
                                "configMap": {
                                    "name": "coredns",
                                    "items": [{"key": "Corefile", "path": "Corefile"}],
                                },
                            }
                        ],
                    },
                },
            },
        },
        manager=manager,
    )
    api.create(
        BY_PLURAL["daemonsets"],
        ns,
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "kube-proxy", "labels": {"k8s-app": "kube-proxy"}},
            "spec": {
                "selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
                "template": {
                    "metadata": {"labels": {"k8s-app": "kube-proxy"}},
                    "spec": {
                        "serviceAccountName": "kube-proxy",
                        "priorityClassName": "system-node-critical",
                        "hostNetwork": True,
                        "nodeSelector": {"kubernetes.io/os": "linux"},
                        "tolerations": [{"operator": "Exists"}],
                        "containers": [
                            {
                                "name": "kube-proxy",
                                "image": images["kube-proxy"],
                                "command": [
                                    "/usr/local/bin/kube-proxy",
                                    "--config=/var/lib/kube-proxy/config.conf",
                                    "--hostname-override=$(NODE_NAME)",
                                ],
                                "env": [
                                    {
                                        "name": "NODE_NAME",
                                        "valueFrom": {
                                            "fieldRef": {
                                                "apiVersion": "v1",
                                                "fieldPath": "spec.nodeName",
                                            }
                                        },
                                    }
                                ],
                                "securityContext": {"privileged": True},
                                "volumeMounts": [
                                    {"name": "kube-proxy", "mountPath": "/var/lib/kube-proxy"}
                                ],
                            }
                        ],
                        "volumes": [{"name": "kube-proxy", "configMap": {"name": "kube-proxy"}}],
                    },
                },
            },
        },
        manager=manager,
    )
    commands = {
        "etcd": [
            "etcd",
            "--advertise-client-urls=https://10.0.0.10:2379",
            "--data-dir=/var/lib/etcd",
        ],
        "kube-apiserver": [
            "kube-apiserver",
            "--advertise-address=10.0.0.10",
            "--authorization-mode=Node,RBAC",
            "--service-cluster-ip-range=10.96.0.0/12",
        ],
        "kube-controller-manager": [
            "kube-controller-manager",
            "--cluster-cidr=10.244.0.0/16",
            "--controllers=*,bootstrapsigner,tokencleaner",
        ],
        "kube-scheduler": ["kube-scheduler", "--leader-elect=true"],
    }
    for name, command in commands.items():
        api.create(PODS, ns, _static_pod(name, images[name], command, node_uid), manager="kubelet")
    return list(images.values())


# --- installation -----------------------------------------------------------------------------


def install(api: Api, controllers: Controllers, ca_pem: bytes, version: str) -> None:
    """Create the furniture and register the admission plugins and controllers."""
    pem = ca_pem.decode()
    api.admission.append(admission(api))
    for name, (value, description) in SYSTEM_PRIORITIES.items():
        api.create(
            PRIORITYCLASSES,
            "",
            {
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": name},
                "value": value,
                "description": description,
            },
            manager="kube-apiserver",
        )
    auth.install(api, controllers)

    pending: set[str] = set()

    def sync_quotas(namespace: str) -> None:
        pending.discard(namespace)
        for quota in api.list(QUOTAS, namespace):
            api.put_status(QUOTAS, quota, quota_status(api, quota), "resourcequota-controller")

    def on_event(ev: WatchEvent) -> None:
        meta = ev.obj["metadata"]
        if ev.resource is NAMESPACES and ev.type == "ADDED":
            _namespace_objects(api, meta["name"], pem)  # synchronously: no window without them
            return
        namespace = meta.get("namespace")
        if not namespace or namespace in pending or not ev.resource.namespaced:
            return
        quotas = api.store.objects.get(QUOTAS.plural) or {}
        if ev.resource is QUOTAS or any(ns == namespace for ns, _ in quotas):
            pending.add(namespace)
            controllers.after(0, sync_quotas, namespace)

    api.store.listeners.append(on_event)
    for ns in api.list(NAMESPACES):
        _namespace_objects(api, ns["metadata"]["name"], pem)

    created = api.create(NODES, "", node(version), manager="kubelet")
    api.put_status(NODES, created, node_status(version), "kubelet")
    api.create(
        SERVICES,
        "default",
        {
            "metadata": {
                "name": "kubernetes",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "clusterIP": "10.96.0.1",
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
            },
        },
        manager="kube-apiserver",
    )
    tag = version.split("-")[0]
    controllers.preloaded.update(_kube_system(api, tag, created["metadata"]["uid"]))
