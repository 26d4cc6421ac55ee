"""Browser tests: Debian's Chromium driven by pytest-playwright against the live server.

`playwright install` cannot download browsers here, so the launch uses /usr/bin/chromium
(`apt-get install chromium`; dev/setup.sh does it as root). A real qcluster worker runs the
deployments against the session's sandbox cluster.
"""

import os
import shutil
from itertools import count
from pathlib import Path

import pytest

from clusters.kube import ClusterClient
from clusters.models import Cluster, Namespace
from tests.conftest import open_to_teams
from tests.test_deployment_e2e import start_qcluster, stop

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make beside
# it are still plain synchronous calls (make test sets this too).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
_numbers = count(1)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # A missing browser fails the tests: a skipped test is not a passing one.
    assert Path(CHROMIUM).exists(), f"No Chromium at {CHROMIUM}: apt-get install chromium"
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
        ],
    }  # fmt: skip


@pytest.fixture(autouse=True)
def plain_http_cookies(settings):
    # The live server speaks plain HTTP; production cookies are Secure.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False


@pytest.fixture
def worker(transactional_db):
    process = start_qcluster()
    yield process
    stop(process)


@pytest.fixture
def staging(transactional_db, sandbox_cluster) -> Namespace:
    """A `staging-N` namespace of the sandbox cluster, fresh for each test."""
    name = f"staging-{next(_numbers)}"
    cluster = Cluster(name="sandbox", timeout_seconds=30)
    cluster.set_kubeconfig(sandbox_cluster.kubeconfig.read_text())
    cluster.save()
    client = ClusterClient.for_cluster(cluster)
    client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    client.close()
    return open_to_teams(Namespace.objects.create(cluster=cluster, name=name))


@pytest.fixture
def screenshot(page):
    """Save a full-page screenshot under test-artifacts/screenshots/ (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def logged_in(page, live_server, alice, screenshot):
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("pw-alice")
    screenshot("login")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
    return page
