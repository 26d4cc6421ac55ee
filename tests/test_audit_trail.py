"""The audit trail: what is recorded from each door, that the database refuses to rewrite it,
and reading it through GET /api/audit and the /audit/ page."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.models import AuditEntry
from clusters.models import Cluster, Namespace
from deployments.models import Deployment
from tests.conftest import HELLO_TEMPLATE, client_for, grant, make_user, open_to_teams, release_body

pytestmark = pytest.mark.django_db

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://k8s.example:6443"}}]
users: [{name: u, user: {token: audit-secret-token}}]
contexts: [{name: main, context: {cluster: c, user: u}}]
current-context: main
"""


@pytest.fixture
def staging(db) -> Namespace:
    cluster = Cluster(name="prod-eu")
    cluster.set_kubeconfig(KUBECONFIG)
    cluster.save()
    return open_to_teams(Namespace.objects.create(cluster=cluster, name="staging"))


@pytest.fixture
def auditor_api():
    return client_for(make_user("audrey", "view_auditentry"))


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("id"))


def only(action: str) -> AuditEntry:
    found = entries(action)
    assert len(found) == 1, [str(entry) for entry in AuditEntry.objects.all()]
    return found[0]


# The append-only guarantee


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditentry SET action = 'rewritten' WHERE id = %s",
        "DELETE FROM audit_auditentry WHERE id = %s",
    ],
)
def test_the_database_refuses_to_update_or_delete_an_entry(make_release, statement):
    make_release()
    entry = only("release.created")

    with (
        pytest.raises(DatabaseError) as refused,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [entry.pk])

    assert "the audit trail is append-only" in str(refused.value)
    entry.refresh_from_db()
    assert entry.action == "release.created"


# Releases


def test_release_created_and_deleted_through_the_api_name_alice_the_door_token_and_ip(
    alice_api,
):
    created = alice_api.post("/api/releases", release_body(), format="json")
    assert created.status_code == 201, created.json()
    release_id = created.json()["id"]

    assert alice_api.delete(f"/api/releases/{release_id}").status_code == 204

    for action in ("release.created", "release.deleted"):
        entry = only(action)
        assert (entry.actor.username, entry.actor_name) == ("alice", "alice")
        assert (entry.door, entry.token_name, entry.ip) == ("api", "tests", "127.0.0.1")
        assert (entry.object_type, entry.object_id) == ("releases.release", str(release_id))
        assert entry.object_repr == "hello-world 1.0.0"
    summary = only("release.created").changes
    assert summary["version"] == "1.0.0"
    assert summary["attributes"]["replicas"] == "2"
    assert only("service.created").object_repr == "hello-world"


def test_secret_looking_attributes_are_not_recorded(alice_api):
    template = HELLO_TEMPLATE.replace(
        "          image: {{ image }}",
        "          image: {{ image }}\n          env: [{name: PW, value: '{{ db_password }}'}]",
    )
    attributes = {"db_password": "hunter2-pw", "replicas": "2", "image": "hello:1"}
    body = release_body(template=template, attributes=attributes)
    response = alice_api.post("/api/releases", body, format="json")
    assert response.status_code == 201, response.json()

    changes = only("release.created").changes
    assert changes["attributes"]["db_password"] == "(secret changed)"
    assert "hunter2-pw" not in json.dumps(changes)


def test_admin_delete_and_restore_of_a_release_are_recorded(client, admin_user, make_release):
    release = make_release()
    client.force_login(admin_user)
    for action in ("soft_delete", "restore"):
        response = client.post(
            "/admin/releases/release/?deleted=all",
            {"action": action, "_selected_action": [release.pk]},
        )
        assert response.status_code == 302

    for action in ("release.deleted", "release.restored"):
        entry = only(action)
        assert (entry.actor_name, entry.door) == ("admin", "admin")
        assert entry.object_id == str(release.pk)


# Deployments


