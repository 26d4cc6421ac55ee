"""Stages (docs/stages.md): a namespace's next stage, set through PATCH /api/namespaces/{id} and
the admin; promoting a succeeded deployment there (API, page, CLI); the overview in stage order."""

import pytest
from django.utils import timezone

from audit.models import AuditEntry
from clusters.admin import NamespaceForm
from clusters.models import Namespace
from deployments.models import Deployment
from tests.conftest import client_for, grant, make_user, team
from tests.test_cli_commands import cli, deploy, worker  # noqa: F401 (fixtures)
from tests.test_cli_commands import release as cli_release
from tests.test_pages_overview import deployed, make_place

pytestmark = pytest.mark.django_db
Status = Deployment.Status


def succeeded(deployment: Deployment) -> Deployment:
    """As a worker would leave it, without running a rollout."""
    Deployment.objects.filter(pk=deployment.pk).update(
        status=Status.SUCCEEDED, finished_at=timezone.now()
    )
    deployment.refresh_from_db()
    return deployment


def chain(*namespaces: Namespace) -> None:
    for before, after in zip(namespaces, namespaces[1:], strict=False):
        Namespace.objects.filter(pk=before.pk).update(next_stage=after)
        before.refresh_from_db()


@pytest.fixture
def stages(db):
    """main/staging -> main/production, both open to the engineers (alice) and readers (bob)."""
    staging, production = make_place("main", "staging"), make_place("main", "production")
    chain(staging, production)
    return staging, production


@pytest.fixture
def admin_api(stages):
    """Olga holds admin on the cluster: she changes every namespace's settings there."""
    olga = make_user("olga")
    grant("admin", stages[0].cluster, user=olga)
    return client_for(olga)


# PATCH /api/namespaces/{id}: next_stage, required_approvals, production


def test_settings_show_and_change_the_stage_fields(admin_api, stages):
    staging, production = stages
    body = admin_api.get(f"/api/namespaces/{staging.pk}").json()
    assert (body["next_stage"], body["required_approvals"], body["production"]) == (
        production.pk, 0, False,
    )  # fmt: skip

    response = admin_api.patch(
        f"/api/namespaces/{production.pk}",
        {"required_approvals": 2, "production": True},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["required_approvals"], response.json()["production"]) == (2, True)
    response = admin_api.patch(f"/api/namespaces/{staging.pk}", {"next_stage": None}, format="json")
    assert response.json()["next_stage"] is None

    entries = AuditEntry.objects.filter(action="namespace.changed").order_by("id")
    assert [entry.changes for entry in entries] == [
        {"production": [False, True], "required_approvals": [0, 2]},
        {"next_stage": [production.pk, None]},
    ]
    assert entries[1].object_id == str(staging.pk)


def test_setting_a_next_stage_on_another_cluster(admin_api, stages):
    staging, _ = stages
    elsewhere = make_place("other", "production")
    grant("viewer", elsewhere, user=make_user("spare"))  # not olga: she may not see it
    refused = admin_api.patch(
        f"/api/namespaces/{staging.pk}", {"next_stage": elsewhere.pk}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["errors"]["next_stage"] == [
        f"There is no namespace {elsewhere.pk} that you may see: the next stage must be a "
        "namespace in use where you hold a role (viewer or more). GET /api/namespaces lists them."
    ]

    olga = make_user("olga2")
    grant("admin", staging.cluster, user=olga)
    grant("viewer", elsewhere, user=olga)
    response = client_for(olga).patch(
        f"/api/namespaces/{staging.pk}", {"next_stage": elsewhere.pk}, format="json"
    )
    assert response.status_code == 200
    staging.refresh_from_db()
    assert staging.next_stage == elsewhere


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (999999, "There is no namespace 999999 that you may see"),
        ("SELF", "cannot be its own next stage"),
        ("LOOP", "comes before main/production already (its stages lead back here): choosing "
                 "it would make a loop"),
        ("1", "A valid integer is required."),
        (True, "A valid integer is required."),
        (0, "Ensure this value is greater than or equal to 1."),
        (2**64, "Give the id of a namespace (GET /api/namespaces)."),
    ],
)  # fmt: skip
def test_bad_next_stage_is_a_400_naming_why(admin_api, stages, value, message):
    staging, production = stages
    development = make_place("main", "development")
    chain(development, staging)
    value = {"SELF": production.pk, "LOOP": development.pk}.get(value, value)

    response = admin_api.patch(
        f"/api/namespaces/{production.pk}", {"next_stage": value}, format="json"
    )

    assert response.status_code == 400
    assert message in response.json()["errors"]["next_stage"][0]
    production.refresh_from_db()
    assert production.next_stage_id is None
    assert not AuditEntry.objects.filter(action="namespace.changed").exists()


