"""Conformance: Endpoints/EndpointSlices, PersistentVolumeClaims and ControllerRevisions."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from sandbox.testing import wait_for

Kubectl = Callable[..., subprocess.CompletedProcess[str]]

WEB = """\
apiVersion: v1
kind: Service
metadata:
  name: web
  labels: {tier: front}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: metrics, port: 9090, targetPort: 9100}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports: [{name: http, containerPort: 8080}]
"""

STATEFUL = """\
apiVersion: v1
kind: Service
metadata:
  name: db
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 5432}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 2
  revisionHistoryLimit: %(limit)d
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: postgres
        image: postgres:16
  volumeClaimTemplates:
  - metadata:
      name: data
      labels: {disk: fast}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
"""

DAEMON = """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      containers:
      - name: agent
        image: busybox:1.36
"""


def get_json(kubectl: Kubectl, namespace: str, *what: str) -> Any:
    result = kubectl("get", *what, "-n", namespace, "-o", "json", check=True)
    return json.loads(result.stdout)


def apply(kubectl: Kubectl, namespace: str, manifest: str) -> None:
    kubectl("apply", "--server-side", "-n", namespace, "-f", "-", input=manifest, check=True)


# --- Endpoints and EndpointSlices ---------------------------------------------------------


def test_endpoints_follow_ready_pods_and_named_target_ports(
    kubectl: Kubectl, namespace: str
) -> None:
    apply(kubectl, namespace, WEB)
    kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=30s", check=True)

    def endpoints() -> Any:
        ep = get_json(kubectl, namespace, "endpoints", "web")
        subsets = ep.get("subsets") or []
        return ep if subsets and len(subsets[0].get("addresses") or []) == 2 else None

    ep = wait_for(endpoints)
    assert ep["metadata"]["labels"] == {"tier": "front"}
    pods = get_json(kubectl, namespace, "pods", "-l", "app=web")["items"]
    by_ip = {p["status"]["podIP"]: p for p in pods}
    (subset,) = ep["subsets"]
    for address in subset["addresses"]:
        pod = by_ip[address["ip"]]
        assert address["nodeName"] == pod["spec"]["nodeName"] == "sandbox-node"
        assert address["targetRef"] == {
            "kind": "Pod",
            "namespace": namespace,
            "name": pod["metadata"]["name"],
            "uid": pod["metadata"]["uid"],
        }
    # targetPort "http" resolves to the container port's number; 9100 stays as given.
    assert sorted((p["name"], p["port"]) for p in subset["ports"]) == [
        ("http", 8080),
        ("metrics", 9100),
    ]

    (eps,) = get_json(kubectl, namespace, "endpointslices", "-l", "kubernetes.io/service-name=web")[
        "items"
    ]
    assert eps["addressType"] == "IPv4"
    assert eps["metadata"]["name"].startswith("web-")
    assert eps["metadata"]["generateName"] == "web-"
    assert eps["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == (
        "endpointslice-controller.k8s.io"
    )
    (owner,) = eps["metadata"]["ownerReferences"]
    service = get_json(kubectl, namespace, "service", "web")
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "Service",
        "web",
        service["metadata"]["uid"],
        True,
    )
    assert sorted(e["addresses"][0] for e in eps["endpoints"]) == sorted(by_ip)
    assert all(
        e["conditions"] == {"ready": True, "serving": True, "terminating": False}
        for e in eps["endpoints"]
    )

    # A pod that never becomes ready is listed as not ready.
    kubectl("set", "env", "deployment/web", "-n", namespace, "SANDBOX_NEVER_READY=1", check=True)

    def not_ready_listed() -> bool:
        subsets = get_json(kubectl, namespace, "endpoints", "web").get("subsets") or []
        return any(s.get("notReadyAddresses") for s in subsets)

    wait_for(not_ready_listed)
    eps = get_json(kubectl, namespace, "endpointslices", "-l", "kubernetes.io/service-name=web")
    conditions = [e["conditions"]["ready"] for s in eps["items"] for e in s["endpoints"]]
    assert False in conditions and True in conditions

    # Deleting the Service removes its Endpoints and (through GC) its slices.
    kubectl("delete", "service", "web", "-n", namespace, check=True)
    wait_for(lambda: "NotFound" in kubectl("get", "endpoints", "web", "-n", namespace).stderr)
    slices = get_json(kubectl, namespace, "endpointslices")["items"]
    assert slices == []


def test_endpoints_with_python_client_and_selectorless_services(
    api_client: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(api_client)
    discovery = client.DiscoveryV1Api(api_client)
    for name, selector in (("backend", {"app": "backend"}), ("external", None)):
        core.create_namespaced_service(
            namespace,
            {
                "metadata": {"name": name},
                "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": 8080}]},
            },
        )
    # No pods yet: an Endpoints object without subsets and a placeholder slice.
    ep = wait_for(lambda: _find(core.read_namespaced_endpoints, "backend", namespace))
    assert not ep.subsets
    core.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "backend-1", "labels": {"app": "backend"}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
        },
    )

    def ready_address() -> Any:
        ep = core.read_namespaced_endpoints("backend", namespace)
        return ep.subsets and ep.subsets[0].addresses and ep.subsets[0]

    subset = wait_for(ready_address)
    pod = core.read_namespaced_pod("backend-1", namespace)
    assert subset.addresses[0].ip == pod.status.pod_ip
    assert subset.addresses[0].target_ref.name == "backend-1"
    assert [(p.port, p.protocol) for p in subset.ports] == [(8080, "TCP")]
    slices = discovery.list_namespaced_endpoint_slice(
        namespace, label_selector="kubernetes.io/service-name=backend"
    ).items
    assert len(slices) == 1
    assert slices[0].endpoints[0].conditions.ready is True
    assert slices[0].endpoints[0].target_ref.uid == pod.metadata.uid
    assert slices[0].ports[0].port == 8080

    # Deleting the pod empties them again.
    core.delete_namespaced_pod("backend-1", namespace)
    wait_for(lambda: not core.read_namespaced_endpoints("backend", namespace).subsets)
    wait_for(lambda: not discovery.list_namespaced_endpoint_slice(namespace).items[0].endpoints)
    slices = discovery.list_namespaced_endpoint_slice(namespace).items
    assert [s.metadata.labels["kubernetes.io/service-name"] for s in slices] == ["backend"]

    # A Service without selector gets neither Endpoints nor slices from the controllers.
    with pytest.raises(ApiException) as info:
        core.read_namespaced_endpoints("external", namespace)
    assert info.value.status == 404


def _find(read: Callable[..., Any], name: str, namespace: str) -> Any:
    try:
        return read(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


# --- PersistentVolumeClaims ------------------------------------------------------------------


def test_statefulset_claims_bind_to_provisioned_volumes(kubectl: Kubectl, namespace: str) -> None:
    apply(kubectl, namespace, STATEFUL % {"limit": 10})
    kubectl("rollout", "status", "statefulset/db", "-n", namespace, "--timeout=30s", check=True)

    claims = get_json(kubectl, namespace, "pvc")["items"]
    assert [c["metadata"]["name"] for c in claims] == ["data-db-0", "data-db-1"]
    for claim in claims:
        assert claim["metadata"]["labels"] == {"disk": "fast", "app": "db"}
        assert "ownerReferences" not in claim["metadata"]  # Retain: outlives pod and sts
        assert claim["spec"]["storageClassName"] == "standard"
        assert claim["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
        assert claim["status"] == {
            "phase": "Bound",
            "accessModes": ["ReadWriteOnce"],
            "capacity": {"storage": "1Gi"},
        }
        volume = json.loads(
            kubectl("get", "pv", claim["spec"]["volumeName"], "-o", "json", check=True).stdout
        )
        assert volume["status"]["phase"] == "Bound"
        assert volume["spec"]["claimRef"]["uid"] == claim["metadata"]["uid"]
        assert volume["spec"]["storageClassName"] == "standard"
        assert volume["spec"]["capacity"] == {"storage": "1Gi"}

    pod = get_json(kubectl, namespace, "pod", "db-0")
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}} in pod["spec"][
        "volumes"
    ]
    assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == ("db-0", "db")
    sts = get_json(kubectl, namespace, "statefulset", "db")
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }

    sc = json.loads(kubectl("get", "sc", "standard", "-o", "json", check=True).stdout)
    assert sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"

    # The claims (and their volumes) stay when the StatefulSet goes.
    kubectl("delete", "statefulset", "db", "-n", namespace, check=True)
    wait_for(lambda: not get_json(kubectl, namespace, "pods")["items"])
    assert len(get_json(kubectl, namespace, "pvc")["items"]) == 2

    # Deleting a claim deletes its provisioned volume (reclaimPolicy Delete).
    name = claims[0]["spec"]["volumeName"]
    kubectl("delete", "pvc", "data-db-0", "-n", namespace, check=True)
    wait_for(lambda: "NotFound" in kubectl("get", "pv", name).stderr)


def test_pod_waits_for_its_claim(api_client: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api_client)
    storage = client.StorageV1Api(api_client)
    assert "standard" in [sc.metadata.name for sc in storage.list_storage_class().items]
    core.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "user"},
            "spec": {
                "containers": [{"name": "app", "image": "nginx:1.27"}],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "later"}}],
            },
        },
    )

    def unschedulable() -> Any:
        pod = core.read_namespaced_pod("user", namespace)
        cond = [c for c in pod.status.conditions or [] if c.type == "PodScheduled"]
        return cond and cond[0].status == "False" and cond[0]

    cond = wait_for(unschedulable)
    assert cond.reason == "Unschedulable"
    assert 'persistentvolumeclaim "later" not found' in cond.message
    assert core.read_namespaced_pod("user", namespace).status.phase == "Pending"

    # A user-made volume that fits is bound statically; the pod then starts.
    core.create_persistent_volume(
        {
            "metadata": {"name": f"{namespace}-manual"},
            "spec": {
                "capacity": {"storage": "2Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "manual",
                "hostPath": {"path": "/srv/manual"},
            },
        }
    )
    wait_for(lambda: core.read_persistent_volume(f"{namespace}-manual").status.phase == "Available")
    core.create_namespaced_persistent_volume_claim(
        namespace,
        {
            "metadata": {"name": "later"},
            "spec": {
                "storageClassName": "manual",
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )
    claim = wait_for(
        lambda: (
            (c := core.read_namespaced_persistent_volume_claim("later", namespace))
            and c.status.phase == "Bound"
            and c
        )
    )
    assert claim.spec.volume_name == f"{namespace}-manual"
    assert claim.status.capacity == {"storage": "2Gi"}
    wait_for(lambda: core.read_namespaced_pod("user", namespace).status.phase == "Running")

    # Retain: the volume is Released, not deleted, when the claim goes.
    core.delete_namespaced_pod("user", namespace)
    core.delete_namespaced_persistent_volume_claim("later", namespace)
    wait_for(lambda: core.read_persistent_volume(f"{namespace}-manual").status.phase == "Released")
    core.delete_persistent_volume(f"{namespace}-manual")


# --- ControllerRevisions ---------------------------------------------------------------------


def test_statefulset_rollout_history_and_undo(kubectl: Kubectl, namespace: str) -> None:
    apply(kubectl, namespace, STATEFUL % {"limit": 2})
    rollout = ("rollout", "status", "statefulset/db", "-n", namespace, "--timeout=30s")
    kubectl(*rollout, check=True)
    for image in ("postgres:17", "postgres:18"):
        kubectl("set", "image", "statefulset/db", f"postgres={image}", "-n", namespace, check=True)
        kubectl(*rollout, check=True)

    revisions = get_json(kubectl, namespace, "controllerrevisions")["items"]
    # Three templates, but revisionHistoryLimit 2 keeps only two unused ones besides the live.
    assert sorted(r["revision"] for r in revisions) == [1, 2, 3]
    sts = get_json(kubectl, namespace, "statefulset", "db")
    newest = max(revisions, key=lambda r: r["revision"])
    assert sts["status"]["updateRevision"] == sts["status"]["currentRevision"]
    assert sts["status"]["updateRevision"] == newest["metadata"]["name"]
    assert sts["status"]["collisionCount"] == 0
    assert newest["metadata"]["labels"]["app"] == "db"
    assert newest["metadata"]["ownerReferences"][0]["uid"] == sts["metadata"]["uid"]
    pod_hashes = {
        p["metadata"]["labels"]["controller-revision-hash"]
        for p in get_json(kubectl, namespace, "pods")["items"]
    }
    assert pod_hashes == {newest["metadata"]["name"]}

    history = kubectl("rollout", "history", "statefulset/db", "-n", namespace, check=True).stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == [
        "1",
        "2",
        "3",
    ]
    detail = kubectl(
        "rollout", "history", "statefulset/db", "-n", namespace, "--revision=1", check=True
    ).stdout
    assert "postgres:16" in detail

    out = kubectl("rollout", "undo", "statefulset/db", "-n", namespace, check=True).stdout
    assert "rolled back" in out
    kubectl(*rollout, check=True)
    image = get_json(kubectl, namespace, "statefulset", "db")["spec"]["template"]["spec"][
        "containers"
    ][0]["image"]
    assert image == "postgres:17"
    # Revision 2 became revision 4; the oldest unused one is pruned (limit 2).
    revisions = get_json(kubectl, namespace, "controllerrevisions")["items"]
    assert sorted(r["revision"] for r in revisions) == [1, 3, 4]
    out = kubectl(
        "rollout", "undo", "statefulset/db", "-n", namespace, "--to-revision=4", check=True
    ).stdout
    assert "skipped rollback (current template already matches revision 4)" in out
    kubectl("rollout", "undo", "statefulset/db", "-n", namespace, "--to-revision=1", check=True)
    kubectl(*rollout, check=True)
    pods = get_json(kubectl, namespace, "pods")["items"]
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"postgres:16"}

    # Revisions go with their StatefulSet.
    kubectl("delete", "statefulset", "db", "-n", namespace, check=True)
    assert get_json(kubectl, namespace, "controllerrevisions")["items"] == []


def test_daemonset_rollout_history_and_undo(kubectl: Kubectl, namespace: str) -> None:
    apply(kubectl, namespace, DAEMON)
    rollout = ("rollout", "status", "daemonset/agent", "-n", namespace, "--timeout=30s")
    kubectl(*rollout, check=True)
    kubectl(
        "annotate",
        "daemonset/agent",
        "-n",
        namespace,
        "kubernetes.io/change-cause=bump",
        check=True,
    )
    kubectl("set", "image", "daemonset/agent", "agent=busybox:1.37", "-n", namespace, check=True)
    kubectl(*rollout, check=True)

    history = kubectl("rollout", "history", "daemonset/agent", "-n", namespace, check=True).stdout
    lines = [line.split() for line in history.splitlines()[1:] if line.strip()]
    assert lines[0] == ["REVISION", "CHANGE-CAUSE"]
    assert lines[1:] == [["1", "<none>"], ["2", "bump"]]
    detail = kubectl(
        "rollout", "history", "daemonset/agent", "-n", namespace, "--revision=2", check=True
    ).stdout
    assert "busybox:1.37" in detail

    revisions = get_json(kubectl, namespace, "controllerrevisions")["items"]
    pod = get_json(kubectl, namespace, "pods")["items"][0]
    current = next(r for r in revisions if r["revision"] == 2)
    pod_hash = pod["metadata"]["labels"]["controller-revision-hash"]
    assert current["metadata"]["name"] == f"agent-{pod_hash}"
    assert current["metadata"]["labels"]["controller-revision-hash"] == pod_hash

    kubectl("rollout", "undo", "daemonset/agent", "-n", namespace, check=True)
    kubectl(*rollout, check=True)
    wait_for(
        lambda: (
            {
                p["spec"]["containers"][0]["image"]
                for p in get_json(kubectl, namespace, "pods")["items"]
            }
            == {"busybox:1.36"}
        )
    )
    history = kubectl("rollout", "history", "daemonset/agent", "-n", namespace, check=True).stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["2", "3"]


def test_new_kinds_in_discovery_and_typed_clients(
    api_client: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(api_client)
    apps = client.AppsV1Api(api_client)
    resources = {r.name: r for r in core.get_api_resources().resources if "/" not in r.name}
    assert resources["endpoints"].short_names == ["ep"]
    assert resources["persistentvolumes"].namespaced is False
    assert resources["persistentvolumeclaims"].short_names == ["pvc"]
    storage = client.StorageV1Api(api_client).get_api_resources().resources
    assert [(r.name, r.short_names, r.namespaced) for r in storage] == [
        ("storageclasses", ["sc"], False)
    ]
    assert [r.name for r in client.DiscoveryV1Api(api_client).get_api_resources().resources] == [
        "endpointslices"
    ]
    assert "controllerrevisions" in [r.name for r in apps.get_api_resources().resources]
    assert apps.list_namespaced_controller_revision(namespace).items == []
    assert core.list_persistent_volume_claim_for_all_namespaces() is not None


def test_deployment_history_still_comes_from_replicasets(kubectl: Kubectl, namespace: str) -> None:
    apply(kubectl, namespace, WEB)
    rollout = ("rollout", "status", "deployment/web", "-n", namespace, "--timeout=30s")
    kubectl(*rollout, check=True)
    kubectl("set", "image", "deployment/web", "nginx=nginx:1.28", "-n", namespace, check=True)
    kubectl(*rollout, check=True)
    history = kubectl("rollout", "history", "deployment/web", "-n", namespace, check=True).stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
    kubectl("rollout", "undo", "deployment/web", "-n", namespace, check=True)
    kubectl(*rollout, check=True)
    history = kubectl("rollout", "history", "deployment/web", "-n", namespace, check=True).stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["2", "3"]
    # Deployments keep their history in ReplicaSets, not ControllerRevisions.
    assert get_json(kubectl, namespace, "controllerrevisions")["items"] == []
