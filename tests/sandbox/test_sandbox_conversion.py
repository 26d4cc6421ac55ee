"""HorizontalPodAutoscalers are stored as autoscaling/v2 and served as autoscaling/v1 too."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

from kubernetes import client, watch

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def v1_hpa(name: str, cpu: int | None = 50) -> dict:
    spec: dict = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 2,
        "maxReplicas": 5,
    }
    if cpu is not None:
        spec["targetCPUUtilizationPercentage"] = cpu
    return {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name}, "spec": spec}  # fmt: skip


def test_v1_and_v2_are_two_views_of_one_object(api_client, namespace: str) -> None:
    v1 = client.AutoscalingV1Api(api_client)
    v2 = client.AutoscalingV2Api(api_client)
    made = v1.create_namespaced_horizontal_pod_autoscaler(namespace, v1_hpa("web"))
    assert made.spec.target_cpu_utilization_percentage == 50

    as_v2 = v2.read_namespaced_horizontal_pod_autoscaler("web", namespace)
    assert as_v2.spec.min_replicas == 2 and as_v2.spec.max_replicas == 5
    [metric] = as_v2.spec.metrics
    assert (metric.type, metric.resource.name) == ("Resource", "cpu")
    assert metric.resource.target.average_utilization == 50
    assert not (as_v2.metadata.annotations or {})

    # A merge patch written against v1 changes the one stored object.
    v1.patch_namespaced_horizontal_pod_autoscaler(
        "web", namespace, {"spec": {"targetCPUUtilizationPercentage": 70}}
    )
    as_v2 = v2.read_namespaced_horizontal_pod_autoscaler("web", namespace)
    assert as_v2.spec.metrics[0].resource.target.average_utilization == 70

    listed = v1.list_namespaced_horizontal_pod_autoscaler(namespace)
    assert [h.spec.target_cpu_utilization_percentage for h in listed.items] == [70]
    v1.delete_namespaced_horizontal_pod_autoscaler("web", namespace)
    assert v2.list_namespaced_horizontal_pod_autoscaler(namespace).items == []


def test_what_only_v2_says_survives_a_round_trip_through_v1(api_client, namespace: str) -> None:
    v1 = client.AutoscalingV1Api(api_client)
    v2 = client.AutoscalingV2Api(api_client)
    memory = {"type": "Resource", "resource": {"name": "memory",
              "target": {"type": "AverageValue", "averageValue": "500Mi"}}}  # fmt: skip
    body = {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "both"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 4,
            "metrics": [
                {"type": "Resource", "resource": {"name": "cpu",
                 "target": {"type": "Utilization", "averageUtilization": 60}}},
                memory,
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}},
        },
    }  # fmt: skip
    v2.create_namespaced_horizontal_pod_autoscaler(namespace, body)

    raw = v1.read_namespaced_horizontal_pod_autoscaler("both", namespace, _preload_content=False)
    as_v1 = json.loads(raw.data)
    assert as_v1["apiVersion"] == "autoscaling/v1"
    assert as_v1["spec"]["targetCPUUtilizationPercentage"] == 60
    assert "metrics" not in as_v1["spec"] and "behavior" not in as_v1["spec"]
    annotations = as_v1["metadata"]["annotations"]
    assert json.loads(annotations["autoscaling.alpha.kubernetes.io/metrics"]) == [memory]

    # Updating through v1 (a PUT of what v1 showed) keeps the memory metric and the behavior.
    as_v1["spec"]["maxReplicas"] = 6
    v1.replace_namespaced_horizontal_pod_autoscaler("both", namespace, as_v1)
    back = v2.read_namespaced_horizontal_pod_autoscaler("both", namespace)
    assert back.spec.max_replicas == 6
    assert [m.resource.name for m in back.spec.metrics] == ["cpu", "memory"]
    assert back.spec.behavior.scale_down.stabilization_window_seconds == 60
    assert not (back.metadata.annotations or {})


def test_a_v1_watch_sees_v1_objects(api_client, namespace: str) -> None:
    v1 = client.AutoscalingV1Api(api_client)
    client.AutoscalingV2Api(api_client).create_namespaced_horizontal_pod_autoscaler(
        namespace, {**v1_hpa("w", cpu=None), "apiVersion": "autoscaling/v2"}
    )
    stream = watch.Watch().stream(
        v1.list_namespaced_horizontal_pod_autoscaler, namespace, timeout_seconds=5
    )
    event = next(stream)
    assert event["type"] == "ADDED"
    assert event["raw_object"]["apiVersion"] == "autoscaling/v1"
    # No metric given: the v2 default (80% CPU) reads as v1's target.
    assert event["object"].spec.target_cpu_utilization_percentage == 80


def test_kubectl_reads_both_versions(kubectl: Kubectl, namespace: str) -> None:
    manifest = json.dumps(v1_hpa("k", cpu=40))
    assert (
        kubectl("apply", "--server-side", "-n", namespace, "-f", "-", input=manifest).returncode
        == 0
    )
    both = [
        json.loads(kubectl("get", "-n", namespace, f"horizontalpodautoscalers.{v}.autoscaling",
                           "k", "-o", "json", check=True).stdout)
        for v in ("v1", "v2")
    ]  # fmt: skip
    assert both[0]["spec"]["targetCPUUtilizationPercentage"] == 40
    assert both[1]["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 40
    resources = kubectl("api-resources", "--api-group=autoscaling", "-o", "name", check=True)
    assert "horizontalpodautoscalers.autoscaling" in resources.stdout
