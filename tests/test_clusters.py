"""Clusters: credentials encrypted and never shown back; register_cluster; the admin form."""

import tempfile

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from clusters import kube
from clusters.models import Cluster, Namespace
from kubernaut import crypto

pytestmark = pytest.mark.django_db

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://k8s.example:6443"}}]
users: [{name: u, user: {token: super-secret-token}}]
contexts: [{name: main, context: {cluster: c, user: u}}]
current-context: main
"""


def test_kubeconfig_is_encrypted_at_rest():
    cluster = Cluster(name="eu")
    cluster.set_kubeconfig(KUBECONFIG)
    cluster.save()

    with connection.cursor() as cursor:
        cursor.execute("SELECT kubeconfig_encrypted FROM clusters_cluster WHERE id = %s",
                       [cluster.pk])  # fmt: skip
        stored = cursor.fetchone()[0]
    assert "super-secret-token" not in stored
    assert Cluster.objects.get(pk=cluster.pk).kubeconfig == KUBECONFIG


def test_a_changed_key_gives_a_clear_error(settings):
    cluster = Cluster(name="eu")
    cluster.set_kubeconfig(KUBECONFIG)
    settings.KUBERNAUT_ENCRYPTION_KEY = "another-key"
    with pytest.raises(crypto.UnreadableSecret, match="Enter the cluster's kubeconfig again"):
        cluster.kubeconfig  # noqa: B018


def test_register_cluster_creates_and_updates(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    call_command("register_cluster", "eu", "--kubeconfig", str(path), "--namespace", "staging")
    call_command("register_cluster", "eu", "--kubeconfig", str(path), "--namespace", "staging",
                 "--namespace", "production")  # fmt: skip

    cluster = Cluster.objects.get()
    assert cluster.kubeconfig == KUBECONFIG
    assert sorted(Namespace.objects.values_list("name", flat=True)) == ["production", "staging"]


@pytest.mark.parametrize(
    ("text", "context", "expected"),
    [
        ("{not yaml", "", "not valid YAML"),
        ("just: text", "", "does not look like a kubeconfig"),
        (KUBECONFIG, "other", "no context 'other'"),
    ],
)
def test_register_cluster_refuses_a_bad_kubeconfig(tmp_path, text, context, expected):
    path = tmp_path / "kubeconfig"
    path.write_text(text)
    with pytest.raises(CommandError, match=expected):
        call_command("register_cluster", "eu", "--kubeconfig", str(path), "--context", context)
    assert not Cluster.objects.exists()


def test_admin_never_shows_the_kubeconfig_back(admin_user, client):
    client.force_login(admin_user)
    response = client.post(
        "/admin/clusters/cluster/add/",
        {"name": "eu", "context": "", "timeout_seconds": 600, "kubeconfig": KUBECONFIG},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    cluster = Cluster.objects.get()

    page = client.get(f"/admin/clusters/cluster/{cluster.pk}/change/").content.decode()
    assert "super-secret-token" not in page
    # The API server's address is shown (read-only, issue 15), the kubeconfig itself never.
    assert "https://k8s.example:6443" in page
    assert "current-context" not in page and "clusters:" not in page

    # Saving without a new kubeconfig keeps the old one.
    client.post(
        f"/admin/clusters/cluster/{cluster.pk}/change/",
        {"name": "eu", "context": "", "timeout_seconds": 300, "kubeconfig": ""},
    )
    cluster.refresh_from_db()
    assert cluster.timeout_seconds == 300
    assert cluster.kubeconfig == KUBECONFIG


def test_admin_refuses_a_bad_kubeconfig(admin_user, client):
    client.force_login(admin_user)
    response = client.post(
        "/admin/clusters/cluster/add/",
        {"name": "eu", "context": "", "timeout_seconds": 600, "kubeconfig": "a: b"},
    )
    assert response.status_code == 200
    assert "does not look like a kubeconfig" in response.content.decode()
    assert not Cluster.objects.exists()


def test_api_never_exposes_cluster_credentials(alice_api, target, make_release):
    from deployments import services

    release = make_release()
    deployment = services.create_deployment(
        release=release, namespace=target, attributes={}, user=release.created_by
    )
    body = alice_api.get(f"/api/deployments/{deployment.pk}").content.decode()
    assert "token" not in body.lower()
    assert "kubeconfig" not in body.lower()


def test_register_cluster_sets_the_registry_with_a_password_from_a_file(tmp_path):
    kubeconfig, password = tmp_path / "kubeconfig", tmp_path / "password"
    kubeconfig.write_text(KUBECONFIG)
    password.write_text("s3cret\n")
    call_command(
        "register_cluster", "eu", "--kubeconfig", str(kubeconfig),
        "--registry-url", "http://registry:5000", "--registry-username", "ci",
        "--registry-password-file", str(password),
    )  # fmt: skip
    cluster = Cluster.objects.get()
    assert (cluster.registry_url, cluster.registry_username) == ("http://registry:5000", "ci")
    assert cluster.registry_password == "s3cret"
    assert "s3cret" not in cluster.registry_password_encrypted


def test_register_cluster_refuses_a_bad_registry_address(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    with pytest.raises(CommandError, match="registry_url: Give the registry's address"):
        call_command("register_cluster", "eu", "--kubeconfig", str(kubeconfig),
                     "--registry-url", "registry:5000")  # fmt: skip


def test_discovery_leaves_no_files_behind(sandbox_cluster, tmp_path, monkeypatch):
    # It was one file per process and cluster in the temp folder, never removed.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    kube.forget_discovery()
    for _ in range(2):
        client = kube.ClusterClient(sandbox_cluster.kubeconfig.read_text(), name="sandbox")
        assert client.get("v1", "Namespace", "default", None)["metadata"]["name"] == "default"
        client.close()
    assert list(tmp_path.iterdir()) == []


def test_admin_shows_the_api_server_and_its_version(admin_user, client, sandbox_cluster):
    cluster = Cluster(name="sandbox", timeout_seconds=30)
    cluster.set_kubeconfig(sandbox_cluster.kubeconfig.read_text())
    cluster.save()
    client.force_login(admin_user)

    page = client.get(f"/admin/clusters/cluster/{cluster.pk}/change/").content.decode()

    assert sandbox_cluster.url in page
    assert "v1.37.0-sandbox" in page
    assert f'action="/admin/clusters/cluster/{cluster.pk}/test-connection/"' in page


def test_test_connection_says_how_it_went(admin_user, client, sandbox_cluster):
    cluster = Cluster(name="sandbox", timeout_seconds=30)
    cluster.set_kubeconfig(sandbox_cluster.kubeconfig.read_text())
    cluster.save()
    client.force_login(admin_user)
    url = f"/admin/clusters/cluster/{cluster.pk}/test-connection/"

    page = client.post(url, follow=True).content.decode()
    assert f"Connected to sandbox at {sandbox_cluster.url}: Kubernetes v1.37.0-sandbox" in page

    assert client.get(url).status_code == 405  # only a POST asks the cluster

    cluster.set_kubeconfig(sandbox_cluster.kubeconfig.read_text().replace(
        sandbox_cluster.url, "https://127.0.0.1:9"))  # fmt: skip
    cluster.save()
    page = client.post(url, follow=True).content.decode()
    assert "Connection failed: The cluster sandbox at https://127.0.0.1:9 is unreachable" in page


def test_test_connection_needs_the_admin_and_csrf(client, alice, admin_user, sandbox_cluster):
    from django.test import Client

    cluster = Cluster(name="sandbox", timeout_seconds=30)
    cluster.set_kubeconfig(sandbox_cluster.kubeconfig.read_text())
    cluster.save()
    url = f"/admin/clusters/cluster/{cluster.pk}/test-connection/"
    client.force_login(alice)
    assert client.post(url).status_code in (302, 403)  # alice is no admin: to the login page

    checked = Client(enforce_csrf_checks=True)
    checked.force_login(admin_user)
    assert checked.post(url).status_code == 403
