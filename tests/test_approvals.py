"""Deployments that wait for approval: who may approve or reject, what queues them, expiry,
locks, the audit trail, webhooks, the deployment page and `kubernaut deploy --wait`."""

import threading
from datetime import timedelta

import pytest
from django_q.models import OrmQ

from approvals import services
from approvals.models import Approval
from audit.models import AuditEntry
from clusters.models import Cluster, Namespace
from deployments import services as deployment_services
from deployments.models import Deployment
from locks import services as lock_services
from notifications.models import Delivery, Event
from notifications.services import create_webhook
from tests.conftest import client_for, grant, make_user, open_to_teams

Status = Deployment.Status


@pytest.fixture
def staging(db) -> Namespace:
    """A namespace needing one approval, on a cluster nobody talks to."""
    cluster = Cluster(name="prod-eu")
    cluster.set_kubeconfig("apiVersion: v1\nclusters: []\ncontexts: []\n")
    cluster.save()
    return open_to_teams(
        Namespace.objects.create(cluster=cluster, name="staging", required_approvals=1)
    )


@pytest.fixture
def approver(charlie, staging):
    """charlie holds deployer in staging (alice, in team engineers, too; bob only views)."""
    grant("deployer", staging, user=charlie)
    return charlie


@pytest.fixture
def dave(db, staging):
    user = make_user("dave")
    grant("deployer", staging, user=user)
    return user


@pytest.fixture
def ask(make_release, alice, django_capture_on_commit_callbacks):
    """ask(namespace): alice asks to deploy hello-world 1.0.0 there (callbacks run)."""
    release = None

    def make(namespace: Namespace, **fields) -> Deployment:
        nonlocal release
        release = release or make_release()
        with django_capture_on_commit_callbacks(execute=True):
            return deployment_services.create_deployment(
                release=release, namespace=namespace, attributes={}, user=alice, **fields
            )

    return make


def approve(api, deployment, comment: str = "", **kwargs):
    body = {"comment": comment} if comment else {}
    return api.post(f"/api/deployments/{deployment.pk}/approve", body, format="json", **kwargs)


def reject(api, deployment, body):
    return api.post(f"/api/deployments/{deployment.pk}/reject", body, format="json")


def queued() -> int:
    return OrmQ.objects.count()


def actions(deployment) -> list[str]:
    return list(
        AuditEntry.objects.filter(
            object_type="deployments.deployment", object_id=str(deployment.pk)
        )
        .order_by("id")
        .values_list("action", flat=True)
    )


# --- waiting --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_deployment_waits_unqueued_with_a_log_line(ask, staging):
    deployment = ask(staging)

    assert deployment.status == Status.AWAITING_APPROVAL
    assert queued() == 0
    assert deployment.log_entries.last().message == (
        "Waiting for 1 approval from people holding deployer in prod-eu/staging, other than alice."
    )
    created = AuditEntry.objects.get(action="deployment.created")
    assert created.changes["status"] == "awaiting_approval"
    assert created.changes["required_approvals"] == 1


@pytest.mark.django_db
def test_namespace_without_approvals_queues_at_once(ask, staging):
    staging.required_approvals = 0
    staging.save()
    assert ask(staging).status == Status.PENDING
    assert queued() == 1


@pytest.mark.django_db
def test_automatic_rollback_skips_approval_other_automatic_deployments_wait(ask, staging):
    failed = ask(staging)
    Deployment.objects.filter(pk=failed.pk).update(status=Status.FAILED)

    rollback = ask(staging, automatic=True, rollback_of=failed)
    continuous = ask(staging, automatic=True)

    assert rollback.status == Status.PENDING
    assert continuous.status == Status.AWAITING_APPROVAL


# --- who may decide -------------------------------------------------------------------------


@pytest.mark.django_db
def test_requester_cannot_approve(ask, staging, alice_api):
    deployment = ask(staging)
    response = approve(alice_api, deployment)
    assert response.status_code == 403
    assert response.json()["detail"] == services.REQUESTER_REFUSAL
    assert not Approval.objects.exists()


@pytest.mark.django_db
def test_viewer_cannot_approve(ask, staging, bob_api):
    deployment = ask(staging)
    response = approve(bob_api, deployment)
    assert response.status_code == 403
    assert "needs the deployer role on prod-eu/staging" in response.json()["detail"]


@pytest.mark.django_db
def test_invisible_deployment_is_404(ask, staging, charlie_api):
    deployment = ask(staging)
    assert approve(charlie_api, deployment).status_code == 404
    assert reject(charlie_api, deployment, {"comment": "no"}).status_code == 404


