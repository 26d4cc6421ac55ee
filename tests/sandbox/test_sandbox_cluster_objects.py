"""Conformance: the cluster furniture (node, kube-system, service accounts, RBAC, access reviews,
ResourceQuota, PriorityClass), driven by kubectl 1.37/1.36 and the official Python client."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from sandbox.testing import RunningSandbox, wait_for

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def fails(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    return result.stderr


def pod(name: str, resources: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "web", "image": "nginx:1.27"}
    if resources is not None:
        container["resources"] = resources
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [container], **spec},
    }


def forbidden(exc: ApiException) -> str:
    body = json.loads(exc.body)
    assert exc.status == 403 and body["reason"] == "Forbidden", exc.body
    return body["message"]


# --- node ---------------------------------------------------------------------------------------


def test_node_is_ready_and_hosts_the_pods(kubectl: Kubectl) -> None:
    nodes = json.loads(ok(kubectl("get", "nodes", "-o", "json")))["items"]
    assert [n["metadata"]["name"] for n in nodes] == ["sandbox-node"]
    node = nodes[0]
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == "sandbox-node"
    assert labels["kubernetes.io/os"] == "linux"
    assert "node-role.kubernetes.io/control-plane" in labels
    conditions = {c["type"]: c for c in node["status"]["conditions"]}
    assert conditions["Ready"]["status"] == "True"
    assert conditions["Ready"]["reason"] == "KubeletReady"
    for pressure in ("MemoryPressure", "DiskPressure", "PIDPressure"):
        assert conditions[pressure]["status"] == "False"
    addresses = {a["type"]: a["address"] for a in node["status"]["addresses"]}
    assert addresses == {"InternalIP": "10.0.0.10", "Hostname": "sandbox-node"}
    info = node["status"]["nodeInfo"]
    server = json.loads(ok(kubectl("version", "-o", "json")))["serverVersion"]
    assert info["kubeletVersion"] == server["gitVersion"]
    assert (info["operatingSystem"], info["architecture"]) == ("linux", "amd64")
    assert info["containerRuntimeVersion"].startswith("containerd://")
    assert node["status"]["capacity"]["pods"] == "110"
    assert "generation" not in node["metadata"]
    # short name, -o wide and describe all work; the node's pods are the kube-system ones
    assert "sandbox-node" in ok(kubectl("get", "no", "-o", "wide"))
    described = ok(kubectl("describe", "node", "sandbox-node"))
    assert "KubeletReady" in described and "coredns-" in described
    pods = json.loads(ok(kubectl("get", "pods", "-A", "-o", "json")))["items"]
    assert {p["spec"].get("nodeName") for p in pods if p["status"].get("phase") == "Running"} == {
        "sandbox-node"
    }


# --- service accounts and root CA ---------------------------------------------------------------


def test_namespaces_get_default_service_account_and_root_ca(
    kubectl: Kubectl, namespace: str, sandbox: RunningSandbox
) -> None:
    for ns in (namespace, "default", "kube-system", "kube-public", "kube-node-lease"):
        ok(kubectl("get", "serviceaccount", "default", "-n", ns))
        cm = json.loads(ok(kubectl("get", "cm", "kube-root-ca.crt", "-n", ns, "-o", "json")))
        assert cm["data"]["ca.crt"] == sandbox.ca_file.read_text()
    ok(kubectl("run", "web", "-n", namespace, "--image=nginx:1.27"))
    spec = json.loads(ok(kubectl("get", "pod", "web", "-n", namespace, "-o", "json")))["spec"]
    assert spec["serviceAccountName"] == spec["serviceAccount"] == "default"
    assert (spec["priority"], spec["preemptionPolicy"]) == (0, "PreemptLowerPriority")
    # Like the ServiceAccount admission plugin: a missing account is refused.
    manifest = yaml.safe_dump(pod("robot", serviceAccountName="robot"))
    err = fails(kubectl("apply", "-n", namespace, "-f", "-", input=manifest))
    assert (
        f'pods "robot" is forbidden: error looking up service account {namespace}/robot: '
        'serviceaccount "robot" not found'
    ) in err
    ok(kubectl("create", "serviceaccount", "robot", "-n", namespace))
    ok(kubectl("apply", "-n", namespace, "-f", "-", input=manifest))


# --- kube-system --------------------------------------------------------------------------------


def test_kube_system_runs_dns_proxy_and_control_plane(api_client: client.ApiClient) -> None:
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    coredns = wait_for(
        lambda: (
            (d := apps.read_namespaced_deployment("coredns", "kube-system")).status.ready_replicas
            == 2
            and d
        )
    )
    assert coredns.spec.template.spec.priority_class_name == "system-cluster-critical"
    dns = core.read_namespaced_service("kube-dns", "kube-system")
    assert dns.spec.cluster_ip == "10.96.0.10"
    assert [(p.port, p.protocol) for p in dns.spec.ports] == [
        (53, "UDP"),
        (53, "TCP"),
        (9153, "TCP"),
    ]
    wait_for(
        lambda: (
            apps.read_namespaced_daemon_set("kube-proxy", "kube-system").status.number_ready == 1
        )
    )
    pods = {p.metadata.name: p for p in core.list_namespaced_pod("kube-system").items}
    for component in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        static = pods[f"{component}-sandbox-node"]
        assert static.metadata.owner_references[0].kind == "Node"
        assert static.spec.priority == 2000001000
        assert static.spec.host_network and static.spec.service_account_name is None
    dns_pods = [p for p in pods.values() if p.metadata.labels.get("k8s-app") == "kube-dns"]
    assert len(dns_pods) == 2 and all(p.spec.priority == 2000000000 for p in dns_pods)
    kubernetes = core.read_namespaced_service("kubernetes", "default")
    assert kubernetes.spec.cluster_ip == "10.96.0.1"
    assert [(p.name, p.port, p.target_port) for p in kubernetes.spec.ports] == [
        ("https", 443, 6443)
    ]


# --- RBAC ---------------------------------------------------------------------------------------

RBAC_MANIFEST = """\
apiVersion: v1
kind: ServiceAccount
metadata:
  name: deployer
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: pod-reader
rules:
- apiGroups: [""]
  resources: ["pods", "pods/log"]
  verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: deployer-reads-pods