def test_a_deleted_namespace_cannot_be_the_next_stage(admin_api, stages, admin_user):
    staging, production = stages
    production.soft_delete(by=admin_user)
    response = admin_api.patch(
        f"/api/namespaces/{staging.pk}", {"next_stage": production.pk}, format="json"
    )
    assert response.status_code == 400
    assert "There is no namespace" in response.json()["errors"]["next_stage"][0]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"required_approvals": 11}, "At most 10 approvals may be required."),
        ({"required_approvals": -1}, "Give 0 (no approvals) or more."),
        ({"required_approvals": "2"}, "A valid integer is required."),
        ({"production": "yes"}, "Give true or false."),
    ],
)
def test_bad_approvals_or_production_are_400s(admin_api, stages, body, message):
    response = admin_api.patch(f"/api/namespaces/{stages[1].pk}", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][next(iter(body))] == [message]


def test_only_admins_change_the_stages(alice_api, stages):
    staging, production = stages
    response = alice_api.patch(
        f"/api/namespaces/{production.pk}", {"next_stage": staging.pk}, format="json"
    )
    assert response.status_code == 403
    assert "needs the admin role on main/production" in response.json()["detail"]


def test_admin_form_offers_live_namespaces_but_itself_and_refuses_a_loop(stages, admin_user):
    staging, production = stages
    gone = make_place("main", "gone")
    gone.soft_delete(by=admin_user)
    form = NamespaceForm(instance=production)
    offered = set(form.fields["next_stage"].queryset)
    assert staging in offered and production not in offered and gone not in offered

    data = {"cluster": production.cluster_id, "name": "production", "attributes": "{}",
            "pod_security": "baseline", "next_stage": staging.pk, "required_approvals": 1,
            "prune": "on"}  # fmt: skip
    form = NamespaceForm(data, instance=production)
    assert not form.is_valid()
    assert "would make a loop" in form.errors["next_stage"][0]

    data |= {"next_stage": "", "required_approvals": 11}
    form = NamespaceForm(data, instance=production)
    assert not form.is_valid()
    assert "required_approvals" in form.errors


# POST /api/deployments/{id}/promote


def test_promote_deploys_the_same_release_and_attributes_to_the_next_stage(
    alice_api, alice, make_release, stages
):
    staging, production = stages
    original = succeeded(deployed(make_release(), staging, alice,
                                  requested_attributes={"replicas": "1"}))  # fmt: skip

    response = alice_api.post(f"/api/deployments/{original.pk}/promote", {}, format="json")

    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["namespace"], body["version"], body["promoted_from"]) == (
        "production", "1.0.0", original.pk,
    )  # fmt: skip
    assert body["requested_attributes"] == {"replicas": "1"}
    assert response["Location"].endswith(f"/api/deployments/{body['id']}")
    promoted = Deployment.objects.get(pk=body["id"])
    assert (promoted.release_id, promoted.namespace, promoted.promoted_from) == (
        original.release_id, production, original,
    )  # fmt: skip
    assert (
        f"(promotion of #{original.pk} from main/staging)" in promoted.log_entries.first().message
    )
    created = AuditEntry.objects.get(action="deployment.created", object_id=str(promoted.pk))
    assert created.changes["promoted_from"] == original.pk
    listed = alice_api.get("/api/deployments?namespace=production").json()["results"]
    assert listed[0]["promoted_from"] == original.pk


@pytest.mark.parametrize("status", [Status.FAILED, Status.PENDING, Status.TIMED_OUT])
def test_promoting_a_deployment_that_did_not_succeed_is_409(
    alice_api, alice, make_release, stages, status
):
    original = deployed(make_release(), stages[0], alice, status=status)

    response = alice_api.post(f"/api/deployments/{original.pk}/promote")

    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"Deployment #{original.pk} has status {Status(status).label.lower()}: only a succeeded "
        "deployment can be promoted to the next stage."
    )
    assert Deployment.objects.count() == 1


def test_promoting_from_the_last_stage_is_409(alice_api, alice, make_release, stages, admin_user):
    staging, production = stages
    last = deployed(make_release(), production, alice)
    response = alice_api.post(f"/api/deployments/{last.pk}/promote")
    assert response.status_code == 409
    assert response.json()["detail"].startswith(
        "Namespace main/production has no next stage; an admin of it sets one (`next_stage`, "
        f"PATCH /api/namespaces/{production.pk} or the admin)"
    )

    production.soft_delete(by=admin_user)
    first = deployed(make_release(version="2"), staging, alice)
    response = alice_api.post(f"/api/deployments/{first.pk}/promote")
    assert response.status_code == 409
    assert "has no next stage in use (it was deleted)" in response.json()["detail"]


