"""Continuous delivery (delivery/): the API, the task that deploys each new release, pausing after
a failure or a rollback, resuming, and the service's continuous delivery page.

The task is called directly here (`services.deploy_release`, what delivery.tasks runs), right
after the release is registered; deployments are moved through their states with their own
transitions (claim, finish) rather than run against a cluster.
"""

import pytest
from django.test import Client
from django_q.models import OrmQ
from rest_framework.test import APIClient

from accounts.models import ApiToken
from audit.models import AuditEntry
from clusters.models import Cluster, Namespace
from delivery import services, tasks
from delivery.models import AutoDeploy
from deployments import services as deployment_services
from deployments.models import Deployment
from deployments.rollback import SYSTEM_USERNAME
from locks import services as lock_services
from teams import access
from tests.conftest import open_to_teams

pytestmark = pytest.mark.django_db
Status = Deployment.Status


def place(cluster_name: str, name: str, **fields) -> Namespace:
    cluster = Cluster.objects.filter(name=cluster_name).first()
    if cluster is None:
        cluster = Cluster(name=cluster_name)
        cluster.set_kubeconfig("apiVersion: v1\nclusters: []\ncontexts: []\n")
        cluster.save()
    return open_to_teams(Namespace.objects.create(cluster=cluster, name=name, **fields))


@pytest.fixture
def staging() -> Namespace:
    return place("prod-eu", "staging")


BODY = {"service": "hello-world", "cluster": "prod-eu", "namespace": "staging"}


@pytest.fixture
def auto(alice, staging, make_release) -> AutoDeploy:
    """Continuous delivery of hello-world to prod-eu/staging, turned on by alice after 1.0.0."""
    make_release(version="1.0.0")
    return services.create_auto_deploy(
        service=services.find_service("hello-world"), namespace=staging, user=alice
    )


def release_and_deliver(make_release, version: str) -> list[Deployment]:
    release = make_release(version=version)
    return services.deploy_release(release.pk)


def refreshed(auto: AutoDeploy) -> AutoDeploy:
    return AutoDeploy.all_objects.get(pk=auto.pk)


def succeed(deployment: Deployment) -> None:
    assert deployment.claim()
    assert deployment.finish(Status.SUCCEEDED, "All workloads are ready.")


# --- the API ----------------------------------------------------------------------------------


def test_turn_on_answers_201_lists_and_audits(alice_api, alice, staging, make_release):
    make_release()

    response = alice_api.post("/api/auto-deploys", BODY, format="json")

    assert response.status_code == 201, response.json()
    auto = AutoDeploy.objects.get()
    body = response.json()
    assert response["Location"] == f"http://testserver/api/auto-deploys/{auto.pk}"
    assert body == {
        **body,
        "id": auto.pk, "service": "hello-world", "cluster": "prod-eu", "namespace": "staging",
        "paused": False, "paused_at": None, "paused_reason": "", "created_by": "alice",
        "last_deployment": None,
    }  # fmt: skip
    assert body["created_at"]
    entry = AuditEntry.objects.get(action="auto_deploy.created")
    assert (entry.actor, entry.door, entry.object_id) == (alice, "api", str(auto.pk))

    listed = alice_api.get("/api/auto-deploys").json()
    assert [row["id"] for row in listed["results"]] == [auto.pk]
    assert alice_api.get("/api/auto-deploys?service=other").json()["results"] == []
    assert alice_api.get(f"/api/auto-deploys/{auto.pk}").json()["id"] == auto.pk


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({**BODY, "service": "nope"}, "service", "There is no service 'nope'"),
        ({**BODY, "namespace": "nope"}, "namespace", "no namespace 'nope' in cluster 'prod-eu'"),
        ({**BODY, "cluster": "nope"}, "namespace", "no namespace 'staging' in cluster 'nope'"),
        ({**BODY, "colour": "red"}, "colour", "not a field of an auto-deploy"),
        ({"service": "hello-world"}, "cluster", "required"),
        ({**BODY, "service": 7}, "service", "valid string"),
    ],
)
def test_bad_input_is_a_400_with_a_sentence(alice_api, staging, make_release, body, field, words):
    make_release()

    response = alice_api.post("/api/auto-deploys", body, format="json")

    assert response.status_code == 400, response.json()
    assert words in response.json()["detail"]
    assert field in response.json()["errors"]
    assert not AutoDeploy.objects.exists()