subjects:
- kind: ServiceAccount
  name: deployer
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: pod-reader
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: %(ns)s:secret-reader
rules:
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: %(ns)s:secret-reader
subjects:
- kind: Group
  name: %(ns)s-auditors
  apiGroup: rbac.authorization.k8s.io
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: %(ns)s:secret-reader
"""


def test_rbac_manifest_applies_client_and_server_side(
    kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    path = tmp_path / "rbac.yaml"
    path.write_text(RBAC_MANIFEST % {"ns": namespace})
    out = ok(kubectl("apply", "-n", namespace, "-f", str(path)))
    assert f"clusterrole.rbac.authorization.k8s.io/{namespace}:secret-reader created" in out
    assert "rolebinding.rbac.authorization.k8s.io/deployer-reads-pods created" in out
    out = ok(kubectl("apply", "--server-side", "-n", namespace, "-f", str(path)))
    assert "role.rbac.authorization.k8s.io/pod-reader serverside-applied" in out
    role = json.loads(ok(kubectl("get", "role", "pod-reader", "-n", namespace, "-o", "json")))
    assert "generation" not in role["metadata"] and "status" not in role
    assert role["rules"][0]["resources"] == ["pods", "pods/log"]
    assert "deployer-reads-pods" in ok(kubectl("get", "rolebindings", "-n", namespace))
    # roleRef cannot change, as on a real server
    changed = (RBAC_MANIFEST % {"ns": namespace}).replace(
        "kind: Role\n  name: pod-reader", "kind: Role\n  name: other"
    )
    err = fails(kubectl("apply", "-n", namespace, "-f", "-", input=changed))
    assert "cannot change roleRef" in err
    names = ok(kubectl("get", "clusterroles", "-o", "name"))
    for default in ("cluster-admin", "admin", "edit", "view"):
        assert f"clusterrole.rbac.authorization.k8s.io/{default}\n" in names
    admins = json.loads(ok(kubectl("get", "clusterrolebinding", "cluster-admin", "-o", "json")))
    assert admins["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}
    ]
    ok(kubectl("delete", "-n", namespace, "-f", str(path)))


def test_auth_can_i_and_whoami(kubectl: Kubectl, namespace: str, tmp_path: Path) -> None:
    whoami = ok(kubectl("auth", "whoami"))
    assert "sandbox-admin" in whoami and "system:masters" in whoami
    assert "system:authenticated" in whoami
    assert ok(kubectl("auth", "can-i", "create", "deployments", "-n", namespace)).strip() == "yes"
    assert ok(kubectl("auth", "can-i", "*", "*")).strip() == "yes"
    listed = ok(kubectl("auth", "can-i", "--list", "-n", namespace))
    assert "*.*" in listed and "selfsubjectaccessreviews.authorization.k8s.io" in listed
    # Impersonation evaluates the stored RBAC objects.
    account = f"system:serviceaccount:{namespace}:deployer"
    as_sa = ("-n", namespace, f"--as={account}")
    denied = kubectl("auth", "can-i", "list", "pods", *as_sa)
    assert (denied.returncode, denied.stdout.strip()) == (1, "no")
    path = tmp_path / "rbac.yaml"
    path.write_text(RBAC_MANIFEST % {"ns": namespace})
    ok(kubectl("apply", "-n", namespace, "-f", str(path)))
    assert ok(kubectl("auth", "can-i", "list", "pods", *as_sa)).strip() == "yes"
    assert ok(kubectl("auth", "can-i", "get", "pods", "--subresource=log", *as_sa)).strip() == "yes"
    assert kubectl("auth", "can-i", "delete", "pods", *as_sa).stdout.strip() == "no"
    auditor = ("--as=jane", f"--as-group={namespace}-auditors")
    assert ok(kubectl("auth", "can-i", "get", "secrets", "-A", *auditor)).strip() == "yes"
    whoami = ok(kubectl("auth", "whoami", *auditor))
    assert "jane" in whoami and f"{namespace}-auditors" in whoami
    # the default "edit" ClusterRole (aggregated from system:aggregate-to-edit and view) works
    ok(
        kubectl(
            "create", "rolebinding", "editors", "--clusterrole=edit", "--user=bob", "-n", namespace
        )
    )
    as_bob = ("-n", namespace, "--as=bob")
    assert ok(kubectl("auth", "can-i", "create", "deployments.apps", *as_bob)).strip() == "yes"
    assert ok(kubectl("auth", "can-i", "watch", "jobs.batch", *as_bob)).strip() == "yes"
    assert (
        kubectl(
            "auth", "can-i", "create", "roles.rbac.authorization.k8s.io", *as_bob
        ).stdout.strip()
        == "no"
    )
    ok(kubectl("delete", "-n", namespace, "-f", str(path)))


def test_reviews_are_create_only_and_typed_clients_work(
    api_client: client.ApiClient, sandbox: RunningSandbox
) -> None:
    review = client.AuthorizationV1Api(api_client).create_self_subject_access_review(
        client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=client.V1ResourceAttributes(
                    namespace="default", verb="delete", resource="pods"
                )
            )
        )
    )
    assert review.status.allowed is True
    assert review.status.reason == (
        'RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" '
        'to Group "system:masters"'
    )
    me = client.AuthenticationV1Api(api_client).create_self_subject_review(
        client.V1SelfSubjectReview()
    )
    assert me.status.user_info.username == "sandbox-admin"
    assert me.status.user_info.groups == ["system:masters", "system:authenticated"]

    def healthz_for(**subject: Any) -> bool:
        spec = client.V1SubjectAccessReviewSpec(
            non_resource_attributes=client.V1NonResourceAttributes(path="/healthz", verb="get"),
            **subject,
        )
        authz = client.AuthorizationV1Api(api_client)
        review = authz.create_subject_access_review(client.V1SubjectAccessReview(spec=spec))
        return review.status.allowed

    # A SubjectAccessReview takes the groups as given: system:public-info-viewer is bound to
    # system:authenticated, which "nobody" alone is not in.
    assert healthz_for(user="nobody", groups=["system:authenticated"]) is True
    assert healthz_for(user="nobody") is False
    resources = client.AuthorizationV1Api(api_client).get_api_resources().resources
    assert {r.name: r.verbs for r in resources}["selfsubjectaccessreviews"] == ["create"]
    response = api_client.call_api(
        "GET",
        f"{api_client.configuration.host}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        header_params={"Authorization": f"Bearer {sandbox.token}"},
    )
    assert response.status == 405 and json.loads(response.read())["reason"] == "MethodNotAllowed"
    rbac = client.RbacAuthorizationV1Api(api_client)
    assert "view" in {r.metadata.name for r in rbac.list_cluster_role().items}


def test_aggregated_cluster_roles_pick_up_labelled_roles(api_client: client.ApiClient) -> None:
    rbac = client.RbacAuthorizationV1Api(api_client)
    name = "widgets-view-agg"
    rbac.create_cluster_role(
        client.V1ClusterRole(
            metadata=client.V1ObjectMeta(
                name=name, labels={"rbac.authorization.k8s.io/aggregate-to-view": "true"}
            ),
            rules=[
                client.V1PolicyRule(
                    api_groups=["example.com"], resources=["widgets"], verbs=["get"]
                )
            ],
        )
    )
    try:
        for aggregated in ("view", "edit", "admin"):
            wait_for(
                lambda role=aggregated: any(
                    r.resources == ["widgets"] for r in rbac.read_cluster_role(role).rules or []
                )
            )
    finally:
        rbac.delete_cluster_role(name)
    wait_for(
        lambda: not any(r.resources == ["widgets"] for r in rbac.read_cluster_role("view").rules)
    )


# --- ResourceQuota ------------------------------------------------------------------------------


def test_resource_quota_status_tracks_pods_and_enforces_limits(
    api_client: client.ApiClient, namespace: str, kubectl: Kubectl
) -> None:
    core = client.CoreV1Api(api_client)
    core.create_namespaced_resource_quota(
        namespace,
        {
            "metadata": {"name": "compute"},
            "spec": {
                "hard": {
                    "pods": "2",
                    "requests.cpu": "1",
                    "requests.memory": "1Gi",
                    "limits.memory": "1536Mi",
                    "count/configmaps": "10",
                }
            },
        },
    )
    status = wait_for(lambda: core.read_namespaced_resource_quota("compute", namespace).status)
    assert status.hard == {
        "pods": "2",
        "requests.cpu": "1",
        "requests.memory": "1Gi",
        "limits.memory": "1536Mi",
        "count/configmaps": "10",
    }
    assert status.used == {
        "pods": "0",
        "requests.cpu": "0",
        "requests.memory": "0",
        "limits.memory": "0",
        "count/configmaps": "1",  # kube-root-ca.crt
    }
    sized = {"requests": {"cpu": "300m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}
    core.create_namespaced_pod(namespace, pod("a", sized))
    core.create_namespaced_pod(namespace, pod("b", {"limits": {"cpu": "200m", "memory": "512Mi"}}))
    wait_for(
        lambda: (
            core.read_namespaced_resource_quota("compute", namespace).status.used
            == {
                "pods": "2",
                "requests.cpu": "500m",
                "requests.memory": "768Mi",  # b's requests default to its limits
                "limits.memory": "1Gi",
                "count/configmaps": "1",
            }
        )
    )
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod(namespace, pod("c"))
    assert forbidden(caught.value) == (
        'pods "c" is forbidden: failed quota: compute: must specify limits.memory for: web; '
        "requests.cpu for: web; requests.memory for: web"
    )
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod(namespace, pod("c", sized))
    assert forbidden(caught.value) == (
        'pods "c" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=2, '
        "limited: pods=2"
    )
    core.delete_namespaced_pod("b", namespace)
    wait_for(
        lambda: core.read_namespaced_resource_quota("compute", namespace).status.used["pods"] == "1"
    )
    big = {"requests": {"cpu": "800m", "memory": "100Mi"}, "limits": {"memory": "100Mi"}}
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod(namespace, pod("c", big))
    assert "requested: requests.cpu=800m, used: requests.cpu=300m, limited: requests.cpu=1" in (
        forbidden(caught.value)
    )
    listed = ok(kubectl("get", "quota", "-n", namespace))
    assert "compute" in listed
    described = ok(kubectl("describe", "resourcequota", "compute", "-n", namespace))
    assert "requests.cpu" in described and "300m" in described


# --- PriorityClass ------------------------------------------------------------------------------


def test_priority_classes(kubectl: Kubectl, namespace: str, api_client: client.ApiClient) -> None:
    names = ok(kubectl("get", "pc", "-o", "name"))
    assert "priorityclass.scheduling.k8s.io/system-cluster-critical" in names
    assert "priorityclass.scheduling.k8s.io/system-node-critical" in names
    name = f"{namespace}-high"
    manifest = (
        f"apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: {name}\n"
        "value: 1000\ndescription: important\n"
    )
    ok(kubectl("apply", "--server-side", "-f", "-", input=manifest))
    pc = json.loads(ok(kubectl("get", "priorityclass", name, "-o", "json")))
    assert (pc["value"], pc["preemptionPolicy"]) == (1000, "PreemptLowerPriority")
    assert "globalDefault" not in pc and "generation" not in pc["metadata"]
    err = fails(kubectl("apply", "--server-side", "-f", "-", input=manifest.replace("1000", "7")))
    assert "value: Forbidden: may not be changed in an update." in err
    err = fails(
        kubectl(
            "apply",
            "-f",
            "-",
            input=manifest.replace(name, f"system-{namespace}"),
        )
    )
    assert "priority class names with 'system-' prefix are reserved for system use only" in err
    core = client.CoreV1Api(api_client)
    created = core.create_namespaced_pod(namespace, pod("vip", priorityClassName=name))
    assert created.spec.priority == 1000
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod(namespace, pod("nobody", priorityClassName="missing"))
    assert forbidden(caught.value) == (
        'pods "nobody" is forbidden: no PriorityClass with name missing was found'
    )
    scheduling = client.SchedulingV1Api(api_client)
    assert scheduling.read_priority_class("system-node-critical").value == 2000001000
    scheduling.delete_priority_class(name)
