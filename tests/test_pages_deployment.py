"""The deployment page, its live parts, Redeploy and Roll back."""

import pytest

from deployments.models import Deployment, LogEntry
from tests.test_pages_overview import deployed, make_place

pytestmark = pytest.mark.django_db
Status = Deployment.Status


@pytest.fixture
def staging(db):
    return make_place("main", "staging")


def test_page_shows_status_progress_log_and_manifest(client, alice, make_release, staging):
    deployment = deployed(
        make_release(), staging, alice, status=Status.RUNNING, manifest="kind: Deployment",
        workloads=[{"kind": "Deployment", "name": "hello-world", "ready": 1, "desired": 2,
                    "state": "progressing"}],
    )  # fmt: skip
    LogEntry.objects.create(deployment=deployment, message="applied deployment.apps/hello-world")
    client.force_login(alice)

    page = client.get(f"/deployments/{deployment.pk}/").content.decode()

    assert "status-running" in page and ">Running<" in page
    assert "1 of 2 ready" in page and '<progress id="workload-1"' in page
    assert "applied deployment.apps/hello-world" in page
    assert "kind: Deployment" in page
    assert 'data-finished="false"' in page and "deployment.js" in page


def test_progress_fragment_follows_the_status(client, bob, make_release, staging):
    deployment = deployed(make_release(), staging, bob, status=Status.FAILED, reason="no image")
    client.force_login(bob)
    fragment = client.get(f"/deployments/{deployment.pk}/progress").content.decode()
    assert ">Failed<" in fragment and "no image" in fragment and "<html" not in fragment


def test_redeploy_shows_the_preview_and_queues_only_on_confirm(client, alice, make_release, target):
    original = deployed(make_release(), target, alice, requested_attributes={"replicas": "1"},
                        timeout_seconds=120)  # fmt: skip
    client.force_login(alice)
    detail = client.get(f"/deployments/{original.pk}/").content.decode()
    link = f"/releases/{original.release_id}/deploy?redeploy_of={original.pk}"
    assert f'href="{link}"' in detail

    # An old form posting to /redeploy is led to the same preview.
    response = client.post(f"/deployments/{original.pk}/redeploy")
    assert response["Location"] == link
    page = client.get(link).content.decode()

    assert "Redeploy hello-world 1.0.0" in page
    assert "new object" in page and 'value="deploy"' in page  # the diff, and the confirm button
    assert "replicas=1</textarea>" in page and 'value="120"' in page
    assert not Deployment.objects.exclude(pk=original.pk).exists()

    confirm = {"namespace": target.pk, "attributes": "replicas=1", "timeout_seconds": "120",
               "redeploy_of": original.pk, "action": "deploy"}  # fmt: skip
    response = client.post(f"/releases/{original.release_id}/deploy", confirm)

    again = Deployment.objects.exclude(pk=original.pk).get()
    assert response["Location"] == f"/deployments/{again.pk}/"
    assert (again.release, again.redeploy_of, again.requested_attributes) == (
        original.release, original, {"replicas": "1"},
    )  # fmt: skip
    assert again.timeout_seconds == 120


def test_roll_back_previews_what_was_live_before(client, alice, make_release, target):
    one, two = make_release(version="1"), make_release(version="2")
    first = deployed(one, target, alice)
    second = deployed(two, target, alice, status=Status.FAILED)
    client.force_login(alice)

    assert "Roll back to 1" in client.get(f"/deployments/{second.pk}/").content.decode()
    response = client.post(f"/deployments/{second.pk}/rollback")
    assert response["Location"] == f"/releases/{one.pk}/deploy?redeploy_of={first.pk}&rollback=1"
    page = client.get(response["Location"]).content.decode()
    assert "Roll back hello-world to 1" in page and 'value="deploy"' in page
    assert Deployment.objects.count() == 2

    confirm = {"namespace": target.pk, "attributes": "", "redeploy_of": first.pk,
               "action": "deploy"}  # fmt: skip
    client.post(f"/releases/{one.pk}/deploy", confirm)

    back = Deployment.objects.order_by("-id").first()
    assert (back.release, back.redeploy_of) == (one, first)


def test_roll_back_with_nothing_before_says_so(client, alice, make_release, staging):
    only = deployed(make_release(), staging, alice)
    client.force_login(alice)

    page = client.post(f"/deployments/{only.pk}/rollback", follow=True).content.decode()

    assert "Nothing to roll back to" in page
    assert Deployment.objects.count() == 1


def test_read_only_user_sees_no_buttons_and_may_not_post(client, bob, make_release, staging):
    deployment = deployed(make_release(), staging, bob)
    client.force_login(bob)
    assert "Redeploy" not in client.get(f"/deployments/{deployment.pk}/").content.decode()
    assert client.post(f"/deployments/{deployment.pk}/redeploy").status_code == 403
    redeploy = f"/releases/{deployment.release_id}/deploy?redeploy_of={deployment.pk}"
    assert client.get(redeploy).status_code == 403
    assert client.get(f"/deployments/{deployment.pk}/redeploy").status_code == 405


def test_missing_deployment_is_404(client, alice):
    client.force_login(alice)
    assert client.get("/deployments/999999/").status_code == 404
    assert client.post("/deployments/999999/rollback").status_code == 404


def test_deployment_page_takes_a_fixed_number_of_queries(
    client, alice, make_release, staging, django_assert_max_num_queries
):
    deployment = deployed(make_release(), staging, alice)
    for number in range(50):
        LogEntry.objects.create(deployment=deployment, message=f"line {number}")
    client.force_login(alice)

    # One more than before the audit trail: the nav's permissions check for the Audit link;
    # one more for the approvals part (the decisions, if any: approvals/templatetags).
    with django_assert_max_num_queries(10):
        page = client.get(f"/deployments/{deployment.pk}/").content.decode()
    assert "line 49" in page
