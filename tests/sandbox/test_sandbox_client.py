"""Conformance: drive the sandbox with the official kubernetes Python client."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import pytest
from kubernetes import client, dynamic, watch
from kubernetes.client.exceptions import ApiException

from sandbox.testing import RunningSandbox, running_sandbox, wait_for


def deployment(
    name: str, image: str = "nginx:1.27", replicas: int = 1, env: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "web", "image": image, "ports": [{"containerPort": 80}]}
    if env:
        container["env"] = env
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container]},
            },
        },
    }


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def status_of(exc: ApiException) -> dict[str, Any]:
    body = json.loads(exc.body)
    assert body["kind"] == "Status" and body["status"] == "Failure"
    assert body["code"] == exc.status
    assert "reason" in body and "details" in body and "message" in body
    return body


@pytest.fixture
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture
def apps(api_client: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api_client)


def test_typed_create_get_list_with_selectors_and_pages(
    core: client.CoreV1Api, namespace: str
) -> None:
    for i in range(5):
        body = configmap(f"cm{i}", index=str(i))
        body["metadata"]["labels"] = {"parity": "even" if i % 2 == 0 else "odd", "tier": "x"}
        created = core.create_namespaced_config_map(namespace, body)
        assert created.metadata.uid and created.metadata.resource_version
        assert created.metadata.creation_timestamp is not None
    assert core.read_namespaced_config_map("cm3", namespace).data == {"index": "3"}
    even = core.list_namespaced_config_map(namespace, label_selector="parity=even")
    assert [c.metadata.name for c in even.items] == ["cm0", "cm2", "cm4"]
    odd = core.list_namespaced_config_map(namespace, label_selector="parity in (odd),tier")
    assert [c.metadata.name for c in odd.items] == ["cm1", "cm3"]
    assert [
        c.metadata.name
        for c in core.list_namespaced_config_map(namespace, label_selector="parity!=even").items
    ] == ["cm1", "cm3", "kube-root-ca.crt"]  # every namespace has the root CA ConfigMap
    named = core.list_config_map_for_all_namespaces(
        field_selector=f"metadata.name=cm2,metadata.namespace={namespace}"
    )
    assert [c.metadata.name for c in named.items] == ["cm2"]
    page = core.list_namespaced_config_map(namespace, limit=2)
    names = [c.metadata.name for c in page.items]
    while page.metadata._continue:
        page = core.list_namespaced_config_map(
            namespace, limit=2, _continue=page.metadata._continue
        )
        names += [c.metadata.name for c in page.items]
    assert names == [f"cm{i}" for i in range(5)] + ["kube-root-ca.crt"]
    core.delete_collection_namespaced_config_map(namespace, label_selector="parity=odd")
    left = core.list_namespaced_config_map(namespace).items
    assert [c.metadata.name for c in left] == ["cm0", "cm2", "cm4", "kube-root-ca.crt"]


def test_update_conflicts_on_stale_resource_version(core: client.CoreV1Api, namespace: str) -> None:
    first = core.create_namespaced_config_map(namespace, configmap("cfg", a="1"))
    first.data = {"a": "2"}
    second = core.replace_namespaced_config_map("cfg", namespace, first)
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)
    first.data = {"a": "3"}
    with pytest.raises(ApiException) as info:
        core.replace_namespaced_config_map("cfg", namespace, first)
    body = status_of(info.value)
    assert info.value.status == 409 and body["reason"] == "Conflict"
    assert "the object has been modified" in body["message"]


def test_generation_changes_only_with_spec_and_status_subresource(
    apps: client.AppsV1Api, namespace: str
) -> None:
    created = apps.create_namespaced_deployment(namespace, deployment("gen"))
    assert created.metadata.generation == 1
    labelled = apps.patch_namespaced_deployment(
        "gen", namespace, {"metadata": {"labels": {"extra": "yes"}}}
    )
    assert labelled.metadata.generation == 1
    patched = apps.patch_namespaced_deployment("gen", namespace, {"spec": {"replicas": 3}})
    assert patched.metadata.generation == 2
    # Writes to the main resource ignore status ...
    ignored = apps.patch_namespaced_deployment(
        "gen", namespace, {"status": {"replicas": 42}, "spec": {"paused": True}}
    )
    assert not ignored.status or ignored.status.replicas != 42
    # ... and writes to /status ignore spec.
    st = apps.patch_namespaced_deployment_status(
        "gen", namespace, {"spec": {"replicas": 9}, "status": {"observedGeneration": 77}}
    )
    assert st.spec.replicas == 3 and st.status.observed_generation == 77
    assert st.metadata.generation == 3


def test_patch_types(
    core: client.CoreV1Api,
    apps: client.AppsV1Api,
    api_client: client.ApiClient,
    sandbox: RunningSandbox,
    namespace: str,
) -> None:
    body = deployment("patchy", env=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    body["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "busybox:1"})
    apps.create_namespaced_deployment(namespace, body)
    # Strategic merge: containers and env are merged by name.
    patched = apps.patch_namespaced_deployment(
        "patchy",
        namespace,
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": "nginx:1.28",
                                "env": [{"name": "B", "value": "3"}],
                            }
                        ]
                    }
                }
            }
        },
    )
    containers = {c.name: c for c in patched.spec.template.spec.containers}
    assert set(containers) == {"web", "side"}
    assert containers["web"].image == "nginx:1.28"
    assert {e.name: e.value for e in containers["web"].env} == {"A": "1", "B": "3"}
    # JSON patch.
    core.create_namespaced_config_map(namespace, configmap("jp", a="1"))
    result = core.patch_namespaced_config_map(
        "jp",
        namespace,
        [{"op": "add", "path": "/data/b", "value": "2"}, {"op": "remove", "path": "/data/a"}],
    )
    assert result.data == {"b": "2"}
    # JSON merge patch (a list is replaced, not merged).
    raw = api_client.call_api(
        "PATCH",
        f"{api_client.configuration.host}/apis/apps/v1/namespaces/{namespace}/deployments/patchy",
        header_params={
            "Content-Type": "application/merge-patch+json",
            "Accept": "application/json",
            "Authorization": f"Bearer {sandbox.token}",
        },
        body={
            "spec": {"template": {"spec": {"containers": [{"name": "only", "image": "busybox:2"}]}}}
        },
    )
    raw.read()
    assert raw.status == 200
    merged = apps.read_namespaced_deployment("patchy", namespace)
    assert [c.name for c in merged.spec.template.spec.containers] == ["only"]


def test_server_side_apply_ownership(api_client: client.ApiClient, namespace: str) -> None:
    dyn = dynamic.DynamicClient(api_client)
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    applied = cms.server_side_apply(
        body=configmap("owned", a="1", b="2"), namespace=namespace, field_manager="alice"
    )
    assert applied.to_dict()["data"] == {"a": "1", "b": "2"}
    managers = {m.manager: m for m in applied.metadata.managedFields}
    assert managers["alice"].operation == "Apply"
    # Another manager setting a field alice owns to another value conflicts ...
    with pytest.raises(ApiException) as info:
        cms.server_side_apply(
            body=configmap("owned", a="9"), namespace=namespace, field_manager="bob"
        )
    body = status_of(info.value)
    assert info.value.status == 409 and body["reason"] == "Conflict"
    assert body["details"]["causes"][0]["field"] == ".data.a"
    # ... unless forced; then bob owns it.
    forced = cms.server_side_apply(
        body=configmap("owned", a="9"),
        namespace=namespace,
        field_manager="bob",
        force_conflicts=True,
    )
    assert forced.to_dict()["data"] == {"a": "9", "b": "2"}
    # Fields alice stops applying and that she alone owns are removed.
    dropped = cms.server_side_apply(
        body=configmap("owned"), namespace=namespace, field_manager="alice"
    )
    assert dropped.to_dict()["data"] == {"a": "9"}
    # Same value from two managers: shared ownership, no conflict.
    shared = cms.server_side_apply(
        body=configmap("owned", a="9"), namespace=namespace, field_manager="carol"
    )
    assert {m.manager for m in shared.metadata.managedFields} >= {"bob", "carol"}


def test_dynamic_client_and_discovery(api_client: client.ApiClient, namespace: str) -> None:
    dyn = dynamic.DynamicClient(api_client)
    for api_version, kind in [
        ("v1", "Pod"),
        ("apps/v1", "StatefulSet"),
        ("batch/v1", "CronJob"),
        ("networking.k8s.io/v1", "Ingress"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("policy/v1", "PodDisruptionBudget"),
        ("v1", "ServiceAccount"),
    ]:
        assert dyn.resources.get(api_version=api_version, kind=kind).kind == kind
    deploys = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    deploys.create(body=deployment("dyn"), namespace=namespace)
    got = deploys.get(name="dyn", namespace=namespace)
    assert got.spec.replicas == 1 and got.spec.strategy.type == "RollingUpdate"
    assert [i.metadata.name for i in deploys.get(namespace=namespace).items] == ["dyn"]


def test_watch_sees_added_modified_deleted(core: client.CoreV1Api, namespace: str) -> None:
    start = core.list_namespaced_config_map(namespace).metadata.resource_version

    def writer() -> None:
        time.sleep(0.2)
        core.create_namespaced_config_map(namespace, configmap("watched", a="1"))
        core.patch_namespaced_config_map("watched", namespace, {"data": {"a": "2"}})
        core.delete_namespaced_config_map("watched", namespace)

    thread = threading.Thread(target=writer)
    thread.start()
    seen = []
    w = watch.Watch()
    for event in w.stream(
        core.list_namespaced_config_map, namespace, resource_version=start, timeout_seconds=5
    ):
        seen.append((event["type"], event["object"].metadata.name))
        if event["type"] == "DELETED":
            w.stop()
    thread.join()
    assert seen == [("ADDED", "watched"), ("MODIFIED", "watched"), ("DELETED", "watched")]
    # timeoutSeconds ends an idle watch.
    started = time.monotonic()
    assert (
        list(
            watch.Watch().stream(
                core.list_namespaced_config_map,
                namespace,
                resource_version=core.list_namespaced_config_map(
                    namespace
                ).metadata.resource_version,
                timeout_seconds=1,
            )
        )
        == []
    )
    assert time.monotonic() - started < 3


def test_dry_run_on_every_write_verb(
    core: client.CoreV1Api, api_client: client.ApiClient, namespace: str
) -> None:
    created = core.create_namespaced_config_map(namespace, configmap("dry", a="1"), dry_run="All")
    assert created.data == {"a": "1"}
    with pytest.raises(ApiException) as info:
        core.read_namespaced_config_map("dry", namespace)
    assert info.value.status == 404
    real = core.create_namespaced_config_map(namespace, configmap("dry", a="1"))
    real.data = {"a": "2"}
    assert core.replace_namespaced_config_map("dry", namespace, real, dry_run="All").data == {
        "a": "2"
    }
    assert core.patch_namespaced_config_map(
        "dry", namespace, {"data": {"a": "3"}}, dry_run="All"
    ).data == {"a": "3"}
    cms = dynamic.DynamicClient(api_client).resources.get(api_version="v1", kind="ConfigMap")
    assert cms.server_side_apply(
        body=configmap("dry", a="4"),
        namespace=namespace,
        field_manager="x",
        dry_run="All",
        force_conflicts=True,
    ).to_dict()["data"] == {"a": "4"}
    core.delete_namespaced_config_map("dry", namespace, dry_run="All")
    assert core.read_namespaced_config_map("dry", namespace).data == {"a": "1"}


def test_garbage_collection_and_orphans(
    apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str
) -> None:
    apps.create_namespaced_deployment(namespace, deployment("gc", replicas=2))
    wait_for(lambda: len(core.list_namespaced_pod(namespace).items) == 2)
    apps.delete_namespaced_deployment("gc", namespace, propagation_policy="Orphan")
    rs = apps.list_namespaced_replica_set(namespace).items
    assert len(rs) == 1 and not rs[0].metadata.owner_references  # orphaned, not deleted
    apps.delete_namespaced_replica_set(
        rs[0].metadata.name, namespace, propagation_policy="Foreground"
    )
    assert core.list_namespaced_pod(namespace).items == []
    apps.create_namespaced_deployment(namespace, deployment("gc2", replicas=1))
    wait_for(lambda: len(core.list_namespaced_pod(namespace).items) == 1)
    apps.delete_namespaced_deployment("gc2", namespace)  # background by default
    assert apps.list_namespaced_replica_set(namespace).items == []
    assert core.list_namespaced_pod(namespace).items == []


def test_pod_status_looks_like_a_kubelets(
    apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str
) -> None:
    apps.create_namespaced_deployment(namespace, deployment("kubelet"))
    pod = wait_for(
        lambda: next(
            (
                p
                for p in core.list_namespaced_pod(namespace).items
                if p.status.container_statuses and p.status.container_statuses[0].ready
            ),
            None,
        )
    )
    conditions = {c.type: c.status for c in pod.status.conditions}
    for kind in ("Ready", "ContainersReady", "PodScheduled", "Initialized"):
        assert conditions[kind] == "True"
    assert pod.status.phase == "Running" and pod.spec.node_name == "sandbox-node"
    assert pod.status.container_statuses[0].state.running.started_at is not None
    assert pod.status.pod_ip


def test_missing_config_reference_is_create_container_config_error(
    apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str
) -> None:
    body = deployment("cfgerr")
    body["spec"]["template"]["spec"]["containers"][0]["envFrom"] = [
        {"secretRef": {"name": "absent"}}
    ]
    apps.create_namespaced_deployment(namespace, body)
    waiting = wait_for(
        lambda: next(
            (
                s.state.waiting
                for p in core.list_namespaced_pod(namespace).items
                for s in p.status.container_statuses or []
                if s.state.waiting and s.state.waiting.reason == "CreateContainerConfigError"
            ),
            None,
        )
    )
    assert waiting.message == 'secret "absent" not found'


# --- error paths --------------------------------------------------------------------------


def test_not_found_errors(
    core: client.CoreV1Api, api_client: client.ApiClient, sandbox: RunningSandbox, namespace: str
) -> None:
    with pytest.raises(ApiException) as info:
        core.read_namespaced_secret("missing", namespace)
    body = status_of(info.value)
    assert body["reason"] == "NotFound" and body["details"] == {
        "name": "missing",
        "group": "",
        "kind": "secrets",
    }
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map("no-such-namespace", configmap("x"))
    body = status_of(info.value)
    assert info.value.status == 404 and body["message"] == (
        'namespaces "no-such-namespace" not found'
    )
    response = api_client.call_api(
        "GET",
        f"{api_client.configuration.host}/apis/apps/v1/namespaces/{namespace}/widgets",
        header_params={"Authorization": f"Bearer {sandbox.token}"},
    )
    data = json.loads(response.read())
    assert response.status == 404 and data["kind"] == "Status" and data["reason"] == "NotFound"


def test_invalid_objects_get_422(
    apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str
) -> None:
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map(namespace, configmap("Not_A_Name"))
    body = status_of(info.value)
    assert info.value.status == 422 and body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    assert "RFC 1123" in body["message"]
    bad = deployment("bad")
    bad["spec"]["replicas"] = "three"  # the typed client would refuse to send this
    deployments = dynamic.DynamicClient(apps.api_client).resources.get(
        api_version="apps/v1", kind="Deployment"
    )
    with pytest.raises(ApiException) as info:
        deployments.create(body=bad, namespace=namespace)
    body = status_of(info.value)
    assert info.value.status == 422 and body["details"]["causes"][0]["field"] == "spec.replicas"
    assert body["details"]["kind"] == "Deployment" and body["details"]["group"] == "apps"
    mismatched = deployment("mismatch")
    mismatched["spec"]["selector"]["matchLabels"] = {"app": "other"}
    with pytest.raises(ApiException) as info:
        apps.create_namespaced_deployment(namespace, mismatched)
    assert "`selector` does not match template `labels`" in status_of(info.value)["message"]
    no_image = deployment("noimage")
    del no_image["spec"]["template"]["spec"]["containers"][0]["image"]
    with pytest.raises(ApiException) as info:
        apps.create_namespaced_deployment(namespace, no_image)
    causes = status_of(info.value)["details"]["causes"]
    assert causes[0]["field"] == "spec.template.spec.containers[0].image"


def test_already_exists_and_unauthorized(
    core: client.CoreV1Api, sandbox: RunningSandbox, namespace: str
) -> None:
    core.create_namespaced_config_map(namespace, configmap("twice"))
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map(namespace, configmap("twice"))
    assert info.value.status == 409 and status_of(info.value)["reason"] == "AlreadyExists"
    config = client.Configuration()
    config.host = sandbox.url
    config.ssl_ca_cert = str(sandbox.ca_file)
    with client.ApiClient(config) as anonymous, pytest.raises(ApiException) as info:
        client.CoreV1Api(anonymous).list_namespace()
    assert info.value.status == 401 and status_of(info.value)["reason"] == "Unauthorized"


def test_job_completes_and_failing_job_fails(api_client: client.ApiClient, namespace: str) -> None:
    batch = client.BatchV1Api(api_client)
    spec = {
        "template": {
            "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox:1"}],
            }
        }
    }
    batch.create_namespaced_job(namespace, {"metadata": {"name": "ok"}, "spec": spec})
    failing = json.loads(json.dumps(spec))
    failing["backoffLimit"] = 1
    failing["template"]["spec"]["containers"][0]["env"] = [{"name": "SANDBOX_CRASH", "value": "1"}]
    batch.create_namespaced_job(namespace, {"metadata": {"name": "bad"}, "spec": failing})

    def condition(name: str) -> str | None:
        job = batch.read_namespaced_job(name, namespace)
        return next(
            (
                c.type
                for c in (job.status and job.status.conditions) or []
                if c.type in ("Complete", "Failed") and c.status == "True"
            ),
            None,
        )

    assert wait_for(lambda: condition("ok")) == "Complete"
    assert wait_for(lambda: condition("bad")) == "Failed"
    assert batch.read_namespaced_job("bad", namespace).status.failed == 2


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_idle_sandbox_uses_no_cpu(tmp_path: Any) -> None:
    """A sandbox (own process) with a rolled-out Deployment burns no CPU while idle."""
    with running_sandbox(subprocess_mode=True, ready_delay=0.1, workdir=tmp_path) as sb:
        api = client.AppsV1Api(sb.api_client())
        api.create_namespaced_deployment("default", deployment("idle2", replicas=3))

        def available() -> int:
            status = api.read_namespaced_deployment("idle2", "default").status
            return (status and status.available_replicas) or 0

        wait_for(lambda: available() == 3)
        assert sb.process is not None
        time.sleep(0.5)
        before = _cpu_seconds(sb.process.pid)
        time.sleep(3)
        used = _cpu_seconds(sb.process.pid) - before
        assert used < 0.05, f"{used:.3f}s of CPU in 3s while idle"


def test_invalid_labels_and_immutable_selector(
    apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str
) -> None:
    bad = configmap("labelled")
    bad["metadata"]["labels"] = {"team": "not a valid value"}
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map(namespace, bad)
    body = status_of(info.value)
    assert info.value.status == 422 and body["details"]["causes"][0]["field"] == "metadata.labels"
    apps.create_namespaced_deployment(namespace, deployment("fixed"))
    with pytest.raises(ApiException) as info:
        apps.patch_namespaced_deployment(
            "fixed",
            namespace,
            {
                "spec": {
                    "selector": {"matchLabels": {"app": "other"}},
                    "template": {"metadata": {"labels": {"app": "other"}}},
                }
            },
        )
    body = status_of(info.value)
    assert info.value.status == 422 and "field is immutable" in body["message"]