# --- approving ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_approval_queues_the_deployment(ask, staging, approver, django_capture_on_commit_callbacks):
    deployment = ask(staging)
    with django_capture_on_commit_callbacks(execute=True):
        response = approve(client_for(approver), deployment, "diff looks right")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "pending"
    assert body["required_approvals"] == 1
    assert [(a["user"], a["decision"], a["comment"]) for a in body["approvals"]] == [
        ("charlie", "approve", "diff looks right")
    ]
    assert queued() == 1
    assert OrmQ.objects.get().task["args"] == (deployment.pk,)
    assert actions(deployment) == ["deployment.created", "deployment.approved"]
    entry = AuditEntry.objects.get(action="deployment.approved")
    assert entry.actor == approver and entry.message == "diff looks right"
    assert entry.changes["status"] == ["awaiting_approval", "pending"]
    messages = [e.message for e in deployment.log_entries.all()]
    assert "Approved by charlie (1 of 1): diff looks right" in messages


@pytest.mark.django_db
def test_two_approvals_need_two_people_each_deciding_once(
    ask, staging, approver, dave, django_capture_on_commit_callbacks
):
    staging.required_approvals = 2
    staging.save()
    deployment = ask(staging)
    charlie_api = client_for(approver)

    first = approve(charlie_api, deployment)
    assert first.status_code == 200 and first.json()["status"] == "awaiting_approval"
    again = approve(charlie_api, deployment)
    assert again.status_code == 409
    assert "each person decides once" in again.json()["detail"]
    assert queued() == 0

    with django_capture_on_commit_callbacks(execute=True):
        second = approve(client_for(dave), deployment)
    assert second.json()["status"] == "pending"
    assert queued() == 1
    assert Approval.objects.filter(deployment=deployment).count() == 2


@pytest.mark.django_db
def test_approving_a_queued_deployment_is_a_conflict(ask, staging, approver, dave):
    deployment = ask(staging)
    approve(client_for(approver), deployment)
    response = approve(client_for(dave), deployment)
    assert response.status_code == 409
    assert "is not awaiting approval: it is pending" in response.json()["detail"]


@pytest.mark.django_db
def test_locked_target_refuses_the_final_approval_and_records_nothing(
    ask, staging, approver, alice
):
    deployment = ask(staging)
    lock_services.create_lock(
        namespace=staging, service=None, reason="release freeze", until=None, user=alice
    )

    response = approve(client_for(approver), deployment)

    assert response.status_code == 423
    assert "release freeze" in response.json()["detail"]
    assert response.json()["lock"]["reason"] == "release freeze"
    assert not Approval.objects.exists()
    assert "deployment.approved" not in actions(deployment)
    deployment.refresh_from_db()
    assert deployment.status == Status.AWAITING_APPROVAL


@pytest.mark.django_db
def test_bad_bodies_are_400(ask, staging, approver):
    deployment = ask(staging)
    api = client_for(approver)
    assert approve(api, deployment, "x" * 1001).status_code == 400
    no_comment = reject(api, deployment, {})
    assert no_comment.status_code == 400
    assert "Say why you reject" in no_comment.json()["errors"]["comment"][0]
    assert reject(api, deployment, {"comment": "   "}).status_code == 400
    assert reject(api, deployment, {"comment": 7}).status_code == 400
    assert (
        api.post(f"/api/deployments/{deployment.pk}/approve", [], format="json").status_code == 400
    )


# --- rejecting, expiring, cancelling --------------------------------------------------------


@pytest.mark.django_db
def test_rejection_ends_it_with_the_comment(ask, staging, approver, dave):
    deployment = ask(staging)

    response = reject(client_for(approver), deployment, {"comment": "not during the sale"})

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "rejected"
    assert body["reason"] == "Rejected by charlie: not during the sale"
    assert body["approvals"][0]["decision"] == "reject"
    assert queued() == 0
    entry = AuditEntry.objects.get(action="deployment.rejected")
    assert entry.actor == approver
    assert approve(client_for(dave), deployment).status_code == 409


@pytest.mark.django_db
def test_unapproved_deployments_expire_after_the_timeout(ask, staging, settings):
    settings.KUBERNAUT_APPROVAL_TIMEOUT_HOURS = 24
    deployment = ask(staging)

    assert services.expire_awaiting(now=deployment.created_at + timedelta(hours=23)) == 0
    assert services.expire_awaiting(now=deployment.created_at + timedelta(hours=25)) == 1
    assert services.expire_awaiting(now=deployment.created_at + timedelta(hours=26)) == 0

    deployment.refresh_from_db()
    assert deployment.status == Status.EXPIRED
    assert deployment.reason.startswith("Not approved within 24 h (0 of 1 approvals)")
    entry = AuditEntry.objects.get(action="deployment.expired")
    assert entry.actor is None  # the system: the scheduled task


