"""The releases admin: alive by default, deleted on request, restore, never a hard delete."""

import pytest

from releases.models import Release

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(admin_user, client):
    client.force_login(admin_user)
    return client


def listed(response) -> set[str]:
    return {str(release) for release in response.context["cl"].result_list}


def test_list_hides_deleted_until_asked(admin_client_, alice, make_release):
    make_release(version="1")
    make_release(version="2").soft_delete(by=alice)

    assert listed(admin_client_.get("/admin/releases/release/")) == {"hello-world 1"}
    assert listed(admin_client_.get("/admin/releases/release/?deleted=yes")) == {"hello-world 2"}
    assert len(listed(admin_client_.get("/admin/releases/release/?deleted=all"))) == 2


def test_search_finds_by_service_and_version(admin_client_, make_release):
    make_release(service="api", version="7.7")
    make_release(service="web", version="1")
    assert listed(admin_client_.get("/admin/releases/release/?q=7.7")) == {"api 7.7"}


def test_restore_brings_a_release_back(admin_client_, alice, make_release):
    release = make_release()
    release.soft_delete(by=alice)

    admin_client_.post(
        "/admin/releases/release/?deleted=yes",
        {"action": "restore", "_selected_action": [release.pk]},
    )

    release.refresh_from_db()
    assert release.deleted_at is None and release.deleted_by is None
    assert Release.objects.filter(pk=release.pk).exists()


def test_restore_is_refused_when_the_version_was_taken_again(admin_client_, alice, make_release):
    old = make_release(comment="old")
    old.soft_delete(by=alice)
    make_release(comment="new")

    response = admin_client_.post(
        "/admin/releases/release/?deleted=yes",
        {"action": "restore", "_selected_action": [old.pk]},
        follow=True,
    )

    assert "another release has the same version" in response.content.decode()
    old.refresh_from_db()
    assert old.deleted_at is not None


def test_admin_soft_deletes_and_never_removes_rows(admin_client_, admin_user, make_release):
    release = make_release()
    admin_client_.post(
        "/admin/releases/release/", {"action": "soft_delete", "_selected_action": [release.pk]}
    )
    assert Release.all_objects.get(pk=release.pk).deleted_by == admin_user
    assert admin_client_.get(f"/admin/releases/release/{release.pk}/delete/").status_code == 403
