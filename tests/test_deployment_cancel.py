"""Cancel: POST /api/deployments/{id}/cancel, the Cancel button, and what the worker does.

A running deployment's cancel, timed against a real rollout, is in test_deployment_runner.py.
"""

import pytest
from django.test import Client

from deployments import runner
from deployments.models import Deployment
from tests.test_pages_overview import deployed, make_place

pytestmark = pytest.mark.django_db
Status = Deployment.Status


@pytest.fixture
def staging(db):
    return make_place("main", "staging")


@pytest.fixture
def pending(make_release, alice, staging):
    return deployed(make_release(), staging, alice, status=Status.PENDING)


def test_a_pending_deployment_is_cancelled_at_once_and_never_starts(alice_api, pending):
    response = alice_api.post(f"/api/deployments/{pending.pk}/cancel")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "cancelled"
    assert body["cancelled_by"] == "alice"
    assert body["reason"] == "Cancelled by alice before it started; nothing was applied."
    assert body["log"][-1]["message"] == body["reason"]
    runner.run(pending.pk)  # its task reaches a worker later
    pending.refresh_from_db()
    assert pending.status == Status.CANCELLED
    assert pending.started_at is None


def test_a_running_deployment_is_asked_to_stop(alice_api, make_release, alice, staging):
    running = deployed(make_release(), staging, alice, status=Status.RUNNING)

    response = alice_api.post(f"/api/deployments/{running.pk}/cancel")

    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["cancelled_by"]) == ("running", "alice")
    assert body["log"][-1]["message"] == (
        "alice asked to cancel; the worker stops following the rollout."
    )
    # Asking again changes nothing and says the same.
    again = alice_api.post(f"/api/deployments/{running.pk}/cancel")
    assert again.status_code == 202
    assert len(again.json()["log"]) == len(body["log"])


@pytest.mark.parametrize("status", [Status.SUCCEEDED, Status.FAILED, Status.CANCELLED])
def test_cancelling_a_finished_deployment_is_a_409_with_a_sentence(
    alice_api, make_release, alice, staging, status
):
    finished = deployed(make_release(), staging, alice, status=status)
    response = alice_api.post(f"/api/deployments/{finished.pk}/cancel")
    assert response.status_code == 409
    label = Status(status).label
    assert response.json()["detail"] == (
        f"Deployment #{finished.pk} has already ended ({label}); there is nothing to cancel."
    )


def test_cancel_needs_the_permission_to_deploy(bob_api, pending):
    response = bob_api.post(f"/api/deployments/{pending.pk}/cancel")
    assert response.status_code == 403
    assert response.json()["detail"].startswith(
        f"Cancelling deployment {pending.pk}: it needs the deployer role on main/staging"
    )
    assert Deployment.objects.get(pk=pending.pk).status == Status.PENDING


def test_cancelling_a_missing_deployment_is_a_404(alice_api):
    response = alice_api.post("/api/deployments/999999/cancel")
    assert response.status_code == 404
    assert response.json()["detail"]


def test_cancel_button_only_while_unfinished_and_for_who_may_deploy(
    client, alice, bob, make_release, alice_api, pending
):
    client.force_login(bob)
    assert "Cancel deployment" not in client.get(f"/deployments/{pending.pk}/").content.decode()
    client.force_login(alice)
    page = client.get(f"/deployments/{pending.pk}/").content.decode()
    assert f'action="/deployments/{pending.pk}/cancel"' in page
    assert "csrfmiddlewaretoken" in page

    response = client.post(f"/deployments/{pending.pk}/cancel", follow=True)

    assert response.redirect_chain[-1][0] == f"/deployments/{pending.pk}/"
    page = response.content.decode()
    assert f"Deployment #{pending.pk} is cancelled." in page
    assert "Cancel deployment" not in page
    assert Deployment.objects.get(pk=pending.pk).status == Status.CANCELLED


def test_cancel_button_refuses_a_post_without_csrf_token(alice, pending):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.post(f"/deployments/{pending.pk}/cancel").status_code == 403
    assert Deployment.objects.get(pk=pending.pk).status == Status.PENDING
