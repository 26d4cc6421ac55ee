"""Conformance: protocol details (prune, managedFields, protobuf, field selectors, logs)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from sandbox.testing import wait_for

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def configmaps(*names: str, **data: str) -> str:
    return "".join(
        f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"
        f"  labels: {{app: x}}\ndata: {json.dumps(data)}\n"
        for name in names
    )


def get_json(kubectl: Kubectl, namespace: str, *what: str) -> Any:
    out = kubectl("get", *what, "-n", namespace, "-o", "json", "--show-managed-fields", check=True)
    return json.loads(out.stdout)


def test_apply_prune_deletes_objects_dropped_from_the_manifests(
    kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    both, one = tmp_path / "both.yaml", tmp_path / "one.yaml"
    both.write_text(configmaps("a", "b", k="1"))
    one.write_text(configmaps("a", k="1"))
    kubectl("apply", "-n", namespace, "-f", str(both), check=True)
    # kubectl resolves and lists its whole default allowlist (endpoints, PVCs, PVs, RCs ...).
    out = kubectl("apply", "-n", namespace, "--prune", "-l", "app=x", "-f", str(one), check=True)
    assert "configmap/b pruned" in out.stdout
    names = [i["metadata"]["name"] for i in get_json(kubectl, namespace, "configmaps")["items"]]
    assert "a" in names and "b" not in names
    # With --server-side, kubectl itself refuses to prune (as against a real cluster).
    kubectl("apply", "-n", namespace, "--server-side", "-f", str(both), check=True)
    refused = kubectl(
        "apply", "-n", namespace, "--server-side", "--prune", "-l", "app=x", "-f", str(one)
    )
    assert refused.returncode != 0 and "--prune" in refused.stderr
    assert kubectl("get", "configmap", "b", "-n", namespace).returncode == 0


def test_client_side_then_server_side_apply_removes_dropped_keys(
    kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    full, smaller = tmp_path / "full.yaml", tmp_path / "smaller.yaml"
    full.write_text(configmaps("up", a="1", b="2"))
    smaller.write_text(configmaps("up", a="1"))
    kubectl("apply", "-n", namespace, "-f", str(full), check=True)
    managers = {
        m["manager"] for m in get_json(kubectl, namespace, "cm/up")["metadata"]["managedFields"]
    }
    assert managers == {"kubectl-client-side-apply"}
    # kubectl's csaupgrade rewrites metadata.managedFields with a JSON patch first.
    kubectl("apply", "-n", namespace, "--server-side", "-f", str(full), check=True)
    live = get_json(kubectl, namespace, "cm/up")
    assert "kubectl-client-side-apply" not in {
        m["manager"] for m in live["metadata"]["managedFields"]
    }
    kubectl("apply", "-n", namespace, "--server-side", "-f", str(smaller), check=True)
    assert get_json(kubectl, namespace, "cm/up")["data"] == {"a": "1"}


def test_writes_to_managed_fields_replace_or_clear_them(
    api_client: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(api_client)
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mf"}, "data": {"a": "1"}}
    core.create_namespaced_config_map(namespace, body, field_manager="creator")
    live = core.read_namespaced_config_map("mf", namespace)
    assert [m.manager for m in live.metadata.managed_fields] == ["creator"]
    # An update carrying managedFields replaces them (and adds the updater's own changes).
    live.metadata.managed_fields[0].manager = "renamed"
    live.data["b"] = "2"
    updated = core.replace_namespaced_config_map("mf", namespace, live, field_manager="editor")
    owners = {m.manager: m.fields_v1 for m in updated.metadata.managed_fields}
    assert set(owners) == {"renamed", "editor"}
    assert owners["editor"] == {"f:data": {"f:b": {}}}
    # One empty entry clears them all; an absent list leaves them alone.
    patched = core.patch_namespaced_config_map(
        "mf", namespace, {"metadata": {"managedFields": [{}]}}
    )
    assert patched.metadata.managed_fields is None
    core.patch_namespaced_config_map("mf", namespace, {"data": {"c": "3"}}, field_manager="later")
    after = core.read_namespaced_config_map("mf", namespace)
    assert [(m.manager, m.fields_v1) for m in after.metadata.managed_fields] == [
        ("later", {"f:data": {"f:c": {}}})
    ]


def test_generator_commands_sending_protobuf_store_what_a_real_server_stores(
    kubectl: Kubectl, namespace: str
) -> None:
    ns = ("-n", namespace)
    kubectl("create", "deployment", "web", "--image=nginx:1", *ns, check=True)
    kubectl(
        "autoscale", "deployment", "web", "--min=2", "--max=5", "--cpu-percent=70", *ns, check=True
    )
    kubectl(
        "create", "cronjob", "cj", "--image=busybox", "--schedule=*/5 * * * *", *ns, "--", "echo",
        "hi", check=True,
    )  # fmt: skip
    kubectl(
        "create", "ingress", "ing", "--class=nginx", "--rule=foo.com/bar*=svc1:8080,tls=cert", *ns,
        check=True,
    )  # fmt: skip
    kubectl("create", "pdb", "pdb", "--selector=app=web", "--min-available=50%", *ns, check=True)
    kubectl("create", "job", "manual", "--from=cronjob/cj", *ns, check=True)

    hpa = get_json(kubectl, namespace, "hpa/web")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 2,
        "maxReplicas": 5,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 70},
                },
            }
        ],
    }
    cj = get_json(kubectl, namespace, "cronjob/cj")["spec"]
    assert (cj["schedule"], cj["concurrencyPolicy"], cj["suspend"]) == (
        "*/5 * * * *",
        "Allow",
        False,
    )
    assert (cj["successfulJobsHistoryLimit"], cj["failedJobsHistoryLimit"]) == (3, 1)
    pod_spec = cj["jobTemplate"]["spec"]["template"]["spec"]
    assert pod_spec["restartPolicy"] == "OnFailure" and pod_spec["dnsPolicy"] == "ClusterFirst"
    container = pod_spec["containers"][0]
    assert container["command"] == ["echo", "hi"]
    assert container["imagePullPolicy"] == "Always"
    assert container["terminationMessagePath"] == "/dev/termination-log"
    ing = get_json(kubectl, namespace, "ingress/ing")["spec"]
    assert ing == {
        "ingressClassName": "nginx",
        "rules": [
            {
                "host": "foo.com",
                "http": {
                    "paths": [
                        {
                            "path": "/bar",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "svc1", "port": {"number": 8080}}},
                        }
                    ]
                },
            }
        ],
        "tls": [{"hosts": ["foo.com"], "secretName": "cert"}],
    }
    pdb = get_json(kubectl, namespace, "pdb/pdb")["spec"]
    assert pdb == {"minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}}}
    job = get_json(kubectl, namespace, "job/manual")
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    owner = job["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("CronJob", "cj", True)
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
    assert job["spec"]["backoffLimit"] == 6


@pytest.mark.parametrize(
    ("plural", "selector", "message"),
    [
        ("pods", "spec.foo=x", "field label not supported: spec.foo"),
        ("jobs.batch", "spec.foo=x", 'field label "spec.foo" not supported for batchv1.Job'),
        (
            "ingresses",
            "foo.bar=baz",
            '"foo.bar" is not a known field selector: only "metadata.name", "metadata.namespace"',
        ),
        ("secrets", "data.x=1", "field label not supported: data.x"),
    ],
)
def test_unknown_field_selectors_are_refused(
    kubectl: Kubectl, namespace: str, plural: str, selector: str, message: str
) -> None:
    out = kubectl("get", plural, "-n", namespace, "--field-selector", selector)
    assert out.returncode != 0
    assert "Error from server (BadRequest)" in out.stderr and message in out.stderr


def test_supported_field_selectors_filter(api_client: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api_client)
    for name, kind in (("plain", "Opaque"), ("tls", "kubernetes.io/tls")):
        data = {"tls.crt": "", "tls.key": ""} if kind != "Opaque" else {}
        core.create_namespaced_secret(
            namespace, {"metadata": {"name": name}, "type": kind, "data": data}
        )
    found = core.list_namespaced_secret(namespace, field_selector="type=kubernetes.io/tls")
    assert [s.metadata.name for s in found.items] == ["tls"]
    with pytest.raises(ApiException) as info:
        core.list_namespace(field_selector="metadata.namespace=x")  # namespaces: name, phase
    assert info.value.status == 400
    assert json.loads(info.value.body)["message"] == (
        "field label not supported: metadata.namespace"
    )
    with pytest.raises(ApiException) as info:
        core.list_namespaced_pod(namespace, field_selector="spec.nope=1", watch=True)
    assert info.value.status == 400


def _running_pod(core: client.CoreV1Api, namespace: str, name: str, crash: bool = False) -> None:
    env = [{"name": "SANDBOX_CRASH", "value": "1"}] if crash else []
    core.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "web", "image": "nginx:1", "env": env}]},
        },
    )


def test_logs_follow_streams_until_the_container_stops(
    api_client: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(api_client)
    _running_pod(core, namespace, "follow")
    wait_for(lambda: core.read_namespaced_pod("follow", namespace).status.phase == "Running")
    stream = core.read_namespaced_pod_log("follow", namespace, follow=True, _preload_content=False)
    lines = []
    for raw in stream.stream(amt=None, decode_content=True):
        lines += raw.decode().splitlines()
        if sum("is running" in line for line in lines) >= 2:
            break
    assert lines[0] == "sandbox: container web started from image nginx:1"
    assert lines[1:3] == [
        "sandbox: container web is running (1)",
        "sandbox: container web is running (2)",
    ]
    core.delete_namespaced_pod("follow", namespace)
    started = time.monotonic()
    for _ in stream.stream(amt=None):  # the server ends the response once the pod is gone
        pass
    assert time.monotonic() - started < 5
    stream.release_conn()


def test_logs_previous_tail_timestamps_and_limit_bytes(
    kubectl: Kubectl, api_client: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(api_client)
    _running_pod(core, namespace, "steady")
    _running_pod(core, namespace, "crashy", crash=True)
    ns = ("-n", namespace)

    def restarted() -> bool:
        statuses = core.read_namespaced_pod("crashy", namespace).status.container_statuses
        return bool(statuses) and statuses[0].restart_count >= 1

    wait_for(lambda: core.read_namespaced_pod("steady", namespace).status.phase == "Running")
    refused = kubectl("logs", "steady", "--previous", *ns)
    assert refused.returncode != 0
    assert 'previous terminated container "web" in pod "steady" not found' in refused.stderr
    wait_for(restarted)
    previous = kubectl("logs", "crashy", "--previous", *ns, check=True).stdout
    assert previous.splitlines()[-1] == "sandbox: SANDBOX_CRASH is set, exiting with code 1"
    tail = kubectl("logs", "crashy", "--tail=1", "--timestamps", *ns, check=True).stdout
    stamp, _, text = tail.strip().partition(" ")
    assert text == "sandbox: SANDBOX_CRASH is set, exiting with code 1"
    assert stamp.endswith("Z") and "T" in stamp and len(tail.splitlines()) == 1
    assert kubectl("logs", "steady", "--limit-bytes=7", *ns, check=True).stdout == "sandbox"