@pytest.mark.django_db
def test_waiting_deployment_can_be_cancelled(ask, staging, alice_api):
    deployment = ask(staging)
    response = alice_api.post(f"/api/deployments/{deployment.pk}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert "while it waited for approval" in response.json()["reason"]


# --- notifications --------------------------------------------------------------------------


@pytest.mark.django_db
def test_webhooks_hear_each_step(ask, staging, approver, dave, admin_user):
    staging.required_approvals = 2
    staging.save()
    webhook = create_webhook(
        user=admin_user, kind="generic", url="https://hooks.example/kubernaut",
        secret="s" * 24, events=[Event.DEPLOYMENT_AWAITING_APPROVAL, Event.DEPLOYMENT_APPROVED,
                                 Event.DEPLOYMENT_REJECTED], cluster=None, namespace=None,
        service=None,
    )  # fmt: skip
    deployment = ask(staging)
    approve(client_for(approver), deployment, "fine by me")
    reject(client_for(dave), deployment, {"comment": "wait for monday"})

    events = list(
        Delivery.objects.filter(webhook=webhook).order_by("id").values_list("event", flat=True)
    )
    assert events == ["deployment.awaiting_approval", "deployment.approved", "deployment.rejected"]
    approved = Delivery.objects.get(event="deployment.approved")
    assert '"approved_by":"charlie"' in approved.body
    assert '"approvals":{"given":1,"required":2}' in approved.body


# --- the page -------------------------------------------------------------------------------


def test_page_shows_the_decision_forms_and_the_diff(
    client, ask, make_target, charlie, django_capture_on_commit_callbacks
):
    target = make_target()
    target.required_approvals = 1
    target.save()
    grant("deployer", target, user=charlie)
    deployment = ask(target)
    client.force_login(charlie)

    page = client.get(f"/deployments/{deployment.pk}/").content.decode()

    assert "Waiting for 0 of 1 approval" in page
    assert f'action="/deployments/{deployment.pk}/approve"' in page
    assert f'action="/deployments/{deployment.pk}/reject"' in page
    assert "deployment.apps/hello-world" in page and "new object" in page
    assert "status-awaiting_approval" in page

    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(f"/deployments/{deployment.pk}/approve", {"comment": "ok"})
    assert answer.status_code == 302
    deployment.refresh_from_db()
    assert deployment.status == Status.PENDING
    after = client.get(f"/deployments/{deployment.pk}/").content.decode()
    assert "You approved deployment" in after and "Approve</button>" not in after
    assert "charlie</strong> approved" in after


@pytest.mark.django_db
def test_requester_sees_no_forms_and_a_cluster_problem_as_a_sentence(client, ask, staging, alice):
    deployment = ask(staging)
    client.force_login(alice)
    page = client.get(f"/deployments/{deployment.pk}/").content.decode()
    assert "someone else must approve it" in page
    assert "Approve</button>" not in page
    assert 'class="problem"' in page  # the kubeconfig names no cluster


@pytest.mark.django_db
def test_page_rejection_needs_a_comment(client, ask, staging, approver):
    deployment = ask(staging)
    client.force_login(approver)
    answer = client.post(f"/deployments/{deployment.pk}/reject", {"comment": ""}, follow=True)
    assert "Say why you reject" in answer.content.decode()
    deployment.refresh_from_db()
    assert deployment.status == Status.AWAITING_APPROVAL


# --- the CLI --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_cli_wait_says_it_waits_and_exits_6_when_rejected(
    live_server, make_target, make_release, alice, charlie, capsys, monkeypatch
):
    from accounts.models import ApiToken
    from kubernaut_cli.main import main

    target = make_target()
    target.required_approvals = 1
    target.save()
    grant("deployer", target, user=charlie)
    make_release()
    _, key = ApiToken.issue(alice)
    monkeypatch.setenv("KUBERNAUT_URL", live_server.url)
    monkeypatch.setenv("KUBERNAUT_TOKEN", key)
    monkeypatch.setattr("kubernaut_cli.follow.APPROVAL_POLL_SECONDS", 0.2)
    codes = []
    waiting = threading.Thread(
        target=lambda: codes.append(
            main(
                [
                    "deploy",
                    "--service",
                    "hello-world",
                    "--version",
                    "1.0.0",
                    "--cluster",
                    target.cluster.name,
                    "--namespace",
                    target.name,
                    "--wait",
                ]
            )  # fmt: skip
        )
    )
    waiting.start()
    try:
        from sandbox.testing import wait_for

        deployment = wait_for(lambda: Deployment.objects.filter(namespace=target).first(), 20)
        assert deployment.status == Status.AWAITING_APPROVAL
        wait_for(lambda: "awaiting approval" in capsys.readouterr().err or None, 20)
        services.reject(deployment, charlie, "not today")
    finally:
        waiting.join(30)
    assert codes == [6]
    out, err = capsys.readouterr()
    assert "Rejected by charlie: not today" in err


def test_diff_against_live_is_bounded_in_time(ask, make_target):
    from deployments import preview

    target = make_target()
    target.required_approvals = 1
    target.save()
    deployment = Deployment.objects.select_related("namespace__cluster", "service").get(
        pk=ask(target).pk
    )

    late = preview.preview_deployment(deployment, seconds=0.0001)
    in_time = preview.preview_deployment(deployment)

    assert "did not answer within" in late.problem and "reload the page" in late.problem
    assert in_time.ok and [c.name for c in in_time.changes] == [
        "service/hello-world", "deployment.apps/hello-world"
    ]  # fmt: skip
