"""POST/GET /api/webhooks, GET/DELETE /api/webhooks/{id}, GET /api/webhooks/{id}/deliveries."""

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken
from audit.models import AuditEntry
from clusters.models import Cluster, Namespace
from notifications import services
from notifications.models import Delivery, Webhook
from teams.models import Grant, Role
from tests.conftest import client_for, make_user

pytestmark = pytest.mark.django_db

SECRET = "s3cret-signing-key-0123"
SLACK_URL = "https://hooks.slack.com/services/T0001/B0002/XyZtokenPART"


@pytest.fixture
def places() -> dict[str, Namespace]:
    made = {}
    for cluster_name in ("eu", "us"):
        cluster = Cluster(name=cluster_name)
        cluster.set_kubeconfig("{}")
        cluster.save()
        for name in ("staging", "production") if cluster_name == "eu" else ("staging",):
            made[f"{cluster_name}/{name}"] = Namespace.objects.create(cluster=cluster, name=name)
    return made


@pytest.fixture
def admin_api(admin_user) -> APIClient:
    return client_for(admin_user)


def grant(user, role: Role, namespace: Namespace) -> None:
    Grant.objects.create(role=role, user=user, cluster=namespace.cluster, namespace=namespace)


@pytest.fixture
def nina(places):
    """An admin of eu/staging and a viewer of eu/production, without Django permissions."""
    user = make_user("nina")
    grant(user, Role.ADMIN, places["eu/staging"])
    grant(user, Role.VIEWER, places["eu/production"])
    return user


def generic(**overrides) -> dict:
    return {
        "url": "https://ci.example.com/hooks/kubernaut?key=abc",
        "kind": "generic",
        "secret": SECRET,
        "events": ["deployment.succeeded", "deployment.failed"],
        **overrides,
    }


def assert_no_secret(response) -> None:
    text = response.content.decode()
    for secret in (SECRET, "XyZtokenPART", "T0001", "/hooks/kubernaut", "key=abc"):
        assert secret not in text


def test_add_a_generic_webhook(admin_api, places):
    response = admin_api.post(
        "/api/webhooks", generic(cluster="eu", namespace="staging"), format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body | {"id": 0, "created_at": ""} == {
        "id": 0, "url": "https://ci.example.com/…", "kind": "generic", "has_secret": True,
        "events": ["deployment.succeeded", "deployment.failed"], "cluster": "eu",
        "namespace": "staging", "service": None, "created_by": "admin", "created_at": "",
        "deliveries_url": f"http://testserver/api/webhooks/{body['id']}/deliveries",
    }  # fmt: skip
    assert_no_secret(response)
    webhook = Webhook.objects.get(pk=body["id"])
    assert webhook.url == "https://ci.example.com/hooks/kubernaut?key=abc"
    assert webhook.secret == SECRET
    assert SECRET not in webhook.encrypted_secret and "hooks" not in webhook.encrypted_url


def test_add_a_slack_webhook_for_every_namespace(admin_api, make_release):
    make_release(service="web")
    response = admin_api.post(
        "/api/webhooks",
        {"url": SLACK_URL, "kind": "slack", "events": ["lock.created", "lock.created"],
         "service": "web", "cluster": None},
        format="json",
    )  # fmt: skip

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["url"], body["has_secret"], body["events"]) == (
        "https://hooks.slack.com/…", False, ["lock.created"],
    )  # fmt: skip
    assert (body["cluster"], body["namespace"], body["service"]) == (None, None, "web")
    assert_no_secret(response)


def test_a_namespace_alone_is_found_when_one_cluster_has_it(admin_api, places):
    response = admin_api.post("/api/webhooks", generic(namespace="production"), format="json")
    assert response.status_code == 201, response.json()
    assert (response.json()["cluster"], response.json()["namespace"]) == ("eu", "production")


def test_adding_and_deleting_are_audited_without_secrets(admin_api, places):
    created = admin_api.post("/api/webhooks", generic(), format="json").json()
    assert admin_api.delete(f"/api/webhooks/{created['id']}").status_code == 204

    entries = AuditEntry.objects.filter(object_type="notifications.webhook").order_by("id")
    assert [(e.action, e.actor_name, e.door) for e in entries] == [
        ("webhook.created", "admin", "api"), ("webhook.deleted", "admin", "api"),
    ]  # fmt: skip
    assert entries[0].changes["url"] == "https://ci.example.com/…"
    assert entries[0].changes["has_secret"] is True
    for entry in entries:
        text = str(entry.changes) + entry.message + entry.object_repr
        assert SECRET not in text and "hooks/kubernaut" not in text