def test_promote_needs_deployer_in_the_next_stage(make_release, stages):
    staging, production = stages
    dora = make_user("dora")
    grant("deployer", staging, user=dora)
    grant("viewer", production, user=dora)
    original = deployed(make_release(), staging, dora)

    response = client_for(dora).post(f"/api/deployments/{original.pk}/promote")

    assert response.status_code == 403
    assert response.json()["detail"].startswith(
        "Deploying hello-world to main/production needs the deployer role on main/production"
    )
    assert Deployment.objects.count() == 1


def test_promote_of_an_invisible_deployment_is_404(charlie_api, alice, make_release, stages):
    original = deployed(make_release(), stages[0], alice)
    assert charlie_api.post(f"/api/deployments/{original.pk}/promote").status_code == 404
    assert charlie_api.post("/api/deployments/999999/promote").status_code == 404


def test_promote_to_a_locked_next_stage_is_423(alice_api, alice, make_release, stages):
    from locks import services as locks

    staging, production = stages
    locks.create_lock(namespace=production, service=None, reason="release freeze", until=None,
                      user=make_user("lena", superuser=True))  # fmt: skip
    original = deployed(make_release(), staging, alice)

    response = alice_api.post(f"/api/deployments/{original.pk}/promote")

    assert response.status_code == 423
    assert "release freeze" in response.json()["detail"]


def test_promote_body_is_checked(alice_api, alice, make_release, stages):
    original = deployed(make_release(), stages[0], alice)
    response = alice_api.post(
        f"/api/deployments/{original.pk}/promote", {"timeout_seconds": 5}, format="json"
    )
    assert response.status_code == 400
    assert "timeout_seconds" in response.json()["errors"]


# The pages


def test_promote_button_leads_to_the_preview_of_the_next_stage(client, alice, make_release,
                                                               make_target):  # fmt: skip
    staging, production = make_target(), make_target()
    chain(staging, production)
    original = deployed(make_release(), staging, alice, requested_attributes={"replicas": "1"})
    client.force_login(alice)

    detail = client.get(f"/deployments/{original.pk}/").content.decode()
    assert f'action="/deployments/{original.pk}/promote"' in detail
    assert f"Promote to sandbox / {production.name}" in detail

    response = client.post(f"/deployments/{original.pk}/promote")
    link = f"/releases/{original.release_id}/deploy?promoted_from={original.pk}"
    assert response["Location"] == link
    page = client.get(link).content.decode()
    assert f"Promote hello-world 1.0.0 to sandbox / {production.name}" in page
    assert "replicas=1</textarea>" in page and 'value="deploy"' in page
    assert Deployment.objects.count() == 1

    confirm = {"namespace": production.pk, "attributes": "replicas=1",
               "promoted_from": original.pk, "action": "deploy"}  # fmt: skip
    response = client.post(f"/releases/{original.release_id}/deploy", confirm)

    promoted = Deployment.objects.exclude(pk=original.pk).get()
    assert response["Location"] == f"/deployments/{promoted.pk}/"
    assert (promoted.namespace, promoted.promoted_from, promoted.requested_attributes) == (
        production, original, {"replicas": "1"},
    )  # fmt: skip
    shown = client.get(f"/deployments/{promoted.pk}/").content.decode()
    assert f'class="promoted-from">#{original.pk}</a>' in shown


def test_promotion_confirm_to_another_namespace_is_refused(client, alice, make_release,
                                                           make_target):  # fmt: skip
    staging, production, other = make_target(), make_target(), make_target()
    chain(staging, production)
    original = deployed(make_release(), staging, alice)
    client.force_login(alice)
    confirm = {"namespace": other.pk, "attributes": "", "promoted_from": original.pk,
               "action": "deploy"}  # fmt: skip

    page = client.post(f"/releases/{original.release_id}/deploy", confirm).content.decode()

    assert f"A promotion of #{original.pk} goes to the next stage of" in page
    assert Deployment.objects.count() == 1


