"""GET and DELETE /api/releases/{id}: soft delete keeps the row."""

import pytest
from django.db import connection

from releases.models import Release

pytestmark = pytest.mark.django_db


def test_get_returns_template_and_attributes(bob_api, make_release):
    release = make_release(version="3.1")

    response = bob_api.get(f"/api/releases/{release.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["template"] == release.template
    assert body["attributes"] == release.attributes
    assert body["url"] == f"http://testserver/api/releases/{release.pk}"


def test_release_has_the_documented_shape(bob_api, make_release, rf):
    # Built without the serializer for speed; it must match what the serializer documents.
    from releases.serializers import ReleaseDetailSerializer

    release = make_release(version="3.2", comment="why")
    body = bob_api.get(f"/api/releases/{release.pk}").json()
    request = rf.get(f"/api/releases/{release.pk}")
    documented = ReleaseDetailSerializer(release, context={"request": request}).data
    assert list(body) == list(documented)
    assert body == dict(documented)


def test_missing_release_gets_404_as_json(bob_api):
    response = bob_api.get("/api/releases/999999")
    assert response.status_code == 404
    assert response.json()["detail"]


def test_delete_hides_release_but_keeps_row(alice_api, alice, make_release):
    release = make_release()

    response = alice_api.delete(f"/api/releases/{release.pk}")

    assert response.status_code == 204
    assert alice_api.get(f"/api/releases/{release.pk}").status_code == 404
    assert not Release.objects.filter(pk=release.pk).exists()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT deleted_at IS NOT NULL, deleted_by_id FROM releases_release WHERE id = %s",
            [release.pk],
        )
        assert cursor.fetchone() == (True, alice.pk)


def test_deleting_twice_gets_404(alice_api, make_release):
    release = make_release()
    assert alice_api.delete(f"/api/releases/{release.pk}").status_code == 204
    assert alice_api.delete(f"/api/releases/{release.pk}").status_code == 404


def test_read_only_user_cannot_delete(bob_api, make_release):
    release = make_release()
    response = bob_api.delete(f"/api/releases/{release.pk}")
    assert response.status_code == 403
    assert Release.objects.filter(pk=release.pk).exists()


def test_unknown_api_address_gets_json_404(bob_api):
    response = bob_api.get("/api/nothing-here")
    assert response.status_code == 404
    assert "/api/docs/" in response.json()["detail"]