def test_list_get_and_delete(admin_api, places):
    first = admin_api.post("/api/webhooks", generic(), format="json").json()
    second = admin_api.post(
        "/api/webhooks", {"url": SLACK_URL, "kind": "slack", "events": ["lock.deleted"]},
        format="json",
    ).json()  # fmt: skip

    listed = admin_api.get("/api/webhooks")
    assert listed.status_code == 200
    assert [w["id"] for w in listed.json()["results"]] == [second["id"], first["id"]]
    assert_no_secret(listed)
    detail = admin_api.get(f"/api/webhooks/{first['id']}")
    assert detail.json() == first
    assert_no_secret(detail)

    assert admin_api.delete(f"/api/webhooks/{first['id']}").status_code == 204

    assert admin_api.get(f"/api/webhooks/{first['id']}").status_code == 404
    assert admin_api.delete(f"/api/webhooks/{first['id']}").status_code == 404
    assert [w["id"] for w in admin_api.get("/api/webhooks").json()["results"]] == [second["id"]]
    assert Webhook.all_objects.get(pk=first["id"]).is_deleted  # kept, soft-deleted


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (generic(url="ftp://files.example/x"), "url", "Give an http:// or https:// address"),
        (generic(url="https://user:pw@ci.example/x"), "url", "Take the user name and password"),
        (generic(url="https://ci.example/x#part"), "url", "Take the #fragment out"),
        (generic(url="https://ci.example:99999/"), "url", "port must be a number"),
        (generic(url="https://ci.exa mple/"), "url", "may not contain spaces"),
        (generic(url="https://bücher.example/"), "url", "punycode"),
        (generic(url="http://"), "url", "Give an http:// or https:// address"),
        (generic(url="https://x.example/" + "a" * 2000), "url", "no more than 2000 characters"),
        (generic(url="http://127.0.0.1:8080/"), "url", "a loopback address"),
        (generic(url="http://[::ffff:10.0.0.1]/"), "url", "a private address"),
        (generic(url="http://169.254.169.254/latest"), "url", "a link-local address"),
        (generic(url=5), "url", "Not a valid string"),
        (generic(events=[]), "events", "at least 1"),
        (generic(events=["deployment.exploded"]), "events", "not an event; the events are: "),
        (generic(events="deployment.failed"), "events", "Expected a list"),
        (generic(secret=None), "secret", "may not be null"),
        ({k: v for k, v in generic().items() if k != "secret"}, "secret", "needs a secret"),
        (generic(secret="short"), "secret", "at least 16 characters"),
        (generic(kind="slack"), "secret", "Slack webhooks take no secret"),
        (generic(kind="teams"), "kind", "not a valid choice"),
        (generic(cluster="mars"), "cluster", "There is no cluster 'mars'"),
        (generic(cluster="us", namespace="production"), "namespace",
         "There is no namespace 'production' in cluster 'us'"),
        (generic(namespace="staging"), "namespace", "Clusters eu, us each have a namespace"),
        (generic(service="nope"), "service", "There is no service 'nope'"),
        (generic(cluster=""), "cluster", "may not be blank"),
        (generic(event=["lock.created"]), "event", "Unknown field 'event'"),
    ],
)  # fmt: skip
def test_invalid_input_is_refused_with_a_sentence(admin_api, places, body, field, message):
    response = admin_api.post("/api/webhooks", body, format="json")

    assert response.status_code == 400, response.json()
    assert message in str(response.json()["errors"][field])
    assert response.json()["detail"].startswith("Invalid request: ")
    assert not Webhook.all_objects.exists()


@pytest.mark.parametrize("body", ["[]", '"text"', "5", "null"])
def test_a_body_that_is_not_an_object_is_refused(admin_api, body):
    response = admin_api.post("/api/webhooks", body, content_type="application/json")
    assert response.status_code == 400
    assert "must be a JSON object" in response.json()["detail"]


def test_private_addresses_may_be_added_when_allowed(admin_api, settings):
    settings.KUBERNAUT_WEBHOOK_ALLOW_PRIVATE = True
    response = admin_api.post("/api/webhooks", generic(url="http://10.0.0.5/hook"), format="json")
    assert response.status_code == 201, response.json()


def test_without_credentials_401():
    response = APIClient().post("/api/webhooks", generic(), format="json")
    assert response.status_code == 401
    assert APIClient().get("/api/webhooks").status_code == 401


def test_someone_without_any_admin_role_may_not_add_one(charlie_api, places):
    response = charlie_api.post("/api/webhooks", generic(namespace="staging"), format="json")
    assert response.status_code == 403
    assert "needs the admin role on the namespace" in response.json()["detail"]
    assert charlie_api.get("/api/webhooks").json()["results"] == []


def test_a_namespace_admin_manages_the_webhooks_of_that_namespace(nina, admin_api, places):
    api = client_for(nina)
    mine = api.post("/api/webhooks", generic(cluster="eu", namespace="staging"), format="json")
    assert mine.status_code == 201, mine.json()
    everywhere = api.post("/api/webhooks", generic(), format="json")
    assert everywhere.status_code == 403
    assert (
        "needs a superuser or the permission notifications.add_webhook"
        in (everywhere.json()["detail"])
    )
    viewer_only = api.post(
        "/api/webhooks", generic(cluster="eu", namespace="production"), format="json"
    )
    assert viewer_only.status_code == 403
    assert "needs the admin role on eu/production" in viewer_only.json()["detail"]
    others = admin_api.post(
        "/api/webhooks", generic(cluster="eu", namespace="production"), format="json"
    ).json()
    unfiltered = admin_api.post("/api/webhooks", generic(), format="json").json()

    assert [w["id"] for w in api.get("/api/webhooks").json()["results"]] == [mine.json()["id"]]
    for hidden in (others, unfiltered):
        assert api.get(f"/api/webhooks/{hidden['id']}").status_code == 404
        assert api.get(f"/api/webhooks/{hidden['id']}/deliveries").status_code == 404
        assert api.delete(f"/api/webhooks/{hidden['id']}").status_code == 404
    assert api.get(f"/api/webhooks/{mine.json()['id']}/deliveries").status_code == 200
    assert api.delete(f"/api/webhooks/{mine.json()['id']}").status_code == 204


