"""The commands `make run` calls: ensure_admin and seed_hello_world, both safe to repeat."""

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from releases.models import Release

pytestmark = pytest.mark.django_db


def test_ensure_admin_generates_and_prints_a_password_once(monkeypatch, capsys):
    monkeypatch.delenv("KUBERNAUT_ADMIN_PASSWORD", raising=False)
    call_command("ensure_admin")
    password = capsys.readouterr().out.split("password: ")[1].strip()
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)

    call_command("ensure_admin")
    assert capsys.readouterr().out == ""
    admin.refresh_from_db()
    assert admin.check_password(password)


def test_ensure_admin_takes_the_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("KUBERNAUT_ADMIN_PASSWORD", "first-pass-123")
    call_command("ensure_admin")
    monkeypatch.setenv("KUBERNAUT_ADMIN_PASSWORD", "second-pass-456")
    call_command("ensure_admin")
    assert User.objects.get(username="admin").check_password("second-pass-456")


def test_seed_hello_world_registers_one_release_with_deployment_and_service(monkeypatch):
    monkeypatch.setenv("KUBERNAUT_ADMIN_PASSWORD", "pw-123-long")
    call_command("ensure_admin")
    call_command("seed_hello_world")
    call_command("seed_hello_world")

    release = Release.objects.get(service__name="hello-world")
    assert release.version == "1.0.0"
    assert "kind: Deployment" in release.template and "kind: Service" in release.template
    assert set(release.attributes) == {"image", "replicas"}
