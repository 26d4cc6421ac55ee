"""Automatic rollback (deployments/rollback.py): the runner inline against the sandbox cluster, and
once end to end through the CLI with a real qcluster worker.

A release's version is its pods' `version` label here, as in examples/hello-world, so the reason
of a failed deployment can name what still serves.
"""

import re
import time

import pytest

from deployments import rollback, runner, services
from deployments.models import Deployment
from kubernaut_cli import follow
from releases import services as release_services
from tests.test_cli_commands import cli, deploy, worker  # noqa: F401 (fixtures)
from tests.test_cli_commands import release as cli_release

pytestmark = pytest.mark.django_db(transaction=True)
Status = Deployment.Status

TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ service }}
spec:
  replicas: {{ replicas }}
  selector:
    matchLabels: {app: "{{ service }}"}
  template:
    metadata:
      labels: {app: "{{ service }}", version: "{{ version }}"}
    spec:
      containers:
        - name: app
          image: {{ image }}
          env:
            - {name: SANDBOX_NEVER_READY, value: "{{ never_ready }}"}
"""
GOOD = {"image": "registry.example/hello:1", "replicas": "2", "never_ready": "0"}
MISSING_IMAGE = {"image": "registry.example/hello:does-not-exist"}


def release(user, version: str, **attributes):
    return release_services.create_release(
        service="hello-world", version=version, template=TEMPLATE,
        attributes={**GOOD, **attributes}, comment="", user=user,
    )  # fmt: skip


def deploy_inline(target, user, version: str, attributes=None, timeout=30, **release_attrs):
    """Register a release, ask for its deployment and run it in this process, as a worker would."""
    deployment = services.create_deployment(
        release=release(user, version, **release_attrs),
        namespace=target,
        attributes=attributes or {},
        user=user,
        timeout_seconds=timeout,
    )
    return run(deployment)


def run(deployment) -> Deployment:
    runner.run(deployment.pk)
    deployment.refresh_from_db()
    return deployment


def log_of(deployment) -> str:
    return "\n".join(entry.message for entry in deployment.log_entries.all())


@pytest.fixture
def rolling_back(target):
    target.rollback_on_failure = True
    target.save()
    return target


def test_failed_deployment_is_rolled_back_to_the_last_success_with_its_attributes(
    rolling_back, alice
):
    good = deploy_inline(rolling_back, alice, "1.0.1", attributes={"replicas": "3"})
    assert good.status == Status.SUCCEEDED, log_of(good)

    failed = deploy_inline(rolling_back, alice, "1.0.2", **MISSING_IMAGE)

    assert failed.status == Status.FAILED, log_of(failed)
    back = Deployment.objects.get(rollback_of=failed)
    assert failed.rolled_back_by == back
    assert back.release == good.release
    assert back.requested_attributes == {"replicas": "3"}
    assert back.redeploy_of == good
    assert back.created_by.username == "kubernaut"
    assert not back.created_by.has_usable_password()
    # Queued like any deployment; the worker that held the target runs it at once, before it
    # lets the target go (it drains the target's queue).
    assert back.status == Status.SUCCEEDED, log_of(back)
    assert f"This is an automatic rollback of #{failed.pk}, which failed" in log_of(back)
    assert f"An automatic rollback was started: deployment #{back.pk}" in log_of(failed)
    assert log_of(failed).index(rollback.STARTING) < log_of(failed).index("was started")

    back = run(back)
    assert back.status == Status.SUCCEEDED, log_of(back)
    assert back.workloads[0]["ready"] == 3


def test_the_reason_says_what_serves_and_the_log_keeps_the_cluster_message(rolling_back, alice):
    deploy_inline(rolling_back, alice, "1.0.1")
    failed = deploy_inline(rolling_back, alice, "1.0.2", **MISSING_IMAGE)

    assert re.fullmatch(
        r"1\.0\.1 still serves 2 of 2 pods; 1 new pod fails: "
        r"image registry\.example/hello:does-not-exist not found\.",
        failed.reason,
    ), failed.reason
    # The rollout rules' own message, with the pod's name, stays in the log.
    assert re.search(r"deployment\.apps/hello-world: .*ErrImagePull.*\(pod hello-world-",
                     log_of(failed))  # fmt: skip


def test_a_timed_out_deployment_is_rolled_back_too(rolling_back, alice):
    deploy_inline(rolling_back, alice, "1.0.1")
    started = time.monotonic()
    timed_out = deploy_inline(rolling_back, alice, "1.0.2", timeout=2, never_ready="1")

    assert timed_out.status == Status.TIMED_OUT, log_of(timed_out)
    assert time.monotonic() - started < 6
    assert timed_out.reason.startswith("Not rolled out within 2 s: 1.0.1 still serves 2 of 2 pods;")
    assert "1 new pod fails: container app is" in timed_out.reason
    back = timed_out.rolled_back_by
    assert back.release.version == "1.0.1"
    assert "which timed out" in log_of(back)


def test_a_failed_rollback_does_not_start_another(rolling_back, alice):
    deploy_inline(rolling_back, alice, "1.0.1")
    failed = deploy_inline(rolling_back, alice, "1.0.2", **MISSING_IMAGE)
    assert failed.rolled_back_by is not None  # rolled back to 1.0.1, which succeeded
    # A rollback that fails itself: a release that cannot run, asked for as the automatic
    # rollback of an earlier failure.
    earlier = Deployment.objects.create(
        release=failed.release, service=failed.service, namespace=rolling_back,
        created_by=alice, status=Status.FAILED, manifest="", timeout_seconds=30,
    )  # fmt: skip
    back = services.create_deployment(
        release=release(alice, "1.0.3", **MISSING_IMAGE), namespace=rolling_back,
        attributes={}, user=alice, timeout_seconds=30,
    )  # fmt: skip
    Deployment.objects.filter(pk=back.pk).update(rollback_of=earlier)
    count = Deployment.objects.count()

    back = run(back)

    assert back.status == Status.FAILED, log_of(back)
    assert "No automatic rollback: this was itself the automatic rollback of" in log_of(back)
    assert not Deployment.objects.filter(rollback_of=back).exists()
    assert Deployment.objects.count() == count


def test_no_earlier_success_is_said_and_nothing_starts(rolling_back, alice):
    failed = deploy_inline(rolling_back, alice, "1.0.2", **MISSING_IMAGE)

    assert failed.status == Status.FAILED
    assert (
        f"No automatic rollback: no deployment of hello-world has succeeded in "
        f"{rolling_back} before." in log_of(failed)
    )
    assert Deployment.objects.count() == 1
    # With nothing serving, the reason says that first.
    assert failed.reason.startswith("No pod of deployment/hello-world is serving; 2 new pods fail")


def test_without_the_setting_nothing_is_rolled_back(target, alice):
    deploy_inline(target, alice, "1.0.1")
    failed = deploy_inline(target, alice, "1.0.2", **MISSING_IMAGE)

    assert failed.status == Status.FAILED
    assert "rollback" not in log_of(failed)
    assert Deployment.objects.count() == 2


def test_a_deployment_asked_for_since_is_not_overtaken(rolling_back, alice):
    deploy_inline(rolling_back, alice, "1.0.1")
    bad = services.create_deployment(
        release=release(alice, "1.0.2", **MISSING_IMAGE), namespace=rolling_back,
        attributes={}, user=alice, timeout_seconds=30,
    )  # fmt: skip
    fix = services.create_deployment(
        release=release(alice, "1.0.3"), namespace=rolling_back, attributes={}, user=alice,
        timeout_seconds=30,
    )  # fmt: skip

    runner.run(fix.pk)  # runs the older one first, then the fix

    bad.refresh_from_db()
    fix.refresh_from_db()
    assert bad.status == Status.FAILED
    assert (
        f"No automatic rollback: deployment #{fix.pk} to this namespace was asked for since."
        in (log_of(bad))
    )
    assert fix.status == Status.SUCCEEDED
    assert Deployment.objects.count() == 3


def test_a_rollback_the_policy_refuses_is_logged_and_nothing_is_queued(rolling_back, alice):
    deploy_inline(rolling_back, alice, "1.0.1")
    bad = services.create_deployment(
        release=release(alice, "1.0.2"), namespace=rolling_back, attributes={}, user=alice,
        timeout_seconds=30,
    )  # fmt: skip
    # Tightened after it was queued: the worker refuses it, and the rollback is refused too.
    rolling_back.allowed_registries = ["registry.other.example"]
    rolling_back.save()

    bad = run(bad)

    assert bad.status == Status.FAILED
    assert "The automatic rollback could not start: " in log_of(bad)
    assert "registry.other.example" in log_of(bad)
    assert Deployment.objects.count() == 2


def test_starting_twice_makes_one_rollback(rolling_back, alice):
    good = deploy_inline(rolling_back, alice, "1.0.1")
    failed = deploy_inline(rolling_back, alice, "1.0.2", **MISSING_IMAGE)

    assert rollback.start(failed.pk, good.pk) is None  # a repeated call finds it done

    assert Deployment.objects.filter(rollback_of=failed).count() == 1


def test_the_cli_and_the_server_agree_on_the_log_lines():
    assert follow.ROLLBACK_STARTING == rollback.STARTING
    assert follow.ROLLBACK_NOT_STARTED == "The automatic rollback could not start"


def test_deploy_wait_says_a_rollback_was_started_end_to_end(cli, target, worker):  # noqa: F811
    """The CLI against a live Kubernaut with a real qcluster: exit 1 for the failed deployment,
    naming the rollback, which the worker then runs to success."""
    target.rollback_on_failure = True
    target.save()
    assert cli_release(cli, "1.0.1")[0] == 0
    assert cli_release(cli, "1.0.2", "-a", f"image={MISSING_IMAGE['image']}")[0] == 0
    assert deploy(cli, target, "1.0.1", "--wait")[0] == 0

    code, out, err = deploy(cli, target, "1.0.2", "--wait")

    assert code == 1, out + err
    failed = Deployment.objects.get(release__version="1.0.2")
    back = Deployment.objects.get(rollback_of=failed)
    lines = err.splitlines()
    assert lines[0] == f"kubernaut: an automatic rollback was started: deployment #{back.pk}"
    assert lines[-1] == f"kubernaut: Deployment #{failed.pk} failed: {failed.reason}"
    assert "still serves 2 of 2 pods; 1 new pod fails: image" in lines[-1]
    deadline = time.monotonic() + 15
    while back.status != Status.SUCCEEDED and time.monotonic() < deadline:
        time.sleep(0.2)
        back.refresh_from_db()
    assert back.status == Status.SUCCEEDED, log_of(back)


def test_the_api_and_the_pages_link_both_ways(rolling_back, alice, alice_api, client):
    deploy_inline(rolling_back, alice, "1.0.1")
    failed = deploy_inline(rolling_back, alice, "1.0.2", **MISSING_IMAGE)
    back = failed.rolled_back_by

    shown = alice_api.get(f"/api/deployments/{failed.pk}").json()
    assert (shown["rollback_of"], shown["rolled_back_by"]) == (None, back.pk)
    assert shown["reason"].startswith("1.0.1 still serves 2 of 2 pods; 1 new pod fails: image")
    shown = alice_api.get(f"/api/deployments/{back.pk}").json()
    assert (shown["rollback_of"], shown["rolled_back_by"]) == (failed.pk, None)
    rows = {row["id"]: row for row in alice_api.get("/api/deployments").json()["results"]}
    assert (rows[failed.pk]["rolled_back_by"], rows[back.pk]["rollback_of"]) == (back.pk, failed.pk)

    client.force_login(alice)
    page = client.get(f"/deployments/{failed.pk}/").content.decode()
    assert f'An automatic rollback was started: <a href="/deployments/{back.pk}/">' in page
    assert "1.0.1 still serves 2 of 2 pods" in page
    page = client.get(f"/deployments/{back.pk}/").content.decode()
    assert "<strong>automatic rollback</strong> of the failed" in page
    assert f'<a href="/deployments/{failed.pk}/" class="rollback-of">#{failed.pk}</a>' in page
    progress = client.get(f"/deployments/{failed.pk}/progress").content.decode()
    assert f"deployment #{back.pk}</a> (succeeded)" in progress  # the holder ran it at once
