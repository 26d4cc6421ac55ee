"""The deploy page: preview with a diff against the sandbox cluster, then confirm."""

import pytest

from clusters.kube import ClusterClient
from clusters.models import Cluster, Namespace
from deployments.models import Deployment
from tests.conftest import open_to_teams

pytestmark = pytest.mark.django_db


def form(target, action: str, **fields) -> dict:
    return {"namespace": target.pk, "attributes": "", "action": action, **fields}


def test_preview_shows_new_objects_and_the_manifest(client, alice, make_release, target):
    release = make_release()
    client.force_login(alice)

    page = client.post(f"/releases/{release.pk}/deploy", form(target, "preview")).content.decode()

    assert "deployment.apps/hello-world" in page and "service/hello-world" in page
    assert page.count("new object") == 2
    assert "Rendered manifest" in page
    assert 'value="deploy"' in page
    assert not Deployment.objects.exists()


def test_preview_diffs_against_the_live_object(client, alice, make_release, target):
    release = make_release()
    client_ = ClusterClient.for_cluster(target.cluster)
    obj = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "hello-world", "namespace": target.name},
           "spec": {"selector": {"app": "old"}, "ports": [{"port": 80}]}}  # fmt: skip
    client_.apply(obj)
    client_.close()
    client.force_login(alice)

    page = client.post(
        f"/releases/{release.pk}/deploy", form(target, "preview", attributes="replicas=3")
    ).content.decode()

    assert page.count("new object") == 1  # the Deployment; the Service exists
    assert "changed" in page
    assert '<span class="remove">-    app: old</span>' in page
    assert '<span class="add">+    app: hello-world</span>' in page


def test_confirm_queues_the_deployment_and_opens_its_page(client, alice, make_release, target):
    release = make_release()
    client.force_login(alice)

    response = client.post(
        f"/releases/{release.pk}/deploy", form(target, "deploy", attributes="replicas=3")
    )

    deployment = Deployment.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/deployments/{deployment.pk}/"
    assert deployment.requested_attributes == {"replicas": "3"}
    assert deployment.created_by == alice


def test_template_problem_is_shown_and_nothing_is_queued(client, alice, make_release, target):
    release = make_release()
    client.force_login(alice)

    page = client.post(
        f"/releases/{release.pk}/deploy", form(target, "deploy", attributes="image=[unclosed")
    ).content.decode()

    assert "Cannot deploy" in page and "not valid YAML" in page
    assert not Deployment.objects.exists()


def test_invalid_object_is_shown(client, alice, make_release, target):
    release = make_release()
    client.force_login(alice)
    page = client.post(
        f"/releases/{release.pk}/deploy", form(target, "deploy", attributes="replicas=many")
    ).content.decode()
    assert "Cannot deploy" in page
    assert not Deployment.objects.exists()


def test_unreachable_cluster_is_shown_and_nothing_is_queued(client, alice, make_release):
    release = make_release()
    cluster = Cluster(name="gone")
    cluster.set_kubeconfig(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {}}]\n"
    )
    cluster.save()
    namespace = open_to_teams(Namespace.objects.create(cluster=cluster, name="staging"))
    client.force_login(alice)

    page = client.post(f"/releases/{release.pk}/deploy", form(namespace, "deploy")).content.decode()

    assert "Cannot deploy" in page and "unreachable" in page
    assert not Deployment.objects.exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"namespace": "999999"}, "no longer exists"),
        ({"namespace": ""}, "This field is required"),
        ({"attributes": "no equals sign"}, "has no &#x27;=&#x27;"),
        ({"attributes": "service=x"}, "deploy-time variable"),
        ({"timeout_seconds": "3"}, "greater than or equal to 10"),
    ],
)
def test_bad_input_is_a_message_on_the_page(client, alice, make_release, target, fields, message):
    release = make_release()
    client.force_login(alice)
    response = client.post(f"/releases/{release.pk}/deploy", form(target, "deploy", **fields))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Deployment.objects.exists()


def test_read_only_user_may_not_deploy(client, bob, make_release, target):
    release = make_release()
    client.force_login(bob)
    response = client.post(f"/releases/{release.pk}/deploy", form(target, "deploy"))
    assert response.status_code == 403
    assert f"needs the deployer role on {target}" in response.content.decode()
    assert not Deployment.objects.exists()


def test_deleted_release_is_404(client, alice, make_release):
    release = make_release()
    release.soft_delete(by=alice)
    client.force_login(alice)
    assert client.get(f"/releases/{release.pk}/deploy").status_code == 404
