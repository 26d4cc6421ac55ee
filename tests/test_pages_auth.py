"""Logging in and out, and what a page does for visitors and users without permissions."""

import pytest

pytestmark = pytest.mark.django_db

PAGES = ["/", "/releases/", "/deployments/", "/services/hello-world/", "/deployments/1/"]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_sends_visitors_to_the_login_page(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_log_in_and_out(client, alice):
    page = client.get("/login/")
    assert b"csrfmiddlewaretoken" in page.content

    response = client.post("/login/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200

    response = client.post("/logout/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_says_so_on_the_page(client, alice):
    response = client.post("/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "did not match" in response.content.decode()


def test_forms_need_a_csrf_token(alice):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post("/deployments/1/redeploy").status_code == 403


def test_user_without_permission_gets_403_with_a_sentence(client, charlie):
    client.force_login(charlie)
    response = client.get("/releases/")  # releases stay under Django's permissions
    assert response.status_code == 403
    assert "lacks the permission" in response.content.decode()


def test_user_without_a_role_sees_nothing_deployed_and_is_told_why(
    client, charlie, make_release, target
):
    make_release()
    client.force_login(charlie)
    assert "You hold no role on any namespace" in client.get("/").content.decode()
    assert "You hold no role on any namespace" in client.get("/deployments/").content.decode()


def test_admin_link_only_for_staff(client, alice, admin_user):
    client.force_login(alice)
    assert 'href="/admin/"' not in client.get("/").content.decode()
    client.force_login(admin_user)
    assert 'href="/admin/"' in client.get("/").content.decode()


def test_unknown_page_is_a_404_page(client, alice):
    client.force_login(alice)
    response = client.get("/services/no-such-service/")
    assert response.status_code == 404
    assert "Not found" in response.content.decode()
