"""Issue 14 in a real browser: continuous delivery to staging, Promote, an approval by another
person beside the diff, the DORA page; then a crash in production rolled back automatically,
continuous delivery paused there, and resumed from its page. A real qcluster runs it all."""

import re
from itertools import count

import pytest
from playwright.sync_api import Page, expect

from clusters.kube import ClusterClient
from clusters.models import Cluster, Namespace
from deployments.models import Deployment
from releases import services as release_services
from sandbox.testing import wait_for
from tests.browser.conftest import ARTIFACTS
from tests.conftest import grant, open_to_teams
from tests.test_deployment_runner import TEMPLATE

pytestmark = pytest.mark.django_db(transaction=True)
LIVE_MS = 60_000
_numbers = count(1)


def register(user, version: str, crash: str = "0") -> None:
    attributes = {"image": "registry.example/hello:1", "replicas": "2", "deadline": "600",
                  "crash": crash, "never_ready": "0"}  # fmt: skip
    release_services.create_release(
        service="hello-world", version=version, template=TEMPLATE, attributes=attributes,
        comment=f"build {version}", user=user,
    )  # fmt: skip


def namespace(cluster: Cluster, prefix: str, **settings) -> Namespace:
    name = f"{prefix}-{next(_numbers)}"
    client = ClusterClient.for_cluster(cluster)
    client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    client.close()
    return open_to_teams(Namespace.objects.create(cluster=cluster, name=name, **settings))


@pytest.fixture
def stages(transactional_db, sandbox_cluster, bob):
    cluster = Cluster(name="sandbox", timeout_seconds=30)
    cluster.set_kubeconfig(sandbox_cluster.kubeconfig.read_text())
    cluster.save()
    production = namespace(
        cluster, "production", required_approvals=1, production=True, rollback_on_failure=True
    )
    staging = namespace(cluster, "staging", next_stage=production)
    grant("deployer", production, user=bob)
    return staging, production


def log_in(page: Page, url: str, username: str) -> Page:
    page.set_default_timeout(15_000)
    page.goto(f"{url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(f"pw-{username}")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/")
    return page


def status_is(page: Page, status: str) -> None:
    expect(page.locator("#progress .status")).to_have_text(
        re.compile(status, re.IGNORECASE), timeout=LIVE_MS
    )


def newest(namespace: Namespace, version: str) -> Deployment:
    return wait_for(
        lambda: (
            Deployment.objects.filter(namespace=namespace, release__version=version)
            .order_by("-id")
            .first()
        ),
        LIVE_MS / 1000,
    )


def cd_page(page: Page, url: str) -> None:
    page.goto(f"{url}/services/hello-world/continuous-delivery")
    expect(page.get_by_role("heading", level=1)).to_have_text("Continuous delivery of hello-world")


def test_release_to_production_and_back(stages, page, browser, live_server, alice, bob, worker,
                                        screenshot):  # fmt: skip
    staging, production = stages
    url = live_server.url
    register(alice, "1.0.0")
    log_in(page, url, "alice")

    # Continuous delivery to staging, turned on from the service's page.
    page.goto(f"{url}/services/hello-world/")
    page.get_by_role("link", name=re.compile("Continuous delivery", re.IGNORECASE)).click()
    page.get_by_role("button", name=f"Turn continuous delivery of hello-world to "
                     f"sandbox/{staging.name} on").click()  # fmt: skip
    expect(page.locator("table")).to_contain_text("On")
    screenshot("cd-on")

    # CI registers 1.1.0: it is in staging without anyone clicking.
    register(alice, "1.1.0")
    shipped = newest(staging, "1.1.0")
    page.goto(f"{url}/deployments/{shipped.pk}/")
    status_is(page, "Succeeded")
    page.reload()  # the live part updates the status; the buttons come with the page

    # Promote: the preview of production, then confirm; it waits for an approval.
    page.get_by_role("button", name=f"Promote to sandbox / {production.name}…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Promote hello-world 1.1.0 to sandbox / {production.name}"
    )
    expect(page.locator(".changes")).to_contain_text("deployment.apps/hello-world")
    screenshot("promote-preview")
    page.get_by_role("button", name=f"Deploy 1.1.0 to sandbox / {production.name}").click()
    status_is(page, "Awaiting approval")
    expect(page.locator("#approvals")).to_contain_text("someone else must approve it")
    promoted_url = page.url

    # Bob, in his own browser, approves beside the diff against live.
    bobs = log_in(browser.new_context().new_page(), url, "bob")
    bobs.goto(promoted_url)
    expect(bobs.locator("#approvals")).to_contain_text("Waiting for 0 of 1 approval")
    expect(bobs.locator("#approvals .changes")).to_contain_text("deployment.apps/hello-world")
    bobs.screenshot(path=str(ARTIFACTS / "approval.png"), full_page=True)
    bobs.get_by_label("Comment (optional)").fill("Same as staging, looks right")
    bobs.get_by_role("button", name="Approve").click()
    status_is(bobs, "Succeeded")
    expect(bobs.locator("#approvals")).to_contain_text("Same as staging, looks right")

    # The DORA page counts it.
    page.goto(f"{url}/metrics/?service=hello-world&days=7")
    frequency = page.locator("section[aria-labelledby=f-frequency]")
    expect(frequency).to_contain_text("1 succeeded deployment")
    expect(
        page.get_by_role("img", name=re.compile("Deployments and failures by week"))
    ).to_be_visible()
    screenshot("dora")

    # Continuous delivery to production: off for staging, on for production.
    cd_page(page, url)
    page.get_by_role("button", name=f"Turn continuous delivery of hello-world to "
                     f"sandbox/{staging.name} off").click()  # fmt: skip
    page.get_by_role("button", name=f"Turn continuous delivery of hello-world to "
                     f"sandbox/{production.name} on").click()  # fmt: skip
    # 2.0.0 crashes in production: approved by Bob, it fails and is rolled back; CD pauses.
    register(alice, "2.0.0", crash="1")
    bad = newest(production, "2.0.0")
    bobs.goto(f"{url}/deployments/{bad.pk}/")
    bobs.get_by_role("button", name="Approve").click()
    status_is(bobs, "Failed")
    wait_for(lambda: Deployment.objects.filter(rollback_of=bad).exists(), LIVE_MS / 1000)
    bobs.reload()
    expect(bobs.locator(".rolled-back-by")).to_contain_text("An automatic rollback was started")
    bobs.locator(".rolled-back-by a").click()
    expect(bobs.locator("main")).to_contain_text(f"automatic rollback of the failed #{bad.pk}")
    status_is(bobs, "Succeeded")
    cd_page(page, url)
    expect(page.locator("table")).to_contain_text(f"Paused: Deployment #{bad.pk} failed")
    screenshot("cd-paused")
    page.get_by_role("button", name=f"Resume continuous delivery of hello-world to "
                     f"sandbox/{production.name}").click()  # fmt: skip
    expect(page.locator("table")).not_to_contain_text("Paused")
