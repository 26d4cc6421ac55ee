"""Issue 15, a first hour without papercuts: each small fix seen in Chromium.

Rows are made through the ORM (as tests/test_pages_overview.py does) unless the point is what
the page does live, where a real worker runs the deployment. One page load checks several
things where it can: each browser test costs seconds.
"""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from deployments.models import Deployment
from tests.browser.test_browser_deploy import deploy_through_the_page, register, wait_until
from tests.test_pages_overview import deployed, make_place

pytestmark = pytest.mark.django_db(transaction=True)


def test_times_statuses_icon_docs_and_error_pages_are_kubernauts(
    logged_in: Page, live_server, alice, make_release, screenshot
):
    page = logged_in
    release = make_release(version="1.0.0")
    staging = make_place("main", "staging")
    deployed(release, staging, alice, status=Deployment.Status.TIMED_OUT, reason="Too long.")

    page.goto(f"{live_server.url}/deployments/")
    row = page.locator("tbody tr").first
    expect(row.locator("time")).to_have_text("just now")
    expect(row.locator(".status")).to_have_text("Timed out")
    expect(page.get_by_label("Status")).to_contain_text("Timed out")
    screenshot("papercuts-deployments-timed-out")

    # The icon: linked from every page, and /favicon.ico answers for the pages that do not link.
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert page.request.get(f"{live_server.url}{icon}").headers["content-type"] == "image/svg+xml"
    answer = page.request.get(f"{live_server.url}/favicon.ico")
    assert answer.ok and answer.headers["content-type"] == "image/svg+xml"

    page.goto(f"{live_server.url}/api/docs/")
    expect(page.locator(".swagger-ui .title").first).to_contain_text("Kubernaut API")
    # No screenshot: the docs page is 6000 px tall and its full-page capture takes seconds.
    page.get_by_role("link", name="Back to the app").click()
    page.wait_for_url(f"{live_server.url}/")

    missing = page.goto(f"{live_server.url}/no-such-page/")
    assert missing.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(page.locator(".brand")).to_have_text("Kubernaut")

    # A form whose CSRF token went stale (logged out and in again in another tab, say).
    page.goto(f"{live_server.url}/deployments/")
    page.context.clear_cookies(name="csrftoken")
    page.locator("form[action='/logout/'] button").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("The form has expired")
    expect(page.locator(".brand")).to_have_text("Kubernaut")
    screenshot("papercuts-csrf")


def log_is_at_its_end(page: Page) -> bool:
    return page.locator("#log").evaluate(
        "log => log.scrollHeight - log.scrollTop - log.clientHeight < 2"
    )


def test_a_failed_deployment_drops_the_queued_banner_and_opens_its_log_at_the_end(
    logged_in: Page, live_server, alice, staging, worker, screenshot
):
    page = logged_in
    register(alice, "2.0.0", image="registry.example/hello:does-not-exist")
    page.goto(f"{live_server.url}/services/hello-world/")
    deploy_through_the_page(page, "2.0.0", staging)
    expect(page.locator(".messages")).to_contain_text("is queued")

    wait_until(page, "Failed")
    expect(page.locator(".messages")).to_have_count(0)
    reason = page.locator("#progress .reason").inner_text()
    assert "not found" in reason
    # One sentence: a single full stop, at its end.
    assert re.fullmatch(r"[^.]+(\.[^ .][^.]*)*\.", reason.strip()), reason
    screenshot("papercuts-failed-live")

    # A log longer than its box (a real failure logs pods and events), ending in the error.
    failed = Deployment.objects.get()
    for number in range(60):
        failed.log(f"event {number}: Back-off pulling image", "warning")
    failed.log("The last word: image not found.", "error")
    page.reload()
    expect(page.locator("#progress .status")).to_have_text("Failed")
    assert page.locator("#log").evaluate("log => log.scrollHeight > log.clientHeight")
    assert log_is_at_its_end(page)
    page.locator("#log").scroll_into_view_if_needed()
    expect(page.locator("#log li").last).to_have_text(re.compile("The last word"))
    expect(page.locator("#log li").last).to_be_in_viewport()
    screenshot("papercuts-failed-reloaded")


WIDEST = """() => [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
    .slice(0, 8)
    .map(e => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)"""