def test_deployment_asked_for_and_cancelled_are_recorded(alice_api, staging, make_release):
    release = make_release()
    response = alice_api.post(
        "/api/deployments",
        {"release": release.pk, "cluster": "prod-eu", "namespace": "staging",
         "attributes": {"replicas": "3"}},
        format="json",
    )  # fmt: skip
    assert response.status_code == 202, response.json()
    deployment_id = response.json()["id"]

    assert alice_api.post(f"/api/deployments/{deployment_id}/cancel").status_code == 200

    created = only("deployment.created")
    assert (created.actor_name, created.door, created.token_name) == ("alice", "api", "tests")
    assert created.object_type == "deployments.deployment"
    assert created.object_id == str(deployment_id)
    assert created.changes["release"] == "hello-world 1.0.0"
    assert created.changes["namespace"] == "prod-eu/staging"
    assert created.changes["attributes"] == {"replicas": "3"}
    cancelled = only("deployment.cancelled")
    assert cancelled.actor_name == "alice"
    assert cancelled.changes == {"status": ["pending", "cancelled"]}


def test_a_redeploy_names_the_deployment_it_repeats(alice_api, staging, make_release, alice):
    release = make_release()
    first = alice_api.post(
        "/api/deployments", {"release": release.pk, "cluster": "prod-eu", "namespace": "staging"},
        format="json",
    ).json()["id"]  # fmt: skip

    assert alice_api.post(f"/api/deployments/{first}/redeploy").status_code == 202

    second = entries("deployment.created")[1]
    assert second.changes["redeploy_of"] == first


def test_an_automatic_rollback_is_recorded_as_the_system(staging, make_release, alice):
    from deployments import rollback
    from tests.test_pages_overview import deployed

    staging.rollback_on_failure = True
    staging.save()
    good = deployed(make_release(version="1.0.0"), staging, alice)
    bad = deployed(make_release(version="2.0.0"), staging, alice, status=Deployment.Status.FAILED)

    made = rollback.start(bad.pk, good.pk)

    entry = only("deployment.created")
    assert entry.object_id == str(made.pk)
    assert entry.actor is None and entry.actor_name == ""
    assert entry.changes["rollback_of"] == bad.pk
    assert entry.changes["automatic"] is True


# Clusters and namespaces


def test_namespace_patch_records_before_and_after(staging):
    olga = make_user("olga")
    grant("admin", staging, user=olga)
    api = client_for(olga)

    response = api.patch(
        f"/api/namespaces/{staging.pk}",
        {"rollback_on_failure": True, "allowed_kinds": ["Deployment.apps"]},
        format="json",
    )

    assert response.status_code == 200, response.json()
    entry = only("namespace.changed")
    assert entry.actor_name == "olga"
    assert entry.object_repr == "prod-eu/staging"
    assert entry.changes == {
        "allowed_kinds": [[], ["Deployment.apps"]],
        "rollback_on_failure": [False, True],
    }


def test_admin_change_of_a_kubeconfig_records_that_it_changed_never_what_it_is(
    client, admin_user, staging
):
    cluster = staging.cluster
    client.force_login(admin_user)
    new_config = KUBECONFIG.replace("audit-secret-token", "rotated-secret-token")

    response = client.post(
        f"/admin/clusters/cluster/{cluster.pk}/change/",
        {"name": "prod-eu", "context": "", "timeout_seconds": 300, "kubeconfig": new_config,
         "registry_url": "", "registry_username": "", "registry_password": "pa55-registry"},
    )  # fmt: skip

    assert response.status_code == 302, response.content.decode()[:2000]
    entry = only("cluster.changed")
    assert (entry.actor_name, entry.door, entry.ip) == ("admin", "admin", "127.0.0.1")
    assert entry.changes["timeout_seconds"] == [600, 300]
    assert entry.changes["kubeconfig_encrypted"] == "(secret changed)"
    assert entry.changes["registry_password_encrypted"] == "(secret changed)"
    everything = json.dumps(list(AuditEntry.objects.values()), default=str)
    for secret in ("rotated-secret-token", "audit-secret-token", "pa55-registry"):
        assert secret not in everything
    assert cluster.kubeconfig_encrypted not in everything


