"""What the cluster runs now against what Kubernaut deployed (deployments/live_state.py): real
deployments to the sandbox, changed with kubectl, deleted through the seam, and clusters that
refuse or never answer. The comparison's own rules are pure functions, tested at the end."""

import socket
import time

import pytest
import yaml

from clusters.kube import ClusterClient
from deployments import live_state
from deployments.live_state import DRIFT, MISSING, OK, UNREACHABLE
from deployments.models import Deployment
from tests.test_deployment_runner import make, run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_live_cache(settings):
    settings.KUBERNAUT_LIVE_CACHE_SECONDS = 0


def loaded(deployment) -> Deployment:
    return Deployment.objects.select_related("namespace__cluster", "release").get(pk=deployment.pk)


def state_of(deployment, **options) -> live_state.LiveState:
    return live_state.live_state([loaded(deployment)], **options)[deployment.pk]


def deployed(target, user, **attributes) -> Deployment:
    deployment = run(make(target, user, **attributes))
    assert deployment.status == Deployment.Status.SUCCEEDED
    return deployment


def test_what_was_deployed_runs_with_its_images_and_ready_pods(target, alice):
    state = state_of(deployed(target, alice))

    assert state.state == OK, state.objects
    assert state.images == ["registry.example/hello:1"]
    assert (state.ready, state.desired) == (2, 2)
    assert [o.name for o in state.objects] == ["service/hello-world", "deployment.apps/hello-world"]


def test_a_workload_scaled_with_kubectl_is_drift_with_the_diff(target, alice, sandbox_cluster):
    deployment = deployed(target, alice)
    result = sandbox_cluster.kubectl(
        "-n", target.name, "scale", "deployment/hello-world", "--replicas=3"
    )
    assert result.returncode == 0, result.stderr

    state = state_of(deployment)

    assert state.state == DRIFT
    assert state.sentence == (
        "Changed in the cluster since it was deployed: deployment.apps/hello-world."
    )
    changed = next(o for o in state.objects if o.state == DRIFT)
    assert ("remove", "-  replicas: 2") in changed.diff_lines
    assert ("add", "+  replicas: 3") in changed.diff_lines
    assert state.desired == 3  # what runs, not what was asked for


def test_an_image_set_by_hand_is_drift(target, alice, sandbox_cluster):
    deployment = deployed(target, alice)
    result = sandbox_cluster.kubectl(
        "-n", target.name, "set", "image", "deployment/hello-world", "app=registry.example/x:9"
    )
    assert result.returncode == 0, result.stderr

    state = state_of(deployment)

    assert state.state == DRIFT
    assert state.images == ["registry.example/x:9"]
    diff = next(o for o in state.objects if o.state == DRIFT).diff
    assert "+        image: registry.example/x:9" in diff


def test_a_deleted_object_is_missing(target, alice):
    deployment = deployed(target, alice)
    client = ClusterClient.for_cluster(target.cluster)
    assert client.delete("v1", "Service", "hello-world", target.name)
    client.close()

    state = state_of(deployment)

    assert state.state == MISSING
    assert state.sentence == "Gone from the cluster: service/hello-world."
    assert state.images == ["registry.example/hello:1"]  # the workload is still read


def test_an_object_of_a_kind_no_longer_served_is_missing(target, alice, make_release):
    from tests.test_pages_overview import deployed as recorded

    manifest = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"
    deployment = recorded(make_release(), target, alice, manifest=manifest)

    state = state_of(deployment)

    assert state.state == MISSING, state.problem
    assert state.sentence == "Gone from the cluster: widget.example.com/w."


def with_server(target, server: str) -> None:
    cluster = target.cluster
    config = yaml.safe_load(cluster.kubeconfig)
    config["clusters"][0]["cluster"]["server"] = server
    cluster.set_kubeconfig(yaml.safe_dump(config))
    cluster.save()


def test_a_cluster_that_refuses_connections_is_unreachable_at_once(target, alice):
    deployment = deployed(target, alice)
    with_server(target, "https://127.0.0.1:9")  # nothing listens there

    started = time.monotonic()
    state = state_of(deployment)

    assert time.monotonic() - started < 1
    assert state.state == UNREACHABLE
    assert "unreachable" in state.problem and "sandbox" in state.problem


def test_a_cluster_that_never_answers_is_unreachable_within_the_budget(target, alice, settings):
    deployment = deployed(target, alice)
    # Accepts connections (the kernel's backlog) and never says a word.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    with_server(target, f"https://127.0.0.1:{silent.getsockname()[1]}")
    settings.KUBERNAUT_LIVE_TIMEOUT_MS = 500
    try:
        started = time.monotonic()
        state = state_of(deployment)
        took = time.monotonic() - started
    finally:
        silent.close()

    assert took < 1.0, took
    assert state.state == UNREACHABLE
    assert state.problem.startswith("Cluster sandbox did not answer within 0.5 s") or (
        "timed out" in state.problem
    ), state.problem