def test_a_body_that_is_not_an_object_is_a_400(alice_api, staging):
    response = alice_api.post("/api/auto-deploys", ["hello-world"], format="json")
    assert response.status_code == 400
    assert "must be a JSON object" in response.json()["detail"]


def test_turning_it_on_twice_is_a_409_naming_the_first(alice_api, auto):
    response = alice_api.post("/api/auto-deploys", BODY, format="json")

    assert response.status_code == 409
    assert f"auto-deploy #{auto.pk}" in response.json()["detail"]
    assert AutoDeploy.objects.count() == 1


def test_who_may_not_deploy_there_gets_403(bob_api, charlie_api, staging, make_release):
    make_release()

    for client in (bob_api, charlie_api):
        response = client.post("/api/auto-deploys", BODY, format="json")
        assert response.status_code == 403
        assert "needs the deployer role on prod-eu/staging" in response.json()["detail"]
    assert not AutoDeploy.objects.exists()


def test_a_read_only_token_may_read_but_not_change(alice, auto):
    _, key = ApiToken.issue(alice, "ro", read_only=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert client.get(f"/api/auto-deploys/{auto.pk}").status_code == 200
    assert client.delete(f"/api/auto-deploys/{auto.pk}").status_code == 403
    auto.pause("Deployment #1 failed")
    assert client.post(f"/api/auto-deploys/{auto.pk}/resume").status_code == 403
    services.delete_auto_deploy(auto, user=alice)
    assert client.post("/api/auto-deploys", BODY, format="json").status_code == 403
    assert AutoDeploy.objects.count() == 0
    assert refreshed(auto).is_paused


def test_someone_without_a_role_there_sees_404(charlie_api, auto):
    assert charlie_api.get(f"/api/auto-deploys/{auto.pk}").status_code == 404
    assert charlie_api.delete(f"/api/auto-deploys/{auto.pk}").status_code == 404
    assert charlie_api.post(f"/api/auto-deploys/{auto.pk}/resume").status_code == 404
    assert charlie_api.get("/api/auto-deploys").json()["results"] == []
    assert AutoDeploy.objects.filter(pk=auto.pk).exists()


def test_a_viewer_sees_it_but_may_not_turn_it_off(bob_api, auto):
    assert bob_api.get(f"/api/auto-deploys/{auto.pk}").status_code == 200
    response = bob_api.delete(f"/api/auto-deploys/{auto.pk}")
    assert response.status_code == 403
    assert "you have viewer" in response.json()["detail"]


def test_delete_turns_it_off_keeps_the_row_and_audits(alice_api, alice, auto, make_release):
    response = alice_api.delete(f"/api/auto-deploys/{auto.pk}")

    assert response.status_code == 204
    assert not AutoDeploy.objects.exists()
    assert refreshed(auto).deleted_by == alice
    entry = AuditEntry.objects.get(action="auto_deploy.deleted")
    assert (entry.actor, entry.door) == (alice, "api")
    assert alice_api.get(f"/api/auto-deploys/{auto.pk}").status_code == 404
    assert alice_api.delete(f"/api/auto-deploys/{auto.pk}").status_code == 404
    assert release_and_deliver(make_release, "1.0.1") == []
    # And it may be turned on again.
    assert alice_api.post("/api/auto-deploys", BODY, format="json").status_code == 201


def test_resume_unpauses_and_is_409_when_not_paused(alice_api, alice, auto):
    response = alice_api.post(f"/api/auto-deploys/{auto.pk}/resume")
    assert response.status_code == 409
    assert "is not paused" in response.json()["detail"]

    assert auto.pause("Deployment #9 failed; continuous delivery paused until someone resumes it")
    paused = alice_api.get(f"/api/auto-deploys/{auto.pk}").json()
    assert paused["paused"] is True and paused["paused_at"]
    assert paused["paused_reason"].startswith("Deployment #9 failed")

    response = alice_api.post(f"/api/auto-deploys/{auto.pk}/resume")

    assert response.status_code == 200, response.json()
    assert response.json()["paused"] is False and response.json()["paused_reason"] == ""
    assert not refreshed(auto).is_paused
    entry = AuditEntry.objects.get(action="auto_deploy.resumed")
    assert (entry.actor, entry.door) == (alice, "api")
    assert "Deployment #9 failed" in entry.message


# --- the trigger and the task -----------------------------------------------------------------


def test_a_registered_release_queues_the_task_on_commit(
    auto, make_release, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        release = make_release(version="1.0.1")

    (queued,) = OrmQ.objects.all()
    assert queued.task["func"] == "delivery.tasks.deploy_release"
    assert queued.task["args"] == (release.pk,)


def test_a_release_of_a_service_without_continuous_delivery_queues_nothing(
    staging, make_release, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        make_release(service="other")
    assert not OrmQ.objects.exists()


def test_a_new_release_is_deployed_by_the_system_user(auto, make_release, staging):
    release = make_release(version="1.0.1")

    said = tasks.deploy_release(release.pk)  # what the django-q worker runs

    deployment = Deployment.objects.get()
    assert said == f"#{deployment.pk}"

    assert deployment.namespace == staging
    assert deployment.release.version == "1.0.1"
    assert deployment.created_by.username == SYSTEM_USERNAME
    assert deployment.status == Status.PENDING
    assert refreshed(auto).last_deployment == deployment
    entry = AuditEntry.objects.get(action="deployment.created", object_id=str(deployment.pk))
    assert entry.actor is None and entry.door == "worker"
    assert entry.message == "Continuous delivery: hello-world 1.0.1 released"
    assert entry.changes["automatic"] is True
    log = [line.message for line in deployment.log_entries.all()]
    assert "(Continuous delivery: hello-world 1.0.1 released)" in log[0]
    assert log[1].startswith(f"Deployed by continuous delivery (auto-deploy #{auto.pk}, turned on ")


def test_releases_from_before_it_was_turned_on_are_not_deployed(auto, make_release):
    older = make_release(version="0.9.0")  # registered after 1.0.0 but before the task ran
    AutoDeploy.objects.filter(pk=auto.pk).update(last_release=older)

    assert services.deploy_release(older.pk) == []
    existing = auto.last_release  # 1.0.0, the newest when it was turned on
    assert services.deploy_release(existing.pk) == []
    assert not Deployment.objects.exists()


def test_the_task_repeated_deploys_once_and_never_an_older_release(auto, make_release):
    first = make_release(version="1.0.1")
    second = make_release(version="1.0.2")

    assert len(services.deploy_release(second.pk)) == 1
    assert services.deploy_release(second.pk) == []  # a repeated delivery of the task
    assert services.deploy_release(first.pk) == []  # older than what it deployed
    assert Deployment.objects.get().release == second


def test_a_lock_skips_the_release_and_says_so(auto, alice, staging, make_release):
    lock_services.create_lock(
        namespace=staging, service=None, reason="release freeze", until=None, user=alice
    )

    assert release_and_deliver(make_release, "1.0.1") == []

    assert not Deployment.objects.exists()
    skipped = refreshed(auto)
    assert not skipped.is_paused
    assert skipped.last_skipped_reason.startswith("hello-world 1.0.1 was not deployed: ")
    assert "locked by alice" in skipped.last_skipped_reason
    assert "release freeze" in skipped.last_skipped_reason
    entry = AuditEntry.objects.get(action="auto_deploy.skipped")
    assert entry.actor is None and "release freeze" in entry.message


def test_a_paused_one_deploys_nothing_until_resumed(auto, alice, make_release):
    auto.pause("Deployment #3 failed; continuous delivery paused until someone resumes it")

    assert release_and_deliver(make_release, "1.0.1") == []
    assert not Deployment.objects.exists()
    assert "continuous delivery is paused (Deployment #3 failed" in (
        refreshed(auto).last_skipped_reason
    )

    services.resume_auto_deploy(refreshed(auto), user=alice)
    (deployment,) = release_and_deliver(make_release, "1.0.2")
    assert deployment.release.version == "1.0.2"


def test_a_template_problem_pauses_it(auto, make_release):
    # Another namespace provides `region`, so the release registers; staging does not.
    place("prod-eu", "eu-only", attributes={"region": "eu"})
    template = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {r: '{{ region }}'}\n"

    assert release_and_deliver(lambda **kw: make_release(**kw, template=template), "1.0.1") == []

    paused = refreshed(auto)
    assert paused.is_paused
    assert paused.paused_reason.startswith("hello-world 1.0.1 could not be deployed: No value ")
    assert paused.paused_reason.endswith("(continuous delivery paused until someone resumes it)")
    assert not Deployment.objects.exists()


# --- pausing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "said"), [(Status.FAILED, "failed"), (Status.TIMED_OUT, "timed out")]
)
def test_a_failure_there_pauses_it(auto, make_release, status, said):
    (deployment,) = release_and_deliver(make_release, "1.0.1")
    assert deployment.claim()

    assert deployment.finish(status, "The pods never got ready.")

    paused = refreshed(auto)
    assert paused.paused_reason == (
        f"Deployment #{deployment.pk} {said}; continuous delivery paused until someone resumes it"
    )
    assert paused.paused_by_deployment == deployment
    entry = AuditEntry.objects.get(action="auto_deploy.paused")
    assert entry.actor is None and entry.message == paused.paused_reason
    assert "paused until someone resumes it" in deployment.log_entries.last().message
    assert release_and_deliver(make_release, "1.0.2") == []


def test_a_success_or_a_failure_elsewhere_does_not_pause_it(auto, alice, make_release):
    (deployment,) = release_and_deliver(make_release, "1.0.1")
    succeed(deployment)
    other = place("prod-eu", "other")
    access.forget_roles(alice)
    elsewhere = deployment_services.create_deployment(
        release=deployment.release, namespace=other, attributes={}, user=alice
    )
    assert elsewhere.claim()
    assert elsewhere.finish(Status.FAILED, "no")

    assert not refreshed(auto).is_paused


def test_a_manual_rollback_pauses_it_when_it_starts(auto, alice, make_release, staging):
    (good,) = release_and_deliver(make_release, "1.0.1")
    succeed(good)
    (newer,) = release_and_deliver(make_release, "1.0.2")
    succeed(newer)
    rollback = deployment_services.redeploy(good, user=alice)
    assert not refreshed(auto).is_paused  # asked for, not started yet

    assert rollback.claim()

    paused = refreshed(auto)
    assert paused.paused_reason == (
        f"Deployment #{rollback.pk} rolled hello-world back to 1.0.1 (1.0.2 was live); "
        "continuous delivery paused until someone resumes it"
    )
    assert paused.paused_by_deployment == rollback
    assert AuditEntry.objects.filter(action="auto_deploy.paused").count() == 1
    assert release_and_deliver(make_release, "1.0.3") == []


def test_a_redeploy_of_what_is_live_is_not_a_rollback(auto, alice, make_release):
    (good,) = release_and_deliver(make_release, "1.0.1")
    succeed(good)
    again = deployment_services.redeploy(good, user=alice)
    succeed(again)
    assert not refreshed(auto).is_paused


def test_a_pending_rollback_is_never_overtaken_by_a_new_release(auto, alice, make_release):
    (good,) = release_and_deliver(make_release, "1.0.1")
    succeed(good)
    (newer,) = release_and_deliver(make_release, "1.0.2")
    succeed(newer)
    rollback = deployment_services.redeploy(good, user=alice)  # pending: no worker took it yet

    assert release_and_deliver(make_release, "1.0.3") == []

    paused = refreshed(auto)
    assert paused.paused_by_deployment == rollback
    assert "rolled hello-world back to 1.0.1" in paused.paused_reason
    assert Deployment.objects.count() == 3


def test_an_automatic_rollback_after_a_failure_keeps_it_paused(auto, make_release, staging):
    (good,) = release_and_deliver(make_release, "1.0.1")
    succeed(good)
    (bad,) = release_and_deliver(make_release, "1.0.2")
    assert bad.claim()
    assert bad.finish(Status.FAILED, "crash loop")
    from deployments.rollback import start

    rollback = start(bad.pk, good.pk)
    assert rollback.claim()

    paused = refreshed(auto)
    assert paused.paused_by_deployment == bad  # the first cause stays
    assert "stays paused" in rollback.log_entries.last().message
    assert services.rollback_sentence(rollback) == (
        f"Deployment #{rollback.pk} rolled back #{bad.pk} automatically; continuous delivery "
        "paused until someone resumes it"
    )


# --- the page ---------------------------------------------------------------------------------


def test_the_service_page_links_to_continuous_delivery(client, alice, make_release):
    place("prod-eu", "staging")
    make_release()
    client.force_login(alice)
    page = client.get("/services/hello-world/").content.decode()
    assert 'href="/services/hello-world/continuous-delivery"' in page


def test_the_page_turns_it_on_resumes_and_off_with_csrf(alice, staging, make_release):
    make_release()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    url = "/services/hello-world/continuous-delivery"

    page = browser.get(url)
    html = page.content.decode()
    assert "prod-eu/staging" in html and ">Off<" in html
    assert 'aria-label="Turn continuous delivery of hello-world to prod-eu/staging on"' in html
    assert browser.post(url, {"action": "on", "namespace": staging.pk}).status_code == 403
    assert not AutoDeploy.objects.exists()

    token = page.cookies["csrftoken"].value
    form = {"namespace": staging.pk, "csrfmiddlewaretoken": token}
    answer = browser.post(url, {**form, "action": "on"}, follow=True)
    assert "is on: the next release is deployed there at once" in answer.content.decode()
    auto = AutoDeploy.objects.get()
    assert AuditEntry.objects.get(action="auto_deploy.created").door == "web"

    auto.pause("Deployment #4 failed; continuous delivery paused until someone resumes it")
    html = browser.get(url).content.decode()
    assert "Paused</strong>: Deployment #4 failed" in html
    assert ">Resume</button>" in html
    browser.post(url, {**form, "action": "resume"})
    assert not refreshed(auto).is_paused

    browser.post(url, {**form, "action": "off"})
    assert not AutoDeploy.objects.exists()
    assert AuditEntry.objects.get(action="auto_deploy.deleted").actor == alice


def test_a_viewer_sees_the_state_without_buttons_and_cannot_post(client, bob, auto, staging):
    client.force_login(bob)
    url = "/services/hello-world/continuous-delivery"

    html = client.get(url).content.decode()
    assert "prod-eu/staging" in html and "<strong>On</strong>" in html
    assert 'name="action"' not in html
    answer = client.post(url, {"action": "off", "namespace": staging.pk}, follow=True)
    assert "needs the deployer role" in answer.content.decode()
    assert AutoDeploy.objects.filter(pk=auto.pk).exists()


def test_the_page_of_an_unknown_service_is_404(client, alice):
    client.force_login(alice)
    assert client.get("/services/nope/continuous-delivery").status_code == 404