def fits_the_width(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, (page.url, width, page.evaluate(WIDEST))


def test_the_main_pages_fit_a_phone(logged_in: Page, live_server, alice, make_release, screenshot):
    page = logged_in
    page.set_viewport_size({"width": 390, "height": 844})
    release = make_release(service="hello-world-with-a-long-name", version="2026.12.03-build.4711")
    staging = make_place("production-eu-west-1", "payments-staging")
    deployment = deployed(release, staging, alice, reason="2 of 2 ready.", manifest="x: 1\n" * 3)
    deployment.log("deployment.apps/hello-world-with-a-long-name configured " + "x" * 80)

    for url, name in [
        ("/", "overview"),
        (f"/services/{release.service.name}/", "service"),
        (f"/deployments/{deployment.pk}/", "deployment"),
    ]:
        page.goto(f"{live_server.url}{url}")
        screenshot(f"papercuts-phone-{name}")
        fits_the_width(page)
    # The service page's Deploy buttons are on screen, not off to the right.
    page.goto(f"{live_server.url}/services/{release.service.name}/")
    deploy = page.get_by_role("link", name=re.compile("^Deploy ")).first
    deploy.scroll_into_view_if_needed()
    expect(deploy).to_be_in_viewport(ratio=1)


def overlaps(page: Page, one: str, other: str) -> bool:
    a, b = page.locator(one).bounding_box(), page.locator(other).bounding_box()
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_admin_says_kubernaut_shows_deployments_read_only_and_finds_database_health(
    page: Page, live_server, admin_user, alice, make_release, screenshot
):
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\ndata:\n  greeting: hi\n"
    deployment = deployed(make_release(), make_place("main", "staging"), alice, manifest=manifest)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(admin_user.username)
    page.get_by_label("Password").fill(f"pw-{admin_user.username}")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/admin/deployments/deployment/{deployment.pk}/change/")
    expect(page.locator("#site-name")).to_contain_text("Kubernaut")
    expect(page.locator("pre.manifest")).to_have_text(manifest.rstrip("\n"))
    assert "\n  name: hello" in page.locator("pre.manifest").inner_text()
    expect(
        page.locator("#deployment_form select, #deployment_form input[type=text]")
    ).to_have_count(0)
    expect(page.locator("input[name=_save]")).to_have_count(0)
    screenshot("papercuts-admin-deployment")

    page.get_by_role("link", name="Database health").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Database health")
    expect(page.locator("#table-stats")).to_be_visible()
    assert not overlaps(page, "#table-stats", "#changelist-filter")
    screenshot("papercuts-admin-database-health")


def test_releases_list_deploys_and_deployment_filters_suggest_names(
    logged_in: Page, live_server, alice, make_release, screenshot
):
    page = logged_in
    release = make_release(service="checkout", version="3.1.0")
    deployed(release, make_place("eu-west", "shop-staging"), alice)

    page.goto(f"{live_server.url}/releases/")
    row = page.locator("tbody tr", has_text="3.1.0")
    expect(row.locator(".chips")).to_contain_text("image")
    row.get_by_role("link", name="Deploy checkout 3.1.0").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("checkout 3.1.0")

    page.goto(f"{live_server.url}/deployments/")
    offered = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('.filters input[list]')]
            .map(input => [input.name, [...input.list.options].map(option => option.value)]))"""
    )
    assert offered == {
        "service": ["checkout"],
        "cluster": ["eu-west"],
        "namespace": ["shop-staging"],
        "created_by": ["alice"],
    }
    page.get_by_label("Namespace").fill("shop-staging")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    screenshot("papercuts-deployment-filters")


def test_the_seeded_example_previews_without_rendered_comments(
    logged_in: Page, live_server, alice, staging, screenshot
):
    page = logged_in
    call_command("seed_hello_world", user="alice", stdout=StringIO())
    page.goto(f"{live_server.url}/services/hello-world/")
    page.get_by_role("link", name="Deploy hello-world 1.0.0").click()
    page.get_by_label("Cluster / namespace").select_option(label=f"sandbox / {staging.name}")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".changes")).to_contain_text("deployment.apps/hello-world")
    page.get_by_text("Rendered manifest").click()
    manifest = page.locator("pre.manifest").inner_text()
    assert manifest.startswith("apiVersion: apps/v1"), manifest[:200]
    assert "are release attributes" not in manifest
    screenshot("papercuts-seeded-preview")
