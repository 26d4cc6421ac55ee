"""Issue 14's acceptance through the API, with a real qcluster and the sandbox cluster.

A release goes to staging by continuous delivery, is promoted to production, waits there for
one approval from another person, succeeds and shows up in the DORA figures. Then continuous
delivery to production: a release that crashes there is rolled back automatically and pauses
continuous delivery for that target, so the next release is not shipped until someone resumes.
(The browser walks the same path in tests/browser/test_browser_path_to_production.py.)
"""

import pytest

from sandbox.testing import wait_for
from tests.conftest import client_for, grant
from tests.test_deployment_e2e import register, worker  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)

GOOD = {"image": "registry.example/hello:1", "replicas": "2", "deadline": "600", "crash": "0",
        "never_ready": "0"}  # fmt: skip
LIVE_SECONDS = 60


@pytest.fixture
def stages(make_target, admin_user, bob):
    """staging -> production, set the way an admin does it: PATCH /api/namespaces/{id}.
    Production wants one approval, counts for DORA and rolls back on failure; bob may deploy
    there (so he may approve), alice's team deploys to both."""
    staging, production = make_target(), make_target()
    admin = client_for(admin_user)
    answer = admin.patch(
        f"/api/namespaces/{production.pk}",
        {"required_approvals": 1, "production": True, "rollback_on_failure": True},
        format="json",
    )
    assert answer.status_code == 200, answer.json()
    answer = admin.patch(
        f"/api/namespaces/{staging.pk}", {"next_stage": production.pk}, format="json"
    )
    assert answer.status_code == 200, answer.json()
    assert answer.json()["next_stage"] == production.pk
    grant("deployer", production, user=bob)
    return staging, production


def deployments_of(api, namespace, version: str) -> list[dict]:
    body = api.get(
        "/api/deployments",
        {"namespace": namespace.name, "cluster": namespace.cluster.name, "version": version},
    ).json()
    return body["results"]


def status_of(api, deployment_id: int) -> str:
    return api.get(f"/api/deployments/{deployment_id}").json()["status"]


def finished(api, deployment_id: int) -> dict:
    """The deployment once it has ended (polled)."""
    return wait_for(
        lambda: (
            (body := api.get(f"/api/deployments/{deployment_id}").json())["status"]
            not in ("pending", "running", "awaiting_approval")
            and body
        ),
        LIVE_SECONDS,
    )


def test_from_release_to_production_and_back(stages, alice_api, bob_api, worker):  # noqa: F811
    staging, production = stages
    answer = alice_api.post(
        "/api/auto-deploys",
        {"service": "hello-world", "cluster": staging.cluster.name, "namespace": staging.name},
        format="json",
    )
    # The service does not exist before its first release: turning CD on for it is refused.
    assert answer.status_code == 400, answer.json()
    register(alice_api, "1.0.0", **GOOD)
    answer = alice_api.post(
        "/api/auto-deploys",
        {"service": "hello-world", "cluster": staging.cluster.name, "namespace": staging.name},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    staging_cd = answer.json()["id"]

    # CI registers 1.1.0: continuous delivery ships it to staging, by the system user.
    register(alice_api, "1.1.0", **GOOD)
    shipped = wait_for(lambda: deployments_of(alice_api, staging, "1.1.0"), LIVE_SECONDS)[0]
    assert shipped["created_by"] == "kubernaut"
    assert finished(alice_api, shipped["id"])["status"] == "succeeded"

    # Promote it: the same release to production, where it waits for one approval.
    answer = alice_api.post(f"/api/deployments/{shipped['id']}/promote", format="json")
    assert answer.status_code == 202, answer.json()
    promoted = answer.json()
    assert promoted["status"] == "awaiting_approval"
    assert promoted["promoted_from"] == shipped["id"]
    assert promoted["version"] == "1.1.0"
    # The requester may not approve their own deployment; bob (deployer there) may.
    answer = alice_api.post(
        f"/api/deployments/{promoted['id']}/approve", {"comment": "mine"}, format="json"
    )
    assert answer.status_code == 403, answer.json()
    assert status_of(alice_api, promoted["id"]) == "awaiting_approval"
    answer = bob_api.post(
        f"/api/deployments/{promoted['id']}/approve", {"comment": "diff looks right"},
        format="json",
    )  # fmt: skip
    assert answer.status_code == 200, answer.json()
    assert finished(alice_api, promoted["id"])["status"] == "succeeded"

    # It counts in the DORA figures of production (staging is not production).
    dora = alice_api.get("/api/metrics/dora", {"service": "hello-world", "days": 7}).json()
    assert dora["deployment_frequency"]["deployments"] == 1
    assert dora["change_failure_rate"]["failures"] == 0
    assert dora["lead_time_seconds"]["releases"] == 1
    assert dora["lead_time_seconds"]["median"] > 0

    # Continuous delivery straight to production now (approval still wanted), not staging.
    assert alice_api.delete(f"/api/auto-deploys/{staging_cd}").status_code == 204
    answer = alice_api.post(
        "/api/auto-deploys",
        {"service": "hello-world", "cluster": production.cluster.name,
         "namespace": production.name},
        format="json",
    )  # fmt: skip
    assert answer.status_code == 201, answer.json()
    production_cd = answer.json()["id"]

    # 2.0.0 crashes: approved, it fails, production rolls back to 1.1.0, CD pauses there.
    register(alice_api, "2.0.0", **{**GOOD, "crash": "1"})
    bad = wait_for(lambda: deployments_of(alice_api, production, "2.0.0"), LIVE_SECONDS)[0]
    assert bad["status"] == "awaiting_approval"
    answer = bob_api.post(f"/api/deployments/{bad['id']}/approve", format="json")
    assert answer.status_code == 200, answer.json()
    assert finished(alice_api, bad["id"])["status"] in ("failed", "timed_out")
    rollback = wait_for(
        lambda: alice_api.get(f"/api/deployments/{bad['id']}").json()["rolled_back_by"],
        LIVE_SECONDS,
    )
    back = finished(alice_api, rollback)
    assert (back["status"], back["version"]) == ("succeeded", "1.1.0")
    cd = wait_for(
        lambda: (
            (body := alice_api.get(f"/api/auto-deploys/{production_cd}").json())["paused"] and body
        ),
        LIVE_SECONDS,
    )
    assert f"#{bad['id']}" in cd["paused_reason"]
    assert not deployments_of(alice_api, staging, "2.0.0")  # staging's CD was turned off

    # Paused: 2.0.1 is not shipped to production until someone resumes.
    register(alice_api, "2.0.1", **GOOD)
    skipped = wait_for(
        lambda: alice_api.get(f"/api/auto-deploys/{production_cd}").json()["last_skipped_reason"],
        LIVE_SECONDS,
    )
    assert skipped.startswith("hello-world 2.0.1 was not deployed: continuous delivery is paused")
    answer = alice_api.post(f"/api/auto-deploys/{production_cd}/resume", format="json")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["paused"] is False
    register(alice_api, "2.0.2", **GOOD)
    after = wait_for(lambda: deployments_of(alice_api, production, "2.0.2"), LIVE_SECONDS)[0]
    assert after["status"] == "awaiting_approval"
    assert not deployments_of(alice_api, production, "2.0.1")

    # The DORA figures now hold the failure: 2 succeeded (1.1.0, the rollback), 1 failed.
    dora = alice_api.get("/api/metrics/dora", {"service": "hello-world", "days": 7}).json()
    assert dora["change_failure_rate"]["failures"] == 1
    assert dora["time_to_restore_seconds"]["restored"] == 1
