"""Looking after Kubernaut's own PostgreSQL database.

Kubernaut's writes are almost all inserts, and its only updates are soft deletes. Autovacuum, and
the ANALYZE that comes with it, are triggered by the share of rows changed, so on large tables they
may rarely run and the planner's statistics go stale as data grows. So Kubernaut runs ANALYZE itself
on a schedule, and VACUUM (ANALYZE) where soft deletes left many dead rows.
"""

import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from maintenance.models import MaintenanceRun

STATS_SQL = """
    SELECT relname, n_live_tup, n_dead_tup, n_mod_since_analyze,
           last_analyze, last_autoanalyze, last_vacuum, last_autovacuum,
           pg_total_relation_size(relid) AS size_bytes
    FROM pg_stat_user_tables
    WHERE schemaname = current_schema()
    ORDER BY relname
"""


def table_stats() -> list[dict]:
    """pg_stat_user_tables for this database's tables, one dict per table."""
    with connection.cursor() as cursor:
        cursor.execute(STATS_SQL)
        columns = [column.name for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def needs_vacuum(stats: dict) -> bool:
    dead = stats["n_dead_tup"] or 0
    live = stats["n_live_tup"] or 0
    return dead >= settings.KUBERNAUT_VACUUM_DEAD_ROWS and dead > live * 0.05


def _json(stats: dict) -> dict:
    return {
        key: value.isoformat() if hasattr(value, "isoformat") else value
        for key, value in stats.items()
    }


def analyze(trigger: str) -> MaintenanceRun:
    """ANALYZE every table (VACUUM (ANALYZE) the ones with many dead rows), and record it."""
    started, clock = timezone.now(), time.monotonic()
    before = {stats["relname"]: stats for stats in table_stats()}
    vacuumed, error = [], ""
    try:
        with connection.cursor() as cursor:
            for name, stats in before.items():
                table = connection.ops.quote_name(name)
                # VACUUM cannot run in a transaction; Django's autocommit is on outside atomic().
                if needs_vacuum(stats):
                    cursor.execute(f"VACUUM (ANALYZE) {table}")
                    vacuumed.append(name)
                else:
                    cursor.execute(f"ANALYZE {table}")
    except Exception as failure:  # recorded, then raised again: a failed run must show
        error = f"{type(failure).__name__}: {failure}"
        raise
    finally:
        after = {stats["relname"]: stats for stats in table_stats()}
        run = MaintenanceRun.objects.create(
            started_at=started,
            duration_ms=int((time.monotonic() - clock) * 1000),
            trigger=trigger,
            vacuumed=vacuumed,
            error=error,
            tables=[
                {"table": name, "before": _json(before[name]), "after": _json(after.get(name, {}))}
                for name in before
            ],
        )
    return run


def analyze_if_due() -> MaintenanceRun | None:
    """The scheduled entry: run when the last run is older than the configured interval.

    The schedule fires every few minutes and this decides, so a changed interval takes effect
    without touching the schedule.
    """
    interval = timedelta(minutes=settings.KUBERNAUT_ANALYZE_MINUTES)
    last = MaintenanceRun.objects.filter(error="").order_by("-id").first()
    if last and timezone.now() - last.started_at < interval:
        return None
    return analyze(MaintenanceRun.Trigger.SCHEDULE)


def stale_tables(stats: list[dict], now=None) -> list[str]:
    """Tables whose statistics are older than the interval allows, while rows have changed."""
    now = now or timezone.now()
    allowed = timedelta(minutes=settings.KUBERNAUT_ANALYZE_MINUTES) * 2
    stale = []
    for table in stats:
        analyzed = [t for t in (table["last_analyze"], table["last_autoanalyze"]) if t]
        if (table["n_mod_since_analyze"] or 0) > 0 and (
            not analyzed or now - max(analyzed) > allowed
        ):
            stale.append(table["relname"])
    return stale
