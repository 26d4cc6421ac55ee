"""Deployments to a locked target: 423 with who, why and since when, from every door; an admin's
override is audited; automatic rollbacks are held."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEntry
from clusters.models import Cluster, Namespace
from deployments import rollback
from deployments.models import Deployment
from locks.models import Lock
from tests.conftest import client_for, grant, open_to_teams
from tests.test_pages_overview import deployed

pytestmark = pytest.mark.django_db


@pytest.fixture
def staging(db) -> Namespace:
    cluster = Cluster(name="prod-eu")
    cluster.set_kubeconfig("apiVersion: v1\nclusters: []\ncontexts: []\n")
    cluster.save()
    return open_to_teams(Namespace.objects.create(cluster=cluster, name="staging"))


def lock(namespace, user, reason="release freeze", service=None, **fields) -> Lock:
    return Lock.objects.create(
        namespace=namespace, service=service, reason=reason, created_by=user, **fields
    )


def body(**overrides) -> dict:
    data = {"service": "hello-world", "version": "1.0.0", "cluster": "prod-eu",
            "namespace": "staging"}  # fmt: skip
    data.update(overrides)
    return data


def test_a_locked_namespace_refuses_deployments_with_423_naming_who_why_and_since(
    alice_api, bob, staging, make_release
):
    make_release()
    held = lock(staging, bob, reason="black friday")

    response = alice_api.post("/api/deployments", body(), format="json")

    assert response.status_code == 423, response.json()
    detail = response.json()["detail"]
    since = held.created_at.strftime("%Y-%m-%d %H:%M UTC")
    assert detail.startswith(f"prod-eu/staging is locked by bob since {since}: black friday. ")
    assert f"kubernaut unlock {held.pk}" in detail and "override_lock" in detail
    assert response.json()["lock"]["id"] == held.pk
    assert response.json()["lock"]["reason"] == "black friday"
    assert response.json()["lock"]["created_by"] == "bob"
    assert not Deployment.all_objects.exists()


def test_a_service_lock_holds_only_that_service(alice_api, alice, staging, make_release):
    make_release()
    billing = make_release(service="billing")
    lock(staging, alice, reason="migrating the ledger", service=billing.service)

    refused = alice_api.post("/api/deployments", body(service="billing"), format="json")
    allowed = alice_api.post("/api/deployments", body(), format="json")

    assert refused.status_code == 423
    assert refused.json()["detail"].startswith("billing in prod-eu/staging is locked by alice")
    assert allowed.status_code == 202, allowed.json()


def test_a_lock_elsewhere_or_expired_or_unlocked_does_not_hold(
    alice_api, alice, staging, make_release
):
    release = make_release()
    other = open_to_teams(Namespace.objects.create(cluster=staging.cluster, name="other"))
    lock(other, alice)
    lock(staging, alice, reason="over", until=timezone.now() + timedelta(minutes=5))
    Lock.objects.filter(namespace=staging).update(until=timezone.now() - timedelta(seconds=1))
    assert alice_api.post("/api/deployments", body(), format="json").status_code == 202

    unlocked = lock(staging, alice, reason="lifted soon", service=release.service)
    assert alice_api.post("/api/deployments", body(), format="json").status_code == 423
    unlocked.soft_delete(by=alice)
    assert alice_api.post("/api/deployments", body(), format="json").status_code == 202


def test_an_admin_overrides_with_a_reason_and_it_is_audited_and_logged(
    admin_user, alice, staging, make_release
):
    make_release()
    held = lock(staging, alice)

    response = client_for(admin_user).post(
        "/api/deployments", body(override_lock="hotfix for INC-42"), format="json"
    )

    assert response.status_code == 202, response.json()
    deployment = Deployment.objects.get()
    entry = AuditEntry.objects.get(action="deployment.lock_overridden")
    assert entry.actor == admin_user and entry.door == "api"
    assert entry.object_type == "deployments.deployment"
    assert entry.object_id == str(deployment.pk)
    assert entry.message == "hotfix for INC-42"
    assert entry.changes["lock"] == held.pk and entry.changes["lock_reason"] == "release freeze"
    log = [line["message"] for line in response.json()["log"]]
    assert any(
        line.startswith("Deployed despite the lock by admin: hotfix for INC-42") for line in log
    ), log
    assert Lock.objects.filter(pk=held.pk).exists()  # the lock stays


def test_a_namespace_admin_may_override_a_deployer_may_not(alice, staging, make_release):
    make_release()
    lock(staging, alice)

    refused = client_for(alice).post(
        "/api/deployments", body(override_lock="I am in a hurry"), format="json"
    )

    assert refused.status_code == 403
    detail = refused.json()["detail"]
    assert detail.startswith("Deploying despite the lock on prod-eu/staging (release freeze): it "
                             "needs the admin role on prod-eu/staging")  # fmt: skip
    assert "you have deployer" in detail
    assert not Deployment.all_objects.exists()
    assert not AuditEntry.objects.filter(action="deployment.lock_overridden").exists()

    grant("admin", staging, user=alice)
    from teams.access import forget_roles

    forget_roles(alice)
    allowed = client_for(alice).post(
        "/api/deployments", body(override_lock="I am in a hurry"), format="json"
    )
    assert allowed.status_code == 202, allowed.json()


@pytest.mark.parametrize("reason", ["", "   ", 42])
def test_override_needs_a_reason(admin_user, alice, staging, make_release, reason):
    make_release()
    lock(staging, alice)
    response = client_for(admin_user).post(
        "/api/deployments", body(override_lock=reason), format="json"
    )
    assert response.status_code == 400, response.json()
    assert "override_lock" in response.json()["errors"]
    assert not Deployment.all_objects.exists()


def test_redeploy_is_held_too_and_may_be_overridden(admin_user, alice_api, alice, staging,
                                                    make_release):  # fmt: skip
    make_release()
    first = alice_api.post("/api/deployments", body(), format="json").json()["id"]
    lock(staging, alice)

    refused = alice_api.post(f"/api/deployments/{first}/redeploy", {}, format="json")
    overridden = client_for(admin_user).post(
        f"/api/deployments/{first}/redeploy", {"override_lock": "roll forward"}, format="json"
    )

    assert refused.status_code == 423 and "release freeze" in refused.json()["detail"]
    assert overridden.status_code == 202, overridden.json()
    assert AuditEntry.objects.filter(action="deployment.lock_overridden").count() == 1


def test_the_schema_documents_423_and_403(admin_user):
    schema = client_for(admin_user).get("/api/schema/?format=json").json()
    for path in ("/api/deployments", "/api/deployments/{id}/redeploy"):
        responses = schema["paths"][path]["post"]["responses"]
        assert {"403", "423"} <= set(responses), path
    locked = schema["paths"]["/api/deployments"]["post"]["responses"]["423"]
    assert "lock" in str(locked)
    assert {"201", "409", "404"} <= set(schema["paths"]["/api/locks"]["post"]["responses"])
    assert "204" in schema["paths"]["/api/locks/{id}"]["delete"]["responses"]


# --- automatic rollbacks ---------------------------------------------------------------------


def test_an_automatic_rollback_into_a_locked_namespace_is_held(target, alice, make_release):
    from deployments import runner, services

    target.rollback_on_failure = True
    target.save()
    good = services.create_deployment(
        release=make_release(version="1.0.0"), namespace=target, attributes={}, user=alice,
        timeout_seconds=30,
    )  # fmt: skip
    runner.run(good.pk)
    good.refresh_from_db()
    assert good.status == Deployment.Status.SUCCEEDED
    # queued before the lock (a lock stops new deployments, not those already asked for)
    bad = services.create_deployment(
        release=make_release(version="1.0.1"), namespace=target,
        attributes={"image": "registry.example/hello:does-not-exist"}, user=alice,
        timeout_seconds=30,
    )  # fmt: skip
    held = lock(target, alice, reason="investigating the outage")

    runner.run(bad.pk)

    bad.refresh_from_db()
    assert bad.status == Deployment.Status.FAILED
    assert not Deployment.objects.filter(rollback_of=bad).exists()
    log = "\n".join(entry.message for entry in bad.log_entries.all())
    assert f"No automatic rollback: it is held by a lock: {target.cluster.name}/{target.name} is " \
           "locked by alice since " in log  # fmt: skip
    assert "investigating the outage" in log

    # A lock that comes between the decision and the start holds it too.
    assert rollback.start(bad.pk, good.pk) is None
    assert bad.log_entries.filter(
        message__startswith="The automatic rollback could not start: it is held by a lock"
    ).exists()
    assert held.reason in bad.log_entries.last().message


# --- the pages -------------------------------------------------------------------------------


def form(target, action: str, **fields) -> dict:
    return {"namespace": target.pk, "attributes": "", "action": action, **fields}


def test_deploy_page_shows_the_lock_and_refuses_with_423(client, alice, bob, make_release, target):
    release = make_release()
    lock(target, bob, reason="db migration", until=timezone.now() + timedelta(hours=1))
    client.force_login(alice)

    page = client.get(f"/releases/{release.pk}/deploy").content.decode()
    assert "Locked for hello-world" in page
    assert "locked by bob since" in page and "db migration" in page and ", until " in page

    preview = client.post(f"/releases/{release.pk}/deploy", form(target, "preview"))
    text = preview.content.decode()
    assert preview.status_code == 200
    assert f"{target.cluster.name}/{target.name} is locked by bob since" in text
    assert 'value="deploy"' not in text  # no deploy button
    assert "override_lock" not in text  # a deployer is not offered the override

    refused = client.post(f"/releases/{release.pk}/deploy", form(target, "deploy"))
    assert refused.status_code == 423
    assert "Not deployed: " in refused.content.decode()
    assert "db migration" in refused.content.decode()
    assert not Deployment.objects.exists()

    # the override field is only for admins: sent anyway, it is 403
    sneaky = client.post(f"/releases/{release.pk}/deploy", form(target, "deploy",
                                                                 override_lock="hm"))  # fmt: skip
    assert sneaky.status_code == 403
    assert not Deployment.objects.exists()


def test_an_admin_overrides_on_the_deploy_page(client, admin_user, alice, make_release, target):
    release = make_release()
    lock(target, alice, reason="db migration")
    client.force_login(admin_user)

    preview = client.post(f"/releases/{release.pk}/deploy", form(target, "preview"))
    assert 'name="override_lock"' in preview.content.decode()
    assert "despite the lock" in preview.content.decode()

    response = client.post(
        f"/releases/{release.pk}/deploy", form(target, "deploy", override_lock="security fix")
    )

    deployment = Deployment.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/deployments/{deployment.pk}/"
    entry = AuditEntry.objects.get(action="deployment.lock_overridden")
    assert entry.door == "web" and entry.actor == admin_user and entry.message == "security fix"
    assert deployment.log_entries.filter(
        message__startswith="Deployed despite the lock by admin: security fix"
    ).exists()


def test_redeploy_button_on_a_locked_target_says_why(client, alice, make_release, staging):
    release = make_release()
    original = deployed(release, staging, alice)
    lock(staging, alice, reason="freeze")
    client.force_login(alice)

    # Redeploy leads to the preview, which shows the lock in place of the Deploy button.
    response = client.post(f"/deployments/{original.pk}/redeploy", follow=True)

    page = response.content.decode()
    assert "🔒 prod-eu/staging is locked by alice since" in page and ": freeze." in page
    assert 'value="deploy"' not in page
    assert Deployment.objects.count() == 1


def test_overview_marks_locked_namespaces_and_services_in_bounded_queries(
    client, alice, bob, make_release, staging, django_assert_max_num_queries
):
    release = make_release()
    billing = make_release(service="billing")
    other = open_to_teams(Namespace.objects.create(cluster=staging.cluster, name="other"))
    deployed(release, staging, alice)
    deployed(release, other, alice)
    lock(staging, bob, reason="freeze for the audit")
    lock(other, alice, reason="ledger migration", service=billing.service)
    client.force_login(alice)

    # Session, user, permissions, services, namespaces, two grid lookups, deployments, locks.
    # As tests/test_pages_overview.py counts: the locks are one query of the twelve.
    with django_assert_max_num_queries(12):
        page = client.get("/").content.decode()

    assert page.count("🔒") == 2
    assert 'title="prod-eu/staging is locked by bob since ' in page
    assert "freeze for the audit" in page
    assert 'title="billing in prod-eu/other is locked by alice since ' in page