def test_the_django_permission_manages_every_webhook(admin_api):
    operator = client_for(make_user("olga", "add_webhook", "view_webhook", "delete_webhook"))
    created = operator.post("/api/webhooks", generic(), format="json")
    assert created.status_code == 201, created.json()
    by_admin = admin_api.post("/api/webhooks", generic(), format="json").json()
    assert len(operator.get("/api/webhooks").json()["results"]) == 2
    assert operator.delete(f"/api/webhooks/{by_admin['id']}").status_code == 204


def test_a_read_only_token_may_not_change_webhooks(admin_user, admin_api):
    token, key = ApiToken.issue(admin_user, name="readonly")
    token.read_only = True
    token.save()
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    existing = admin_api.post("/api/webhooks", generic(), format="json").json()

    refused = reader.post("/api/webhooks", generic(), format="json")
    assert refused.status_code == 403
    assert "is read-only" in refused.json()["detail"]
    assert reader.get(f"/api/webhooks/{existing['id']}").status_code == 200
    assert reader.delete(f"/api/webhooks/{existing['id']}").status_code == 403


def test_a_token_limited_to_namespaces_may_not_add_a_webhook_for_all(admin_user, places):
    token, key = ApiToken.issue(admin_user, name="staging-only")
    token.namespaces.set([places["eu/staging"]])
    limited = APIClient()
    limited.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    refused = limited.post("/api/webhooks", generic(), format="json")
    assert refused.status_code == 403
    assert "limited to some namespaces" in refused.json()["detail"]
    allowed = limited.post(
        "/api/webhooks", generic(cluster="eu", namespace="staging"), format="json"
    )
    assert allowed.status_code == 201, allowed.json()


def test_the_delivery_log_pages_newest_first(admin_api, places):
    created = admin_api.post("/api/webhooks", generic(cluster="eu"), format="json").json()
    for _ in range(3):
        services.notify(
            "deployment.failed", namespace=places["eu/staging"], service_name="web",
            summary={"who": "alice"},
        )  # fmt: skip
    ids = list(Delivery.objects.order_by("-id").values_list("id", flat=True))
    Delivery.objects.filter(pk=ids[-1]).update(state="failed", status_code=500, error="No.")

    first = admin_api.get(f"/api/webhooks/{created['id']}/deliveries?limit=2")
    assert first.status_code == 200
    page = first.json()
    assert [d["id"] for d in page["results"]] == ids[:2]
    assert set(page["results"][0]) == {
        "id", "event", "event_id", "attempt", "state", "status_code", "error", "created_at",
        "next_attempt_at", "started_at", "duration_ms", "payload",
    }  # fmt: skip
    assert page["results"][0]["payload"]["deployment"]["who"] == "alice"
    rest = admin_api.get(page["next"]).json()
    assert [(d["id"], d["state"], d["status_code"], d["error"]) for d in rest["results"]] == [
        (ids[2], "failed", 500, "No.")
    ]
    assert_no_secret(first)
    assert admin_api.get("/api/webhooks/999999/deliveries").status_code == 404
    bad = admin_api.get(f"/api/webhooks/{created['id']}/deliveries?cursor=nonsense")
    assert bad.status_code == 400


def test_the_database_refuses_to_remove_a_webhook(admin_api):
    from django.db import IntegrityError, connection, transaction

    admin_api.post("/api/webhooks", generic(), format="json")
    refused = pytest.raises(IntegrityError, match="rows of notifications_webhook are never removed")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM notifications_webhook")
    assert Webhook.all_objects.count() == 1


def test_a_token_limited_to_services_manages_only_their_webhooks(
    admin_user, admin_api, make_release
):
    make_release(service="web")
    make_release(service="api")
    _, key = ApiToken.issue(admin_user, name="web-only", services=["web"])
    limited = APIClient()
    limited.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    others = admin_api.post("/api/webhooks", generic(service="api"), format="json").json()

    refused = limited.post("/api/webhooks", generic(), format="json")
    assert refused.status_code == 403
    assert "limited to some services" in refused.json()["detail"]
    assert limited.post("/api/webhooks", generic(service="api"), format="json").status_code == 403
    mine = limited.post("/api/webhooks", generic(service="web"), format="json")
    assert mine.status_code == 201, mine.json()
    listed = limited.get("/api/webhooks").json()["results"]
    assert [w["id"] for w in listed] == [mine.json()["id"]]
    assert limited.get(f"/api/webhooks/{others['id']}").status_code == 404
