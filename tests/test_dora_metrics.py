"""The DORA metrics (metrics/, docs/metrics.md) of a known history, checked against figures
worked out by hand; who sees which figures; bad input; the /metrics/ page.

The history, T being "now" (in the figures tests a Thursday, 2026-03-05 12:00 UTC, so the weekly
buckets start on Mondays 02-02, 02-09, 02-16, 02-23 and 03-02):

  releases (in id order): shop r1 (T-40d), r2 (T-10d), r3 (T-8d), r4 (T-7d), r5 (T-3d);
                          cart r6 (T-4d-1h), r7 (T-11d)
  prod-a (production), shop:  d1  r1 succeeded T-35d   (before every window)
                              d2  r2 succeeded T-9d
                              d3  r3 failed    T-8d+2h (an outage starts)
                              d4  r3 succeeded T-8d+5h (restored after 3 h)
                              d5  r4 succeeded T-5d    (rolled back by d6: r3 is older)
                              d6  r3 succeeded T-4d    (a manual rollback)
                              d7  r5 cancelled T-2d    (never counts)
                              d8  r5 timed out T-2d+1h (an outage nobody ended yet)
  prod-b (production), shop:  d9  r2 succeeded T-6d    (r2 again: its lead time is d2's)
  staging (not production):   d10 r5 succeeded T-2.5d, d11 r4 failed T-5.5d (never count)
  prod-b, cart:               d12 r6 succeeded T-4d
                              d13 r6 failed    T-1d    (an outage starts)
                              d14 r6 succeeded T-1d+30m (restored after 30 min)
  prod-a, cart:               c1  r7 failed    T-10d   (an outage starts: nothing before it)
                              c2  r7 failed    T-3d    (the same outage)
                              c3  r7 succeeded T-2d    (restored after 8 days)
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from clusters.models import Cluster, Namespace
from deployments.models import Deployment
from metrics import bands, services
from releases.models import Release, Service
from tests.conftest import client_for, grant, make_user

THURSDAY = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
HOUR, DAY = 3600, 86400


@pytest.fixture(autouse=True)
def count_every_time(settings):
    # The figures are cached for a minute in production; these tests change the history.
    settings.KUBERNAUT_METRICS_CACHE_SECONDS = 0


def seed_history(now: datetime, user) -> dict[str, Namespace]:
    cluster = Cluster(name="dora")
    cluster.set_kubeconfig("apiVersion: v1\nkind: Config\n")
    cluster.save()
    prod_a = Namespace.objects.create(cluster=cluster, name="prod-a", production=True)
    prod_b = Namespace.objects.create(cluster=cluster, name="prod-b", production=True)
    staging = Namespace.objects.create(cluster=cluster, name="staging")
    shop, cart = Service.objects.create(name="shop"), Service.objects.create(name="cart")

    def release(service, version, ago: timedelta) -> Release:
        return Release.objects.create(
            service=service, version=version, template="", created_by=user, created_at=now - ago
        )

    r1 = release(shop, "1", timedelta(days=40))
    r2 = release(shop, "2", timedelta(days=10))
    r3 = release(shop, "3", timedelta(days=8))
    r4 = release(shop, "4", timedelta(days=7))
    r5 = release(shop, "5", timedelta(days=3))
    r6 = release(cart, "6", timedelta(days=4, hours=1))
    r7 = release(cart, "7", timedelta(days=11))

    def deploy(release_, namespace, status, ago: timedelta) -> Deployment:
        return Deployment.objects.create(
            release=release_, service=release_.service, namespace=namespace, manifest="",
            status=status, timeout_seconds=600, created_by=user, finished_at=now - ago,
        )  # fmt: skip

    ok, failed, timed_out = "succeeded", "failed", "timed_out"
    deploy(r1, prod_a, ok, timedelta(days=35))
    deploy(r2, prod_a, ok, timedelta(days=9))
    deploy(r3, prod_a, failed, timedelta(days=8) - timedelta(hours=2))
    deploy(r3, prod_a, ok, timedelta(days=8) - timedelta(hours=5))
    deploy(r4, prod_a, ok, timedelta(days=5))
    deploy(r3, prod_a, ok, timedelta(days=4))
    deploy(r5, prod_a, "cancelled", timedelta(days=2))
    deploy(r5, prod_a, timed_out, timedelta(days=2) - timedelta(hours=1))
    deploy(r2, prod_b, ok, timedelta(days=6))
    deploy(r5, staging, ok, timedelta(days=2, hours=12))
    deploy(r4, staging, failed, timedelta(days=5, hours=12))
    deploy(r6, prod_b, ok, timedelta(days=4))
    deploy(r6, prod_b, failed, timedelta(days=1))
    deploy(r6, prod_b, ok, timedelta(days=1) - timedelta(minutes=30))
    deploy(r7, prod_a, failed, timedelta(days=10))
    deploy(r7, prod_a, failed, timedelta(days=3))
    deploy(r7, prod_a, ok, timedelta(days=2))
    return {"prod-a": prod_a, "prod-b": prod_b, "staging": staging}


@pytest.fixture
def history(admin_user) -> dict[str, Namespace]:
    return seed_history(THURSDAY, admin_user)


def figures(user, days: int, service: str | None = None) -> dict:
    ids = services.counted_namespace_ids(user)
    return services.dora(ids, days=days, service=service, now=THURSDAY).as_json()


def test_thirty_days_overall_match_the_figures_worked_out_by_hand(history, admin_user):
    result = figures(admin_user, 30)
    # Counted: d2 d3 d4 d5 d6 d8 d9 d12 d13 d14 c1 c2 c3 (d1 is older, d7 cancelled, d10 and
    # d11 in staging). Succeeded: d2 d4 d5 d6 d9 d12 d14 c3 = 8, per day 8 / 30.
    assert result["deployment_frequency"] == {"deployments": 8, "per_day": 0.267}
    # Failures: d3 d8 d13 c1 c2, and d5 rolled back (the next success there, d6, shipped the
    # older r3) = 6 of 13. d12 is followed by d14 with the same release: not a rollback.
    assert result["change_failure_rate"] == {"failures": 6, "deployments": 13, "rate": 0.4615}
    # First production successes in the window: r2 (d2, 1 d), r3 (d4, 5 h), r4 (d5, 2 d),
    # r6 (d12, 1 h), r7 (c3, 9 d): 3600, 18000, 86400, 172800, 777600 s. Median 86400;
    # p90 at position 0.9 * 4 = 3.6: 172800 + 0.6 * (777600 - 172800) = 535680.
    assert result["lead_time_seconds"] == {"median": 86400, "p90": 535680, "releases": 5}
    # Outages: d3 (3 h to d4), d13 (30 min to d14), c1 (8 d to c3; c2 continues it), d8 open.
    # 1800, 10800, 691200: median 10800; p90 at 1.8: 10800 + 0.8 * 680400 = 555120.
    assert result["time_to_restore_seconds"] == {
        "median": 10800, "p90": 555120, "restored": 3, "open_failures": 1,
    }  # fmt: skip
    # Week of 02-23: d2 d3 d4 d5 d6 d9 d12 c1 (failures d3 d5 c1); of 03-02: d8 d13 d14 c2 c3
    # (failures d8 d13 c2). The window starts on Tuesday 02-03: its first week is 02-02.
    assert result["weekly"] == [
        {"week_start": "2026-02-02", "deployments": 0, "failures": 0},
        {"week_start": "2026-02-09", "deployments": 0, "failures": 0},
        {"week_start": "2026-02-16", "deployments": 0, "failures": 0},
        {"week_start": "2026-02-23", "deployments": 8, "failures": 3},
        {"week_start": "2026-03-02", "deployments": 5, "failures": 3},
    ]
    assert result["since"] == "2026-02-03T12:00:00+00:00"
    assert result["until"] == "2026-03-05T12:00:00+00:00"


def test_the_copied_registration_time_counts_as_the_release_s_own(history, admin_user):
    # Rows inserted without the copy (above) look the release up; create_deployment fills it.
    looked_up = figures(admin_user, 30)
    registered = Release.objects.filter(pk=OuterRef("release_id")).values("created_at")[:1]
    assert Deployment.objects.update(release_created_at=Subquery(registered)) == 17
    assert figures(admin_user, 30) == looked_up


def test_seven_days_look_before_the_window_for_first_successes_and_outages(history, admin_user):
    result = figures(admin_user, 7)
    # From 02-26 12:00: d5 d6 d8 d9 d12 d13 d14 c2 c3; succeeded d5 d6 d9 d12 d14 c3 = 6.
    assert result["deployment_frequency"] == {"deployments": 6, "per_day": 0.857}
    # Failures d8 d13 c2 and d5 rolled back: 4 of 9.
    assert result["change_failure_rate"] == {"failures": 4, "deployments": 9, "rate": 0.4444}
    # r3 (d6) and r2 (d9) first succeeded before the window: only r4 (2 d), r6 (1 h), r7 (9 d).
    assert result["lead_time_seconds"]["releases"] == 3
    assert result["lead_time_seconds"]["median"] == 172800
    # c2 follows c1 (before the window), which failed too: not a new outage. d13 restored in
    # 30 min; d8 open.
    assert result["time_to_restore_seconds"] == {
        "median": 1800, "p90": 1800, "restored": 1, "open_failures": 1,
    }  # fmt: skip
    assert [week["week_start"] for week in result["weekly"]] == ["2026-02-23", "2026-03-02"]


def test_one_service(history, admin_user):
    result = figures(admin_user, 30, service="shop")
    # d2 d3 d4 d5 d6 d8 d9; succeeded d2 d4 d5 d6 d9; failures d3 d8 and d5 rolled back.
    assert result["service"] == "shop"
    assert result["deployment_frequency"]["deployments"] == 5
    assert result["change_failure_rate"] == {"failures": 3, "deployments": 7, "rate": 0.4286}
    # r2 1 d, r3 5 h, r4 2 d: median 1 d.
    assert result["lead_time_seconds"]["median"] == DAY
    assert result["time_to_restore_seconds"] == {
        "median": 3 * HOUR, "p90": 3 * HOUR, "restored": 1, "open_failures": 1,
    }  # fmt: skip


def test_someone_who_sees_one_namespace_gets_only_its_figures(history, admin_user):
    viewer = make_user("vera")
    grant("viewer", history["prod-b"], user=viewer)
    result = figures(viewer, 30)
    # prod-b only: d9 d12 d13 d14; succeeded d9 d12 d14; failure d13.
    assert result["deployment_frequency"]["deployments"] == 3
    assert result["change_failure_rate"] == {"failures": 1, "deployments": 4, "rate": 0.25}
    # r2's first success she can see is d9 (T-6d; created T-10d): 4 d; r6 1 h.
    assert result["lead_time_seconds"] == {
        "median": (4 * DAY + HOUR) / 2, "p90": HOUR + 0.9 * (4 * DAY - HOUR), "releases": 2,
    }  # fmt: skip
    assert result["time_to_restore_seconds"]["median"] == 1800


def test_someone_who_sees_no_production_namespace_gets_zeros(history):
    viewer = make_user("stan")
    grant("viewer", history["staging"], user=viewer)
    result = figures(viewer, 90)
    assert result["deployment_frequency"] == {"deployments": 0, "per_day": 0.0}
    assert result["change_failure_rate"] == {"failures": 0, "deployments": 0, "rate": None}
    assert result["lead_time_seconds"] == {"median": None, "p90": None, "releases": 0}
    assert len(result["weekly"]) in (13, 14)


def test_bands_follow_the_2023_clusters():
    assert bands.frequency_band(3) == "elite"
    assert bands.frequency_band(0.5) == "high"
    assert bands.frequency_band(0.1) == "medium"
    assert bands.frequency_band(0.01) == "low"
    assert bands.failure_rate_band(0.05) == "elite"
    assert bands.failure_rate_band(0.4615) == "low"
    assert bands.lead_time_band(HOUR) == "elite"
    assert bands.lead_time_band(2 * DAY) == "high"
    assert bands.restore_band(30 * 60) == "elite"
    assert bands.restore_band(10 * DAY) == "low"
    assert bands.restore_band(None) is None


# --- the API ------------------------------------------------------------------------------


@pytest.fixture
def live_history(admin_user) -> dict[str, Namespace]:
    """The same history ending a moment ago, for the API and the page (which count to now)."""
    return seed_history(timezone.now() - timedelta(seconds=5), admin_user)


def test_api_answers_the_same_figures(live_history, admin_user):
    response = client_for(admin_user).get("/api/metrics/dora")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["days"] == 30 and body["service"] is None
    assert body["deployment_frequency"]["deployments"] == 8
    assert body["change_failure_rate"]["rate"] == 0.4615
    assert body["lead_time_seconds"]["median"] == 86400
    assert body["time_to_restore_seconds"]["open_failures"] == 1
    assert sum(week["deployments"] for week in body["weekly"]) == 13

    shop = client_for(admin_user).get("/api/metrics/dora", {"service": "shop", "days": 7})
    assert shop.status_code == 200
    assert shop.json()["service"] == "shop" and shop.json()["days"] == 7


def test_api_refuses_bad_input_with_a_sentence(live_history, admin_user):
    api = client_for(admin_user)
    bad_days = api.get("/api/metrics/dora", {"days": 5})
    assert bad_days.status_code == 400
    assert bad_days.json()["errors"]["days"] == ["days must be 7, 30 or 90."]
    unknown = api.get("/api/metrics/dora", {"service": "nope"})
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "There is no service named 'nope'."
    assert api.get("/api/metrics/dora", {"service": ""}).status_code == 400
    assert APIClient().get("/api/metrics/dora").status_code == 401


def test_api_limits_the_figures_to_visible_namespaces(live_history):
    viewer = make_user("vera")
    grant("viewer", live_history["prod-b"], user=viewer)
    body = client_for(viewer).get("/api/metrics/dora").json()
    assert body["change_failure_rate"] == {"failures": 1, "deployments": 4, "rate": 0.25}


def test_api_reuses_the_figures_for_people_who_see_the_same_namespaces(
    live_history, admin_user, settings
):
    settings.KUBERNAUT_METRICS_CACHE_SECONDS = 60
    first = client_for(admin_user).get("/api/metrics/dora", {"days": 7}).json()
    Deployment.objects.filter(status="failed").update(status="succeeded")
    again = client_for(make_user("root", superuser=True)).get("/api/metrics/dora", {"days": 7})
    assert again.json() == first  # `until` says when they were counted
    settings.KUBERNAUT_METRICS_CACHE_SECONDS = 0
    fresh = client_for(admin_user).get("/api/metrics/dora", {"days": 7}).json()
    assert fresh["until"] > first["until"]
    assert fresh["change_failure_rate"]["failures"] < first["change_failure_rate"]["failures"]


# --- the page -----------------------------------------------------------------------------


def test_page_shows_the_figures_and_a_chart(client, live_history, admin_user):
    client.force_login(admin_user)
    response = client.get(reverse("metrics"), {"days": 30})
    assert response.status_code == 200
    page = response.content.decode()
    assert "<svg" in page and '<title id="weekly-svg-title">' in page
    assert "8 succeeded deployments" in page
    assert "6 of 13 deployments" in page
    assert "46.2 %" in page
    assert '<option value="shop">' in page
    assert 'aria-current="page" class="current">30 days' in page


def test_page_query_count_is_bounded(
    client, live_history, admin_user, django_assert_max_num_queries
):
    viewer = make_user("vera")
    grant("viewer", live_history["prod-b"], user=viewer)
    client.force_login(viewer)
    # session, user, roles (teams, grants), namespaces, service, the metrics (in a savepoint
    # that turns JIT off: 3 more), the service names, the nav's permission check (user's and
    # groups' permissions): whatever the history
    with django_assert_max_num_queries(13):
        response = client.get(reverse("metrics"), {"service": "cart", "days": 90})
    assert response.status_code == 200
    assert "2 succeeded deployments" in response.content.decode()


def test_page_says_what_was_wrong(client, live_history, admin_user):
    client.force_login(admin_user)
    bad = client.get(reverse("metrics"), {"days": "5"})
    assert bad.status_code == 400
    assert "days must be 7, 30 or 90" in bad.content.decode()
    unknown = client.get(reverse("metrics"), {"service": "nope"})
    assert unknown.status_code == 404
    assert "There is no service named" in unknown.content.decode()


def test_page_needs_a_login(client):
    response = client.get(reverse("metrics"))
    assert response.status_code == 302


@pytest.mark.django_db(transaction=True)  # VACUUM: index-only scans need the visibility map
def test_the_window_is_read_from_the_partial_index(admin_user):
    """At seed_bench's shape, small: the window's changes come from deployment_counted_finished
    (docs/performance.md has the plan at 200,000 deployments)."""
    from django.db import connection

    call_command(
        "seed_bench", releases=10000, deployments=2000, services=50, namespaces=8, verbosity=0
    )
    ids = services.counted_namespace_ids(admin_user)
    now = timezone.now()
    parameters = {"namespaces": ids, "since": now - timedelta(days=7), "until": now}
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + services.SQL.format(service_filter=""), parameters)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "deployment_counted_finished" in plan, plan
