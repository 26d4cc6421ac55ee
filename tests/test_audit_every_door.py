"""The issue's acceptance walk: each kind of change, made through its usual door by its usual
person, shows in GET /api/audit with that person, the door and (for tokens) the token's name.

Each module of its own tests the details (test_audit_trail, test_deploy_locked, test_pages_tokens,
test_teams_admin, test_webhooks_api); this one reads them all back through the API an auditor
uses, as one story.
"""

import pytest

from clusters.models import Cluster, Namespace
from tests.conftest import client_for, make_user, open_to_teams, release_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def staging(db) -> Namespace:
    cluster = Cluster(name="prod-eu")
    cluster.set_kubeconfig("apiVersion: v1\nkind: Config\n")
    cluster.save()
    return open_to_teams(Namespace.objects.create(cluster=cluster, name="staging"))


def trail(auditor_api) -> list[tuple[str, str, str, str]]:
    """(action, actor, door, token name) of every entry, oldest first, read page by page."""
    seen, url = [], "/api/audit?page_size=20"
    while url:
        page = auditor_api.get(url)
        assert page.status_code == 200, page.json()
        body = page.json()
        seen += [
            (entry["action"], entry["actor"] or "", entry["door"], entry["token_name"])
            for entry in body["results"]
        ]
        url = body["next"]
    return list(reversed(seen))


def test_every_change_shows_in_the_api_with_its_actor_and_door(alice, admin_user, staging, client):
    jenkins = client_for(alice)  # a token named "tests"
    admin_api = client_for(admin_user)

    # Releases: created and deleted by CI's token, restored by an admin in the admin.
    release = jenkins.post("/api/releases", release_body(), format="json").json()
    doomed = jenkins.post("/api/releases", release_body(version="2"), format="json").json()
    assert jenkins.delete(f"/api/releases/{doomed['id']}").status_code == 204
    client.force_login(admin_user)
    restored = client.post(
        "/admin/releases/release/?deleted=all",
        {"action": "restore", "_selected_action": [doomed["id"]]},
    )
    assert restored.status_code == 302

    # Deployments: asked for and cancelled.
    asked = {"release": release["id"], "cluster": "prod-eu", "namespace": "staging"}
    deployment = jenkins.post("/api/deployments", asked, format="json").json()
    assert jenkins.post(f"/api/deployments/{deployment['id']}/cancel").status_code == 200

    # Locks: created by a deployer, overridden by an admin, lifted.
    lock = jenkins.post(
        "/api/locks", {"cluster": "prod-eu", "namespace": "staging", "reason": "freeze"},
        format="json",
    ).json()  # fmt: skip
    assert jenkins.post("/api/deployments", asked, format="json").status_code == 423
    overridden = admin_api.post(
        "/api/deployments", {**asked, "override_lock": "hotfix"}, format="json"
    )
    assert overridden.status_code == 202, overridden.json()
    assert jenkins.delete(f"/api/locks/{lock['id']}").status_code == 204

    # A namespace's settings, by an admin through the API.
    changed = admin_api.patch(
        f"/api/namespaces/{staging.pk}", {"rollback_on_failure": True}, format="json"
    )
    assert changed.status_code == 200

    # Teams and grants, in the admin.
    added = client.post("/admin/teams/team/add/", {"name": "payments", "members": [alice.pk]})
    assert added.status_code == 302
    granted = client.post(
        "/admin/teams/grant/add/",
        {"role": "viewer", "user": alice.pk, "cluster": staging.cluster_id,
         "namespace": staging.pk},
    )  # fmt: skip
    assert granted.status_code == 302

    # Tokens: alice makes one on her Tokens page and revokes it.
    client.force_login(alice)
    made = client.post("/account/tokens/", {"name": "laptop", "expires_in_days": "30"})
    assert made.status_code == 200
    token_id = alice.tokens.get(name="laptop").pk
    assert client.post(f"/account/tokens/{token_id}/revoke").status_code == 302

    # Webhooks, by an admin.
    hook = admin_api.post(
        "/api/webhooks",
        {"url": "https://hooks.example.com/k", "kind": "generic", "secret": "s" * 32,
         "events": ["deployment.succeeded"]},
        format="json",
    )  # fmt: skip
    assert hook.status_code == 201, hook.json()

    # Sign-ins, good and bad.
    client.logout()
    assert client.post("/login/", {"username": "alice", "password": "wrong"}).status_code == 200
    assert client.post("/login/", {"username": "alice", "password": "pw-alice"}).status_code == 302

    auditor = make_user("audrey", "view_auditentry")
    seen = trail(client_for(auditor))

    expected = [
        ("release.created", "alice", "api", "tests"),
        ("release.deleted", "alice", "api", "tests"),
        ("release.restored", "admin", "admin", ""),
        ("deployment.created", "alice", "api", "tests"),
        ("deployment.cancelled", "alice", "api", "tests"),
        ("lock.created", "alice", "api", "tests"),
        ("deployment.lock_overridden", "admin", "api", "tests"),
        ("lock.deleted", "alice", "api", "tests"),
        ("namespace.changed", "admin", "api", "tests"),
        ("team.created", "admin", "admin", ""),
        ("grant.created", "admin", "admin", ""),
        ("token.created", "alice", "web", ""),
        ("token.revoked", "alice", "web", ""),
        ("webhook.created", "admin", "api", "tests"),
        ("sign_in_failed", "alice", "web", ""),  # the name tried; no account is sure
        ("sign_in", "alice", "web", ""),
    ]
    missing = [wanted for wanted in expected if wanted not in seen]
    assert not missing, f"missing {missing} in {seen}"
    # In the order they happened (other entries, such as the admin's sign-ins, in between).
    positions = [seen.index(wanted) for wanted in expected]
    assert positions == sorted(positions)