def test_promote_button_hidden_without_next_stage_success_or_role(
    client, alice, make_release, stages
):
    staging, production = stages
    release = make_release()
    failed = deployed(release, staging, alice, status=Status.FAILED)
    last = deployed(release, production, alice)
    ok = deployed(release, staging, alice)
    client.force_login(alice)
    assert "Promote to" not in client.get(f"/deployments/{failed.pk}/").content.decode()
    assert "Promote to" not in client.get(f"/deployments/{last.pk}/").content.decode()
    assert "Promote to main / production" in client.get(f"/deployments/{ok.pk}/").content.decode()

    bob = make_user("bobby")
    team("readers").members.add(bob)  # viewer on both
    client.force_login(bob)
    assert "Promote to" not in client.get(f"/deployments/{ok.pk}/").content.decode()
    assert client.post(f"/deployments/{ok.pk}/promote").status_code == 403


def test_promote_page_says_why_it_cannot(client, alice, make_release, stages):
    failed = deployed(make_release(), stages[0], alice, status=Status.FAILED)
    client.force_login(alice)
    page = client.post(f"/deployments/{failed.pk}/promote", follow=True).content.decode()
    assert "only a succeeded deployment can be promoted" in page
    assert (
        client.get(f"/releases/{failed.release_id}/deploy?promoted_from={failed.pk}").status_code
        == 404
    )


# The CLI


@pytest.mark.django_db(transaction=True)
def test_cli_promote_waits_and_refuses_past_the_last_stage(cli, make_target, worker):  # noqa: F811
    staging, production = make_target(), make_target()
    chain(staging, production)
    cli_release(cli, "1")
    code, _, _ = deploy(cli, staging, "1", "-a", "replicas=1", "--wait")
    assert code == 0
    first = Deployment.objects.get()

    code, out, err = cli("promote", str(first.pk), "--wait")

    assert (code, err) == (0, "")
    assert f"to sandbox/{production.name} (a promotion of #{first.pk}): pending" in out
    promoted = Deployment.objects.exclude(pk=first.pk).get()
    assert (promoted.status, promoted.namespace, promoted.promoted_from) == (
        Status.SUCCEEDED, production, first,
    )  # fmt: skip
    assert promoted.requested_attributes == {"replicas": "1"}

    code, _, err = cli("promote", str(promoted.pk))
    assert code == 2
    assert err.startswith(f"kubernaut: Namespace sandbox/{production.name} has no next stage;")


@pytest.mark.django_db(transaction=True)
def test_cli_promote_of_a_failed_deployment_exits_2(cli, alice, make_release, stages):  # noqa: F811
    failed = deployed(make_release(), stages[0], alice, status=Status.FAILED)
    code, _, err = cli("promote", str(failed.pk))
    assert code == 2
    assert err == (
        f"kubernaut: Deployment #{failed.pk} has status failed: only a succeeded deployment can "
        "be promoted to the next stage.\n"
    )


# The overview


def test_overview_shows_stage_chains_left_to_right(client, alice, make_release):
    # Alphabetical: apps, development, production, qa, staging; the chain comes first.
    apps, production, staging = (make_place("main", name) for name in ("apps", "production",
                                                                       "staging"))  # fmt: skip
    development, qa = make_place("main", "development"), make_place("main", "qa")
    chain(development, staging, production)
    chain(qa, production)
    make_release()
    client.force_login(alice)

    page = client.get("/").content.decode()

    positions = {name: page.index(f"main /</span> {name}") for name in
                 ("apps", "development", "staging", "qa", "production")}  # fmt: skip
    # Farther from the last stage is farther left; where stages merge, the old order decides.
    assert sorted(positions, key=positions.get) == [
        "development", "qa", "staging", "production", "apps",
    ]  # fmt: skip
    assert 'aria-label="next stage: main/production"' in page


def test_overview_marks_a_release_ahead_of_the_next_stage(client, alice, make_release, stages):
    staging, production = stages
    old, new = make_release(version="1.0.0"), make_release(version="2.0.0")
    deployed(old, production, alice)
    deployed(new, staging, alice)
    billing = make_release(service="billing")
    deployed(billing, staging, alice)
    deployed(billing, production, alice)
    client.force_login(alice)

    page = client.get("/").content.decode()

    assert page.count('class="tag tag-ahead"') == 1
    assert ('title="2.0.0 runs here; main/production runs the older 1.0.0">ahead of '
            "production</span>") in page  # fmt: skip


def test_overview_stage_marks_cost_no_queries(
    client, alice, make_release, stages, django_assert_max_num_queries
):
    staging, production = stages
    for number in range(6):
        release = make_release(service=f"service-{number}")
        deployed(release, staging, alice)
    client.force_login(alice)

    with django_assert_max_num_queries(12):  # as tests/test_pages_overview.py allows
        page = client.get("/").content.decode()
    assert page.count('class="tag tag-ahead"') == 6