def test_a_reading_is_reused_for_a_moment_unless_asked_afresh(target, alice, settings):
    settings.KUBERNAUT_LIVE_CACHE_SECONDS = 10
    deployment = deployed(target, alice)
    assert state_of(deployment).state == OK
    client = ClusterClient.for_cluster(target.cluster)
    client.delete("v1", "Service", "hello-world", target.name)
    client.close()

    assert state_of(deployment).state == OK  # the cached reading
    assert state_of(deployment, fresh=True).state == MISSING
    assert state_of(deployment).state == MISSING  # and the fresh one is cached in turn


def test_the_service_page_shows_live_state_and_links_to_the_drift(
    client, target, alice, sandbox_cluster
):
    deployment = deployed(target, alice)
    client.force_login(alice)

    page = client.get("/services/hello-world/").content.decode()
    assert "registry.example/hello:1" in page and "2/2" in page and ">in sync<" in page

    sandbox_cluster.kubectl("-n", target.name, "scale", "deployment/hello-world", "--replicas=1")
    page = client.get("/services/hello-world/").content.decode()
    assert f'href="/deployments/{deployment.pk}/drift"' in page and ">drift<" in page

    detail = client.get(f"/deployments/{deployment.pk}/").content.decode()
    assert f'href="/deployments/{deployment.pk}/drift">Compare with the cluster now' in detail
    drift = client.get(f"/deployments/{deployment.pk}/drift").content.decode()
    assert "deployment.apps/hello-world" in drift
    assert "+  replicas: 1" in drift


def test_the_overview_marks_cells_whose_objects_are_gone(client, target, alice, monkeypatch):
    deployment = deployed(target, alice)
    client.force_login(alice)
    assert ">in sync<" in client.get("/").content.decode()

    client_ = ClusterClient.for_cluster(target.cluster)
    client_.delete("apps/v1", "Deployment", "hello-world", target.name)
    client_.close()
    page = client.get("/").content.decode()
    assert f'href="/deployments/{deployment.pk}/drift"' in page and ">missing<" in page

    from kubernaut import views

    monkeypatch.setattr(views, "OVERVIEW_LIVE_CELLS", 0)  # a grid of more cells than are read
    page = client.get("/").content.decode()
    assert ">missing<" not in page
    assert "What the clusters run is shown for the first 0 deployed cells" in page


def test_the_drift_page_is_only_for_those_who_see_the_namespace(client, target, alice, charlie):
    deployment = deployed(target, alice)
    client.force_login(charlie)
    assert client.get(f"/deployments/{deployment.pk}/drift").status_code == 404


def test_the_service_page_renders_fast_when_a_cluster_is_down(client, target, alice):
    deployed(target, alice)
    with_server(target, "https://127.0.0.1:9")
    client.force_login(alice)

    started = time.monotonic()
    page = client.get("/services/hello-world/").content.decode()

    assert time.monotonic() - started < 2
    assert ">unreachable<" in page


def test_a_secret_changed_by_hand_is_drift_without_its_values():
    applied = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "x"},
               "stringData": {"password": "deployed-value"}}  # fmt: skip
    live = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "x"},
        "data": {"password": "c2V0LWJ5LWhhbmQ="},
        "type": "Opaque",
    }  # base64 "set-by-hand"

    judged = live_state.judge(applied, live)

    assert judged.state == DRIFT
    assert "(hidden, changed in the cluster)" in judged.diff
    assert "c2V0LWJ5LWhhbmQ" not in judged.diff and "ZGVwbG95ZWQtdmFsdWU" not in judged.diff
    same = {**live, "data": {"password": "ZGVwbG95ZWQtdmFsdWU="}}  # base64 "deployed-value"
    assert live_state.judge(applied, same).state == OK


# --- the comparison's rules -----------------------------------------------------------------


def test_fields_the_cluster_adds_are_not_drift():
    applied = {"spec": {"ports": [{"port": 80}], "template": {"spec": {"containers": [
        {"name": "app", "image": "a:1", "env": [{"name": "X", "value": "1"}]}]}}}}  # fmt: skip
    live = {"spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                     "clusterIP": "10.0.0.1",
                     "template": {"spec": {"containers": [
                         {"name": "istio-proxy", "image": "proxy"},
                         {"name": "app", "image": "a:1", "imagePullPolicy": "IfNotPresent",
                          "env": [{"name": "X", "value": "1"}]}]}}}}  # fmt: skip
    assert live_state.projected(live, applied) == applied


@pytest.mark.parametrize(
    ("live", "applied"),
    [
        ({"port": "8080"}, {"port": 8080}),  # int-or-string fields come back either way
        ({"port": 8080}, {"port": "8080"}),
    ],
)
def test_the_same_value_spelled_otherwise_is_not_drift(live, applied):
    assert live_state.projected(live, applied) == applied


@pytest.mark.parametrize(
    ("live", "applied"),
    [
        ({"env": [{"name": "X", "value": "2"}]}, {"env": [{"name": "X", "value": "1"}]}),
        ({"env": []}, {"env": [{"name": "X", "value": "1"}]}),  # removed by hand
        ({"args": ["a", "b"]}, {"args": ["a"]}),  # an argument added by hand
        ({"enabled": "true"}, {"enabled": True}),
        ({}, {"replicas": 2}),
    ],
)
def test_changed_or_removed_fields_are_drift(live, applied):
    assert live_state.projected(live, applied) != applied
