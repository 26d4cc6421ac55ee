"""In Chromium: what the clusters run next to what Kubernaut deployed (issue 15). A workload
changed with kubectl shows as drift with its diff a click away; a deleted object as missing; a
stopped sandbox as unreachable, the page still rendering in under 2 s."""

import re
import time

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from clusters.kube import ClusterClient
from clusters.models import Cluster, Namespace
from deployments import services
from deployments.models import Deployment
from tests.conftest import open_to_teams
from tests.test_deployment_runner import make, run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_live_cache(settings):
    settings.KUBERNAUT_LIVE_CACHE_SECONDS = 0


def deployed(namespace, user, like: Deployment | None = None) -> Deployment:
    """The release deployed and rolled out (inline); `like`: the same release as that one."""
    user = User.objects.get(pk=user.pk)  # roles read afresh: namespaces were added since
    if like is None:
        deployment = make(namespace, user)
    else:
        deployment = services.create_deployment(
            release=like.release, namespace=namespace, attributes={}, user=user, timeout_seconds=30
        )
    deployment = run(deployment)
    assert deployment.status == Deployment.Status.SUCCEEDED
    return deployment


def row(page, namespace):
    place = f"{namespace.cluster.name}/{namespace.name}"
    return page.locator(f'#live-h ~ div tr[data-namespace="{place}"]')


def test_drift_and_missing_are_shown_with_the_diff_a_click_away(
    logged_in, live_server, alice, staging, sandbox_cluster, screenshot
):
    page = logged_in
    deployed(staging, alice)
    page.goto(f"{live_server.url}/services/hello-world/")
    here = row(page, staging)
    expect(here.locator(".live-state")).to_have_text("in sync")
    expect(here).to_contain_text("registry.example/hello:1")
    expect(here).to_contain_text("2/2")

    changed = sandbox_cluster.kubectl(
        "-n", staging.name, "set", "image", "deployment/hello-world", "app=registry.example/hand:2"
    )
    assert changed.returncode == 0, changed.stderr
    page.reload()
    expect(here.locator(".live-state")).to_have_text("drift")
    expect(here).to_contain_text("registry.example/hand:2")
    screenshot("live-state-drift")

    here.get_by_role("link", name="drift").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Live state of hello-world")
    diff = page.get_by_role("region", name="Drift of deployment.apps/hello-world")
    expect(diff.locator(".remove")).to_contain_text("image: registry.example/hello:1")
    expect(diff.locator(".add")).to_contain_text("image: registry.example/hand:2")
    screenshot("live-state-drift-diff")

    deleted = sandbox_cluster.kubectl("-n", staging.name, "delete", "service/hello-world")
    assert deleted.returncode == 0, deleted.stderr
    page.goto(f"{live_server.url}/services/hello-world/")
    expect(here.locator(".live-state")).to_have_text("missing")
    expect(here.locator(".live-state")).to_have_attribute(
        "title", "Gone from the cluster: service/hello-world."
    )
    page.goto(f"{live_server.url}/")
    expect(page.locator("#grid .live-state")).to_have_text("missing")


def test_a_stopped_cluster_is_unreachable_and_the_page_still_renders_fast(
    logged_in, live_server, alice, staging, screenshot
):
    from sandbox.testing import running_sandbox

    page = logged_in
    first = deployed(staging, alice)
    with running_sandbox(ready_delay=0.1) as edge_sandbox:
        edge = Cluster(name="edge", timeout_seconds=30)
        edge.set_kubeconfig(edge_sandbox.kubeconfig.read_text())
        edge.save()
        client = ClusterClient.for_cluster(edge)
        client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
        client.close()
        shop = open_to_teams(Namespace.objects.create(cluster=edge, name="shop"))
        deployed(shop, alice, like=first)
    # The edge sandbox is stopped: its address refuses connections.

    started = time.monotonic()
    page.goto(f"{live_server.url}/services/hello-world/")
    took = time.monotonic() - started

    assert took < 2, f"the service page took {took:.2f} s"
    expect(row(page, shop).locator(".live-state")).to_have_text("unreachable")
    expect(row(page, shop).locator(".live-state")).to_have_attribute(
        "title", re.compile(f"^The cluster edge at {re.escape(edge_sandbox.url)} is unreachable")
    )
    expect(row(page, staging).locator(".live-state")).to_have_text("in sync")
    screenshot("live-state-unreachable")

    started = time.monotonic()
    page.goto(f"{live_server.url}/")
    assert time.monotonic() - started < 2
    expect(page.locator("#grid .live-unreachable")).to_have_text("unreachable")
