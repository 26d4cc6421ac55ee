"""POST /api/locks, GET /api/locks (and /api/locks/{id}), DELETE /api/locks/{id}."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken
from audit.models import AuditEntry
from clusters.models import Cluster, Namespace
from locks.models import Lock
from locks.signals import lock_created, lock_deleted
from tests.conftest import client_for, grant, make_user, open_to_teams

pytestmark = pytest.mark.django_db


def place(cluster_name: str, name: str) -> Namespace:
    cluster = Cluster.objects.filter(name=cluster_name).first()
    if cluster is None:
        cluster = Cluster(name=cluster_name)
        cluster.set_kubeconfig("apiVersion: v1\nclusters: []\ncontexts: []\n")
        cluster.save()
    return open_to_teams(Namespace.objects.create(cluster=cluster, name=name))


@pytest.fixture
def staging() -> Namespace:
    return place("prod-eu", "staging")


def lock_body(**overrides) -> dict:
    body = {"cluster": "prod-eu", "namespace": "staging", "reason": "release freeze"}
    body.update(overrides)
    return body


def test_lock_is_created_listed_and_audited(alice_api, alice, staging):
    until = timezone.now() + timedelta(hours=2)
    response = alice_api.post("/api/locks", lock_body(until=until.isoformat()), format="json")

    assert response.status_code == 201, response.json()
    lock = Lock.objects.get()
    body = response.json()
    assert response["Location"] == f"http://testserver/api/locks/{lock.pk}"
    assert body["cluster"] == "prod-eu" and body["namespace"] == "staging"
    assert body["service"] is None
    assert body["reason"] == "release freeze"
    assert body["created_by"] == "alice"
    assert body["active"] is True
    assert body["summary"].startswith("prod-eu/staging is locked by alice since ")
    assert body["summary"].endswith(": release freeze")
    assert lock.until == until.replace(microsecond=until.microsecond)
    entry = AuditEntry.objects.get(action="lock.created")
    assert entry.actor == alice and entry.door == "api" and entry.object_id == str(lock.pk)
    assert entry.message == "release freeze"

    listed = alice_api.get("/api/locks").json()
    assert [row["id"] for row in listed["results"]] == [lock.pk]
    assert alice_api.get(f"/api/locks/{lock.pk}").json()["id"] == lock.pk


def test_service_lock_names_the_service(alice_api, staging, make_release):
    make_release(service="billing")
    response = alice_api.post("/api/locks", lock_body(service="billing"), format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["service"] == "billing"
    assert response.json()["summary"].startswith("billing in prod-eu/staging is locked by alice")


def test_delete_unlocks_but_keeps_the_row(alice_api, alice, staging):
    pk = alice_api.post("/api/locks", lock_body(), format="json").json()["id"]

    response = alice_api.delete(f"/api/locks/{pk}")

    assert response.status_code == 204
    assert not Lock.objects.exists()
    kept = Lock.all_objects.get(pk=pk)
    assert kept.deleted_at is not None and kept.deleted_by == alice
    assert AuditEntry.objects.filter(action="lock.deleted", object_id=str(pk)).count() == 1
    assert alice_api.get("/api/locks").json()["results"] == []
    again = alice_api.delete(f"/api/locks/{pk}")
    assert again.status_code == 404
    assert "unlocked already" in again.json()["detail"]
    # and the database itself refuses to remove it
    with pytest.raises(Exception, match="never removed"), connection.cursor() as cursor:
        cursor.execute("DELETE FROM locks_lock")


def test_a_second_lock_on_the_same_target_is_409_naming_the_first(alice_api, staging, make_release):
    first = alice_api.post("/api/locks", lock_body(), format="json").json()

    response = alice_api.post("/api/locks", lock_body(reason="other"), format="json")

    assert response.status_code == 409
    detail = response.json()["detail"]
    assert detail.startswith("prod-eu/staging is locked by alice since ")
    assert ": release freeze." in detail and f"lock #{first['id']}" in detail
    # a service lock in a locked namespace is a different target
    make_release(service="billing")
    service_lock = lock_body(service="billing")
    assert alice_api.post("/api/locks", service_lock, format="json").status_code == 201
    assert alice_api.post("/api/locks", service_lock, format="json").status_code == 409


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"reason": ""}, "reason", "Give the reason for the lock"),
        ({"reason": "   "}, "reason", "Give the reason for the lock"),
        ({"reason": "x" * 501}, "reason", "no more than 500"),
        ({"reason": 5}, "reason", "Not a valid string"),
        ({"until": "2001-01-01T00:00:00Z"}, "until", "This time has passed"),
        ({"until": "tomorrow"}, "until", "Datetime has wrong format"),
        ({"namespace": None}, "namespace", "may not be null"),
        ({"untill": "2099-01-01T00:00:00Z"}, "untill", "is not a field of a lock"),
    ],
)
def test_bad_input_is_400_naming_the_field(alice_api, staging, overrides, field, message):
    response = alice_api.post("/api/locks", lock_body(**overrides), format="json")

    assert response.status_code == 400, response.json()
    assert message in " ".join(response.json()["errors"][field])
    assert response.json()["detail"].startswith("Invalid request: ")
    assert not Lock.all_objects.exists()


def test_body_must_be_an_object(alice_api, staging):
    response = alice_api.post("/api/locks", ["x"], format="json")
    assert response.status_code == 400
    assert "must be a JSON object" in response.json()["detail"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cluster": "nowhere"}, "no namespace 'staging' in cluster 'nowhere'"),
        ({"namespace": "qa"}, "no namespace 'qa'"),
        ({"service": "nothing"}, "There is no service 'nothing'"),
    ],
)
def test_unknown_names_are_404(alice_api, staging, overrides, message):
    response = alice_api.post("/api/locks", lock_body(**overrides), format="json")
    assert response.status_code == 404
    assert message in response.json()["detail"]


def test_locking_needs_the_deployer_role(bob_api, charlie_api, alice_api, staging):
    # bob is a viewer there, charlie has no role at all
    for api, role in ((bob_api, "you have viewer"), (charlie_api, "you have no role there")):
        response = api.post("/api/locks", lock_body(), format="json")
        assert response.status_code == 403
        assert response.json()["detail"].startswith("Locking prod-eu/staging: it needs the "
                                                    "deployer role on prod-eu/staging")  # fmt: skip
        assert role in response.json()["detail"]
    assert not Lock.objects.exists()

    pk = alice_api.post("/api/locks", lock_body(), format="json").json()["id"]
    response = bob_api.delete(f"/api/locks/{pk}")
    assert response.status_code == 403
    assert "Unlocking prod-eu/staging" in response.json()["detail"]
    assert charlie_api.delete(f"/api/locks/{pk}").status_code == 404  # cannot even see it
    assert Lock.objects.filter(pk=pk).exists()


def test_list_shows_only_locks_of_visible_namespaces_and_filters(
    alice_api, admin_user, bob, staging, make_release
):
    elsewhere = Namespace.objects.create(cluster=staging.cluster, name="secret-place")
    other = place("us", "staging")
    make_release(service="billing")
    admin_api = client_for(admin_user)
    ids = {}
    for name, body in {
        "staging": lock_body(),
        "billing": lock_body(service="billing", cluster="us"),
        "hidden": lock_body(namespace="secret-place"),
    }.items():
        response = admin_api.post("/api/locks", body, format="json")
        assert response.status_code == 201, response.json()
        ids[name] = response.json()["id"]
    assert elsewhere and other

    def listed(api, query=""):
        response = api.get(f"/api/locks{query}")
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert listed(alice_api) == [ids["billing"], ids["staging"]]  # newest first
    assert listed(admin_api) == [ids["hidden"], ids["billing"], ids["staging"]]
    assert listed(alice_api, "?cluster=us") == [ids["billing"]]
    assert listed(alice_api, "?namespace=staging&cluster=prod-eu") == [ids["staging"]]
    # a service filter lists what holds that service: its own locks and whole-namespace ones
    assert listed(admin_api, "?service=billing") == [ids["hidden"], ids["billing"], ids["staging"]]
    assert listed(admin_api, "?service=web") == [ids["hidden"], ids["staging"]]
    assert listed(admin_api, "?limit=1") == [ids["hidden"]]
    assert alice_api.get("/api/locks?cluster=").status_code == 400
    assert alice_api.get(f"/api/locks/{ids['hidden']}").status_code == 404


def test_an_expired_lock_stops_blocking_and_makes_room_for_a_new_one(alice_api, alice, staging):
    lock = Lock.objects.create(
        namespace=staging, reason="old freeze", created_by=alice,
        until=timezone.now() + timedelta(seconds=30),
    )  # fmt: skip
    assert alice_api.post("/api/locks", lock_body(), format="json").status_code == 409
    Lock.objects.filter(pk=lock.pk).update(until=timezone.now() - timedelta(seconds=1))

    assert alice_api.get("/api/locks").json()["results"] == []
    assert alice_api.get(f"/api/locks/{lock.pk}").json()["active"] is False
    response = alice_api.post("/api/locks", lock_body(), format="json")

    assert response.status_code == 201, response.json()
    lock.refresh_from_db()
    assert lock.deleted_at is not None and lock.deleted_by is None
    assert AuditEntry.objects.filter(action="lock.expired", object_id=str(lock.pk)).exists()


def test_signals_are_sent_after_commit(alice_api, staging, django_capture_on_commit_callbacks):
    heard = []

    def receiver(signal, sender, lock, user, **kwargs):
        heard.append((signal, lock.pk, user.username, lock.sentence()))

    lock_created.connect(receiver)
    lock_deleted.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            pk = alice_api.post("/api/locks", lock_body(), format="json").json()["id"]
        assert heard == []  # nothing before the commit
        for callback in callbacks:
            callback()
        with django_capture_on_commit_callbacks(execute=True):
            alice_api.delete(f"/api/locks/{pk}")
    finally:
        lock_created.disconnect(receiver)
        lock_deleted.disconnect(receiver)
    assert [(signal, lock, user) for signal, lock, user, _ in heard] == [
        (lock_created, pk, "alice"), (lock_deleted, pk, "alice"),
    ]  # fmt: skip
    assert "release freeze" in heard[0][3]


def test_a_token_limited_to_other_namespaces_cannot_lock(alice, staging):
    other = place("prod-eu", "other")
    token, key = ApiToken.issue(alice, name="ci")
    token.namespaces.set([other])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = api.post("/api/locks", lock_body(), format="json")
    assert response.status_code == 403
    assert "is limited to prod-eu/other" in response.json()["detail"]


def test_a_granted_deployer_outside_the_team_may_lock(staging):
    dora = make_user("dora")
    grant("deployer", staging, user=dora)
    response = client_for(dora).post("/api/locks", lock_body(), format="json")
    assert response.status_code == 201, response.json()
