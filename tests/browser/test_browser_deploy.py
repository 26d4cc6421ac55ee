"""An engineer in a real browser: log in, open a service, deploy, watch it live, roll back."""

import re

import pytest
from playwright.sync_api import Page, expect

from releases import services as release_services
from tests.test_deployment_e2e import start_qcluster, stop
from tests.test_deployment_runner import TEMPLATE

pytestmark = pytest.mark.django_db(transaction=True)
LIVE_SECONDS = 30_000  # ms; the sandbox rolls out in about a second


def register(user, version: str, image: str = "registry.example/hello:1") -> None:
    attributes = {"image": image, "replicas": "2", "deadline": "600", "crash": "0",
                  "never_ready": "0"}  # fmt: skip
    release_services.create_release(
        service="hello-world", version=version, template=TEMPLATE, attributes=attributes,
        comment=f"build {version}", user=user,
    )  # fmt: skip


def deploy_through_the_page(page: Page, version: str, namespace, screenshot=None) -> None:
    """From the service page: Deploy on the release, pick the namespace, preview, confirm."""
    page.get_by_role("link", name=f"Deploy hello-world {version}").click()
    page.get_by_label("Cluster / namespace").select_option(label=f"sandbox / {namespace.name}")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".changes")).to_contain_text("deployment.apps/hello-world")
    if screenshot:
        screenshot("deploy-preview")
    page.get_by_role("button", name=re.compile(f"^Deploy {re.escape(version)} to")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Deployment #")


def wait_until(page: Page, status: str) -> None:
    expect(page.locator("#progress .status")).to_have_text(status, timeout=LIVE_SECONDS)


def test_deploy_to_staging_and_follow_it_live(logged_in, live_server, alice, staging, worker,
                                              screenshot):  # fmt: skip
    page = logged_in
    register(alice, "1.0.0")
    page.reload()
    screenshot("overview-empty")

    page.get_by_role("link", name="hello-world").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("hello-world")
    screenshot("service")
    deploy_through_the_page(page, "1.0.0", staging, screenshot)

    # A marker that a reload would wipe: the page must update itself.
    page.evaluate("window.__notReloaded = true")
    wait_until(page, "Succeeded")
    expect(page.locator("#log")).to_contain_text("deployment.apps/hello-world created")
    expect(page.locator("#progress")).to_contain_text("2 of 2 ready")
    assert page.evaluate("window.__notReloaded") is True
    screenshot("deployment-succeeded")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot("deployment-phone")
    page.set_viewport_size({"width": 1280, "height": 720})

    page.goto(f"{live_server.url}/")
    expect(page.locator("table.grid")).to_contain_text("1.0.0")
    expect(page.locator("table.grid .status")).to_have_text("Succeeded")
    screenshot("overview")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot("overview-phone")


def test_missing_image_ends_failed_with_the_reason(logged_in, live_server, alice, staging, worker,
                                                   screenshot):  # fmt: skip
    page = logged_in
    register(alice, "2.0.0", image="registry.example/hello:does-not-exist")
    page.goto(f"{live_server.url}/services/hello-world/")

    deploy_through_the_page(page, "2.0.0", staging)

    wait_until(page, "Failed")
    expect(page.locator("#progress .reason")).to_contain_text("not found")
    screenshot("deployment-failed")


def test_roll_back_returns_to_the_previous_release(logged_in, live_server, alice, staging, worker,
                                                   screenshot):  # fmt: skip
    page = logged_in
    register(alice, "1")
    register(alice, "2", image="registry.example/hello:2")
    for version in ("1", "2"):
        page.goto(f"{live_server.url}/services/hello-world/")
        deploy_through_the_page(page, version, staging)
        wait_until(page, "Succeeded")

    page.get_by_role("link", name="Roll back to 1").click()

    # The diff first; nothing runs until the confirm button.
    expect(page.get_by_role("heading", level=1)).to_have_text("Roll back hello-world to 1")
    expect(page.locator(".preview")).to_contain_text("changed")
    screenshot("roll-back-preview")
    page.get_by_role("button", name=re.compile("^Deploy 1 to")).click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("hello-world 1 to")
    expect(page.locator(".messages")).to_contain_text("a redeploy of")
    wait_until(page, "Succeeded")
    expect(page.locator("#log")).to_contain_text("configured")
    screenshot("deployment-rolled-back")
    page.goto(f"{live_server.url}/deployments/")
    screenshot("deployments")
    page.goto(f"{live_server.url}/releases/")
    screenshot("releases")


def test_deploy_page_shows_errors_and_queues_nothing(logged_in, live_server, alice, staging,
                                                     screenshot):  # fmt: skip
    page = logged_in
    register(alice, "3")
    page.goto(f"{live_server.url}/services/hello-world/")
    page.get_by_role("link", name="Deploy hello-world 3").click()
    page.get_by_label("Cluster / namespace").select_option(label=f"sandbox / {staging.name}")
    page.get_by_label("Override attributes").fill("replicas=lots")
    page.get_by_role("button", name="Preview").click()

    expect(page.locator(".problem")).to_contain_text("Cannot deploy")
    expect(page.get_by_role("button", name=re.compile("^Deploy 3 to"))).to_have_count(0)
    screenshot("deploy-error")


def test_page_opened_before_the_worker_starts_updates_itself(
    logged_in, live_server, alice, staging, screenshot
):
    from deployments import services
    from releases.models import Release

    register(alice, "4")
    deployment = services.create_deployment(
        release=Release.objects.get(version="4"), namespace=staging, attributes={}, user=alice
    )
    page = logged_in
    page.goto(f"{live_server.url}/deployments/{deployment.pk}/")
    expect(page.locator("#progress .status")).to_have_text("Pending")
    expect(page.locator("#log li")).to_have_count(1)
    screenshot("deployment-pending")
    page.evaluate("window.__notReloaded = true")

    worker = start_qcluster()
    try:
        wait_until(page, "Succeeded")
    finally:
        stop(worker)

    expect(page.locator("#log")).to_contain_text("Started by a worker")
    expect(page.locator("#progress")).to_contain_text("2 of 2 ready")
    assert page.evaluate("window.__notReloaded") is True


def test_page_asks_for_the_log_each_tick_and_for_the_status_part_when_the_log_moves(
    logged_in, live_server, alice, staging
):
    from deployments import services
    from releases.models import Release

    register(alice, "5")
    deployment = services.create_deployment(
        release=Release.objects.get(version="5"), namespace=staging, attributes={}, user=alice
    )
    asked = {"log": 0, "progress": 0}

    def count(request) -> None:
        if f"/api/deployments/{deployment.pk}/log" in request.url:
            asked["log"] += 1
        elif request.url.endswith(f"/deployments/{deployment.pk}/progress"):
            asked["progress"] += 1

    page = logged_in
    page.on("request", count)
    page.goto(f"{live_server.url}/deployments/{deployment.pk}/")
    while asked["log"] < 6:
        page.wait_for_event("request")
    # Nothing moved while it waited for a worker: the status part is not asked for every tick
    # (only with new lines, at the end, or every 5 s), where it used to be.
    assert asked["progress"] * 2 <= asked["log"], asked

    worker = start_qcluster()
    try:
        wait_until(page, "Succeeded")
    finally:
        stop(worker)
    expect(page.locator("#progress")).to_contain_text("2 of 2 ready")
