"""GET /api/releases: newest first, filters, keyset pagination, and bad query parameters."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from releases.models import Release

pytestmark = pytest.mark.django_db


def versions(response) -> list[str]:
    return [item["version"] for item in response.json()["results"]]


def test_newest_first_without_templates(alice_api, make_release):
    for number in range(3):
        make_release(version=f"1.{number}")

    response = alice_api.get("/api/releases")

    assert response.status_code == 200
    assert versions(response) == ["1.2", "1.1", "1.0"]
    assert "template" not in response.json()["results"][0]


def test_deleted_releases_are_not_listed(alice_api, alice, make_release):
    make_release(version="1")
    make_release(version="2").soft_delete(by=alice)

    assert versions(alice_api.get("/api/releases")) == ["1"]


def test_filters(alice_api, bob, make_release):
    make_release(service="api", version="1")
    make_release(service="web", version="1")
    make_release(service="web", version="2", user=bob)

    assert versions(alice_api.get("/api/releases?service=web")) == ["2", "1"]
    assert versions(alice_api.get("/api/releases?service=web&version=1")) == ["1"]
    assert versions(alice_api.get("/api/releases?created_by=bob")) == ["2"]
    assert versions(alice_api.get("/api/releases?service=nope")) == []


def test_created_before_and_after(alice_api, make_release):
    old = make_release(version="old")
    Release.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    make_release(version="new")
    cut = (timezone.now() - timedelta(days=1)).isoformat()

    assert versions(alice_api.get("/api/releases", {"created_after": cut})) == ["new"]
    assert versions(alice_api.get("/api/releases", {"created_before": cut})) == ["old"]


def test_cursor_pages_walk_everything_once_even_while_new_releases_arrive(alice_api, make_release):
    for number in range(7):
        make_release(version=f"v{number}")

    seen, url = [], "/api/releases?limit=3"
    first = alice_api.get(url).json()
    seen += [item["version"] for item in first["results"]]
    make_release(version="arrived-late")  # must not shift the following pages
    url = first["next"]
    while url:
        page = alice_api.get(url).json()
        seen += [item["version"] for item in page["results"]]
        url = page["next"]

    assert seen == [f"v{number}" for number in reversed(range(7))]


def test_page_size_defaults_to_50_and_is_capped_at_500(alice_api, make_release):
    for number in range(52):
        make_release(version=f"v{number}")
    assert len(alice_api.get("/api/releases").json()["results"]) == 50
    assert alice_api.get("/api/releases?limit=501").status_code == 400


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=abc", "limit"),
        ("limit=0", "limit"),
        ("cursor=garbage", "cursor"),
        ("created_after=yesterday", "created_after"),
        ("created_before=2026-13-45", "created_before"),
    ],
)
def test_bad_query_parameters_get_400(alice_api, query, field):
    response = alice_api.get(f"/api/releases?{query}")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_listing_needs_credentials_and_permission(charlie_api):
    assert APIClient().get("/api/releases").status_code == 401
    response = charlie_api.get("/api/releases")
    assert response.status_code == 403
    assert "releases.view_release" in response.json()["detail"]


def test_list_query_count_does_not_grow_with_the_page(
    alice_api, make_release, django_assert_max_num_queries
):
    for number in range(20):
        make_release(version=f"v{number}")
    # token lookup, last_used update, user and group permissions, the page
    with django_assert_max_num_queries(5):
        response = alice_api.get("/api/releases?limit=20")
    assert len(response.json()["results"]) == 20


def test_list_rows_have_the_documented_shape(alice_api, make_release, rf):
    # Rows are built without the serializer for speed; they must match what it documents.
    from releases.serializers import ReleaseSerializer

    release = make_release()
    row = alice_api.get("/api/releases").json()["results"][0]
    request = rf.get("/api/releases")
    documented = ReleaseSerializer(release, context={"request": request}).data
    assert row == dict(documented)


def test_rows_keep_the_documented_shape_whatever_they_hold(alice_api, make_release, rf):
    # PostgreSQL writes these rows (releases/selectors.py); what JSON must escape, text beyond
    # ASCII and a registration on a whole second (no microseconds) must come out as DRF's
    # serializer writes them, in the list and in the detail.
    from releases.serializers import ReleaseDetailSerializer, ReleaseSerializer

    release = make_release(
        version="2.0.0-rc.1+build.7",
        comment='quote " backslash \\ tab \t newline \n é 漢字 \u2028 end',
        attributes={"image": "a:1", "replicas": "2", "note": '{"not": "json"}', "empty": ""},
    )
    Release.objects.filter(pk=release.pk).update(created_at=timezone.now().replace(microsecond=0))
    release.refresh_from_db()
    request = rf.get("/api/releases")

    row = alice_api.get("/api/releases").json()["results"][0]
    documented = ReleaseSerializer(release, context={"request": request}).data
    assert list(row) == list(documented)
    assert row == dict(documented)
    assert not row["created_at"].endswith(".000000Z")

    detail = alice_api.get(f"/api/releases/{release.pk}").json()
    documented = ReleaseDetailSerializer(release, context={"request": request}).data
    assert list(detail) == list(documented)
    assert detail == dict(documented)


def test_pages_and_links_are_the_ones_drf_cursor_pagination_makes(alice_api, make_release, rf):
    """The list pages with its own SQL (NewestFirstPagination.paginate_rows); walking forward
    to the end and back to the start, every page and both its links must be what DRF's
    paginate_queryset makes of the same request."""
    import base64

    from rest_framework.request import Request

    from kubernaut.api import NewestFirstPagination

    for number in range(7):
        make_release(version=f"v{number}")
    ids = list(Release.objects.order_by("-id").values_list("id", flat=True))

    def drf(url: str) -> tuple[list[int], str | None, str | None]:
        paginator = NewestFirstPagination()
        page = paginator.paginate_queryset(Release.objects.values("id"), Request(rf.get(url)))
        return [row["id"] for row in page], paginator.get_next_link(), paginator.get_previous_link()

    def ours(url: str) -> tuple[list[int], str | None, str | None]:
        body = alice_api.get(url).json()
        return [row["id"] for row in body["results"]], body["next"], body["previous"]

    walked, url = [], "/api/releases?limit=2"
    while url:
        page = ours(url)
        assert page == drf(url), url
        walked += page[0]
        last, url = url, page[1]
    assert walked == ids
    url = ours(last)[2]
    while url:
        page = ours(url)
        assert page == drf(url), url
        url = page[2]
    assert page[0] == ids[:2]

    # Cursors DRF makes for rows sharing a position carry an offset; one made by hand too.
    for cursor in (f"o=1&p={ids[2]}", f"o=1&r=1&p={ids[4]}", "o=3"):
        url = "/api/releases?limit=2&cursor=" + base64.b64encode(cursor.encode()).decode()
        assert ours(url) == drf(url), cursor