def test_admin_changes_to_users_and_their_permissions_are_recorded(client, admin_user, alice):
    from django.contrib.auth.models import Group

    client.force_login(admin_user)
    response = client.post("/admin/auth/group/add/", {"name": "auditors", "permissions": []})
    assert response.status_code == 302
    group = Group.objects.get(name="auditors")

    response = client.post(
        f"/admin/auth/user/{alice.pk}/password/",
        {"password1": "a-new-Passw0rd!", "password2": "a-new-Passw0rd!"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]

    assert only("group.created").object_id == str(group.pk)
    changed = only("user.changed")
    assert changed.object_repr == "alice"
    assert "a-new-Passw0rd!" not in json.dumps(changed.changes)
    assert set(changed.changes.values()) == {"(secret changed)"}


# Management commands


def test_management_commands_record_through_the_command_door(monkeypatch, tmp_path):
    monkeypatch.setenv("KUBERNAUT_ADMIN_PASSWORD", "from-the-environment")
    config = tmp_path / "kubeconfig"
    config.write_text(KUBECONFIG)

    call_command("ensure_admin")
    call_command("register_cluster", "eu", "--kubeconfig", str(config), "--namespace", "web")

    user = only("user.created")
    assert user.door == "command"
    assert user.actor is None and user.actor_name.endswith("(shell)")
    assert user.changes["password"] == "(secret set)"
    assert only("cluster.created").door == "command"
    assert only("namespace.created").object_repr == "eu/web"
    assert "audit-secret-token" not in json.dumps(list(AuditEntry.objects.values("changes")))


# GET /api/audit


def test_api_lists_newest_first_with_filters(auditor_api, alice_api, staging, make_release):
    alice_api.post("/api/releases", release_body(version="1"), format="json")
    alice_api.post("/api/releases", release_body(version="2"), format="json")
    release_id = AuditEntry.objects.filter(action="release.created").last().object_id

    body = auditor_api.get("/api/audit").json()
    assert [e["action"] for e in body["results"]][:2] == ["release.created", "release.created"]
    assert body["results"][0]["id"] > body["results"][1]["id"]
    first = body["results"][0]
    assert (first["actor"], first["door"], first["token_name"]) == ("alice", "api", "tests")

    def actions(**query) -> list[str]:
        response = auditor_api.get("/api/audit", query)
        assert response.status_code == 200, response.json()
        return [entry["action"] for entry in response.json()["results"]]

    assert actions(actor="alice") == ["release.created", "release.created", "service.created"]
    assert actions(actor="nobody") == []
    assert actions(action="service.created") == ["service.created"]
    assert actions(action="release.") == ["release.created", "release.created"]
    assert actions(action="release.*") == ["release.created", "release.created"]
    assert actions(object=f"releases.release:{release_id}") == ["release.created"]
    assert actions(object_type="releases.release", object_id=release_id) == ["release.created"]
    assert actions(object="releases.service") == ["service.created"]
    now = timezone.now()
    assert len(actions(since=(now - timedelta(minutes=5)).isoformat())) == 3
    assert actions(until=(now - timedelta(minutes=5)).isoformat()) == []


def test_api_pages_with_a_keyset_cursor(auditor_api, alice_api):
    for version in range(5):
        alice_api.post("/api/releases", release_body(version=str(version)), format="json")

    page = auditor_api.get("/api/audit", {"action": "release.created", "limit": 2}).json()
    seen = [entry["id"] for entry in page["results"]]
    while page["next"]:
        page = auditor_api.get(page["next"]).json()
        seen += [entry["id"] for entry in page["results"]]

    assert len(seen) == 5
    assert seen == sorted(seen, reverse=True)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"object": "not an object"}, "object"),
        ({"object_id": "3"}, "object_id"),
        ({"actor": ""}, "actor"),
        ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
        ({"object": "releases.release:1", "object_type": "releases.release"}, "non_field_errors"),
    ],
)
def test_api_refuses_bad_filters_with_a_sentence(auditor_api, query, field):
    response = auditor_api.get("/api/audit", query)

    assert response.status_code == 400
    body = response.json()
    assert field in body["errors"]
    assert body["detail"].startswith("Invalid request: ")


