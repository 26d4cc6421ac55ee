"""The scheduled ANALYZE fires in a real qcluster and its effect shows on the health page.

The qcluster calls django-q's scheduler only every ~30 s; the test calls that same function
itself (what the cluster would do on its next pass) so that the schedule row is read and queued
by django-q's own code, and a real worker runs the task, without half a minute of waiting.
"""

import importlib
import time

import pytest
from django.apps import apps
from django_q.brokers import get_broker
from django_q.scheduler import scheduler

from maintenance.models import MaintenanceRun
from tests.test_deployment_e2e import start_qcluster, stop

pytestmark = pytest.mark.django_db(transaction=True)


def test_schedule_fires_and_the_run_shows_on_the_health_page(admin_user, client):
    # Transactional tests empty every table between tests, the migration's rows included.
    migration = importlib.import_module("maintenance.migrations.0002_schedule_analyze")
    migration.create_schedule(apps, None)
    worker = start_qcluster()
    try:
        scheduler(broker=get_broker())
        deadline = time.monotonic() + 60
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
