"""Scheduled ANALYZE, VACUUM of tables full of dead rows, and the database health page."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_q.models import Schedule

from maintenance import services
from maintenance.models import MaintenanceRun
from releases.models import Release

pytestmark = pytest.mark.django_db(transaction=True)  # VACUUM cannot run inside a transaction


def last_analyzed(table: str):
    stats = {s["relname"]: s for s in services.table_stats()}[table]
    return stats["last_analyze"]


def test_analyze_command_analyzes_every_table_and_records_the_run(make_release, capsys):
    make_release()
    call_command("analyze")

    assert "Analyzed" in capsys.readouterr().out
    run = MaintenanceRun.objects.get()
    assert run.trigger == "command" and run.error == ""
    tables = {entry["table"]: entry for entry in run.tables}
    assert {"releases_release", "deployments_deployment", "django_q_ormq"} <= set(tables)
    before = tables["releases_release"]["before"]["last_analyze"]  # earlier tests may have run
    after = tables["releases_release"]["after"]["last_analyze"]
    assert after is not None and (before is None or after > before)
    assert last_analyzed("releases_release").isoformat() == after


def test_schedule_runs_only_when_the_interval_has_passed(settings):
    settings.KUBERNAUT_ANALYZE_MINUTES = 60
    assert services.analyze_if_due() is not None
    assert services.analyze_if_due() is None  # just ran
    MaintenanceRun.objects.update(started_at=timezone.now() - timedelta(minutes=61))
    assert services.analyze_if_due() is not None
    assert MaintenanceRun.objects.filter(trigger="schedule").count() == 2


def test_tables_full_of_dead_rows_get_vacuumed(settings, alice, make_release):
    settings.KUBERNAUT_VACUUM_DEAD_ROWS = 10
    for number in range(30):
        make_release(version=f"v{number}")
    # Soft deletes are updates: each leaves a dead row version behind.
    Release.objects.update(deleted_at=timezone.now(), deleted_by=alice)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")

    run = services.analyze(MaintenanceRun.Trigger.COMMAND)

    assert "releases_release" in run.vacuumed


def test_stale_statistics_are_flagged(settings):
    settings.KUBERNAUT_ANALYZE_MINUTES = 60
    now = timezone.now()
    fresh = {"relname": "a", "n_mod_since_analyze": 5, "last_analyze": now,
             "last_autoanalyze": None}  # fmt: skip
    old = {"relname": "b", "n_mod_since_analyze": 5, "last_analyze": now - timedelta(hours=3),
           "last_autoanalyze": None}  # fmt: skip
    never = {"relname": "c", "n_mod_since_analyze": 1, "last_analyze": None,
             "last_autoanalyze": None}  # fmt: skip
    unchanged = {"relname": "d", "n_mod_since_analyze": 0, "last_analyze": None,
                 "last_autoanalyze": None}  # fmt: skip
    assert services.stale_tables([fresh, old, never, unchanged], now=now) == ["b", "c"]


@pytest.mark.django_db
def test_the_schedule_is_created_by_migrations_once_however_often_they_run():
    # Unapply and apply again (other tests may have flushed the rows that migrations made).
    call_command("migrate", "maintenance", "0001", verbosity=0)
    assert not Schedule.objects.filter(name="analyze database").exists()
    call_command("migrate", "maintenance", verbosity=0)
    call_command("migrate", "maintenance", verbosity=0)
    schedule = Schedule.objects.get(name="analyze database")
    assert schedule.func == "maintenance.tasks.analyze_if_due"
    assert schedule.repeats == -1


def test_health_page_shows_tables_runs_and_warnings(admin_user, client, make_release):
    make_release()
    call_command("analyze")
    make_release(version="2")  # changed since: not stale yet (interval not passed)
    client.force_login(admin_user)

    page = client.get("/admin/maintenance/maintenancerun/").content.decode()

    assert "Database health" in page
    assert "releases_release" in page
    assert "command" in page  # the run is listed


def test_health_page_is_for_admins_only(alice, client):
    client.force_login(alice)
    response = client.get("/admin/maintenance/maintenancerun/")
    assert response.status_code == 302  # to the admin login