def test_api_needs_the_view_permission(alice_api):
    response = alice_api.get("/api/audit")

    assert response.status_code == 403
    assert "audit.view_auditentry" in response.json()["detail"]


def test_api_needs_credentials(client):
    assert client.get("/api/audit").status_code in (401, 403)


def test_superusers_read_the_trail(admin_user):
    assert client_for(admin_user).get("/api/audit").status_code == 200


# The page and the links to it


def test_audit_page_lists_and_filters(client, alice_api, make_release):
    alice_api.post("/api/releases", release_body(version="1"), format="json")
    make_release(service="other", version="9")
    client.force_login(make_user("audrey", "view_auditentry"))

    page = client.get("/audit/").content.decode()
    assert "release.created" in page and "hello-world 1" in page and "other 9" in page
    assert "token tests" in page and "127.0.0.1" in page

    filtered = client.get("/audit/", {"object": "releases.service", "actor": "alice"})
    text = filtered.content.decode()
    assert "service.created" in text and "release.created" not in text

    refused = client.get("/audit/", {"object": "bad one"}).content.decode()
    assert "app.model:id" in refused


def test_audit_page_pages_with_an_older_link(client):
    from audit import services

    for number in range(55):
        services.record("example.recorded", message=f"entry {number}")
    client.force_login(make_user("audrey", "view_auditentry"))

    first = client.get("/audit/", {"action": "example."}).content.decode()
    assert "entry 54" in first and "entry 5<" in first and "entry 4<" not in first
    older = first.split('<a href="?')[-1].split('">Older entries')[0].replace("&amp;", "&")
    assert older.startswith("action=example.&before=")

    second = client.get(f"/audit/?{older}").content.decode()
    assert "entry 4<" in second and "entry 0<" in second and "entry 5<" not in second
    assert "Older entries" not in second


def test_audit_page_needs_the_permission(client, alice):
    client.force_login(alice)
    assert client.get("/audit/").status_code == 403


def test_object_pages_link_to_their_audit_trail(client, alice, staging, make_release):
    from tests.test_pages_overview import deployed

    release = make_release()
    deployment = deployed(release, staging, alice)
    auditor = make_user(
        "audrey", "view_auditentry", "view_release", "view_deployment", "view_service"
    )
    grant("viewer", staging, user=auditor)
    client.force_login(auditor)

    detail = client.get(f"/deployments/{deployment.pk}/").content.decode()
    assert f"/audit/?object=deployments.deployment:{deployment.pk}" in detail
    service = client.get("/services/hello-world/").content.decode()
    assert f"/audit/?object=releases.service:{release.service_id}" in service
    assert f"/audit/?object=releases.release:{release.pk}" in service
    releases = client.get("/releases/").content.decode()
    assert f"/audit/?object=releases.release:{release.pk}" in releases

    client.force_login(alice)  # no permission to read the trail: no links to it
    assert "/audit/" not in client.get(f"/deployments/{deployment.pk}/").content.decode()


def test_admin_change_forms_link_to_the_audit_trail(client, admin_user, staging):
    client.force_login(admin_user)

    cluster_page = client.get(f"/admin/clusters/cluster/{staging.cluster_id}/change/")
    namespace_page = client.get(f"/admin/clusters/namespace/{staging.pk}/change/")

    assert f"/audit/?object=clusters.cluster:{staging.cluster_id}" in cluster_page.content.decode()
    assert f"/audit/?object=clusters.namespace:{staging.pk}" in namespace_page.content.decode()


def test_the_trail_is_read_only_in_the_admin(client, admin_user, make_release):
    make_release()
    entry = AuditEntry.objects.first()
    client.force_login(admin_user)

    assert client.get("/admin/audit/auditentry/").status_code == 200
    assert client.get("/admin/audit/auditentry/add/").status_code == 403
    page = client.get(f"/admin/audit/auditentry/{entry.pk}/change/").content.decode()
    assert "release.created" in page and 'name="_save"' not in page
