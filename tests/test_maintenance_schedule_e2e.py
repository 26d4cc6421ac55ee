"""The scheduled ANALYZE fires in a real qcluster and its effect shows on the health page."""

import importlib
import time

import pytest
from django.apps import apps

from maintenance.models import MaintenanceRun
from tests.test_deployment_e2e import start_qcluster, stop

pytestmark = pytest.mark.django_db(transaction=True)


def test_schedule_fires_and_the_run_shows_on_the_health_page(admin_user, client):
    # Transactional tests empty every table between tests, the migration's rows included.
    migration = importlib.import_module("maintenance.migrations.0002_schedule_analyze")
    migration.create_schedule(apps, None)
    worker = start_qcluster()
    try:
        deadline = time.monotonic() + 90  # the scheduler looks every ~30 s
        while not MaintenanceRun.objects.filter(trigger="schedule").exists():
            assert time.monotonic() < deadline, "the scheduled ANALYZE did not run"
            time.sleep(1)
    finally:
        stop(worker)

    run = MaintenanceRun.objects.get(trigger="schedule")
    assert run.error == ""
    client.force_login(admin_user)
    page = client.get("/admin/maintenance/maintenancerun/").content.decode()
    assert "schedule" in page
    assert "releases_release" in page
