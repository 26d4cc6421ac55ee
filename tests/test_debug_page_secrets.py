"""With DEBUG on (as `make run` has it), a 500 page shows no password and no key."""

import os
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.urls import path

from kubernaut.error_reports import mask_url_passwords


def broken_view(request):
    # Locals as a view deep in the stack might hold them: the URL, the connection settings.
    database_url = os.environ["DATABASE_URL"]
    settings_dict = connection.settings_dict
    raise RuntimeError(f"something broke near {len(database_url)} {len(settings_dict)}")


urlpatterns = [path("broken", broken_view)]


@pytest.mark.urls(__name__)
def test_the_debug_page_hides_the_database_password_and_keys(client, settings, admin_user):
    settings.DEBUG = True
    client.raise_request_exception = False
    client.force_login(admin_user)
    database_url = os.environ["DATABASE_URL"]
    password = urlsplit(database_url).password
    assert password and len(password) > 8
    # runserver copies the whole environment into every request's META: do the same.
    response = client.get("/broken", **os.environ)
    body = response.content.decode()
    assert response.status_code == 500
    assert "RuntimeError" in body and "settings_dict" in body  # it is the technical 500 page
    assert "DATABASE_URL" in body
    assert password not in body
    assert settings.SECRET_KEY not in body


def test_url_passwords_are_masked_wherever_they_are():
    text = "a postgresql://kubernaut:s3cr3t@db:5432/k and https://user:pw@example.org/x"
    masked = mask_url_passwords(text)
    assert "s3cr3t" not in masked and ":pw@" not in masked
    assert "postgresql://kubernaut:********************@db:5432/k" in masked
