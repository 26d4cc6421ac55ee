"""The four DORA metrics of the deployments to production namespaces (docs/metrics.md).

Definitions (choices, kept in one place; docs/metrics.md says the same in prose):

- The window is the last `days` days (7, 30 or 90) ending now. Only deployments to alive
  namespaces marked `production` that the person may view count, and only finished ones that
  shipped something: succeeded, failed or timed out (cancelled, rejected and expired ones never
  changed production). A deployment is in the window when it finished in it.
- Deployment frequency: the succeeded deployments in the window, and that count per day.
- Change failure rate: failures / (succeeded + failed + timed out), where failures are the
  failed and timed-out deployments plus the succeeded ones that were rolled back: the next
  deployment of the same service to the same namespace that succeeded shipped an older release
  (a lower release id). An automatic rollback follows a failure, which is counted already.
- Lead time for changes: for each release whose first succeeded deployment to any counted
  namespace finished in the window, that moment minus when the release was registered. Median
  and 90th percentile in seconds.
- Time to restore: for each failed or timed-out deployment in the window that starts an outage
  of its target (the previous counted deployment there succeeded, or there was none), the time
  until the next succeeded deployment there. Failures not followed by a success yet are
  `open_failures`.

Everything is one SQL statement over the counted namespaces' ids, passed as an array: the
partial index `deployment_counted_finished` (namespace, finished_at) finds the window's rows
without touching the others, and window functions order each target's deployments once. The
index also covers each deployment's copy of its release's registration time
(`release_created_at`), so the lead time visits no release row.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from releases.models import Service
from teams import access

DAYS = (7, 30, 90)
COUNTED = ("succeeded", "failed", "timed_out")

SQL = """
WITH counted AS (
    SELECT d.id::bigint, d.release_id::bigint, d.service_id, d.namespace_id, d.status,
           d.finished_at, d.release_created_at
    FROM deployments_deployment d
    WHERE d.namespace_id = ANY(%(namespaces)s)
      AND d.status IN ('succeeded', 'failed', 'timed_out') AND d.deleted_at IS NULL
      AND d.finished_at >= %(since)s AND d.finished_at < %(until)s
      {service_filter}
), ordered AS (
    -- Each target's changes newest first, once: the previous one is the next row, the next
    -- success is the smallest of the successes seen so far (a running minimum: its frame grows
    -- from the start, so PostgreSQL keeps one value per target). As [id, release id].
    SELECT c.*,
           lead(c.status) OVER newest_first AS previous_status,
           min(ARRAY[c.id, c.release_id]) FILTER (WHERE c.status = 'succeeded')
               OVER (newest_first ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
               AS next_success,
           min(c.finished_at) FILTER (WHERE c.status = 'succeeded')
               OVER (newest_first ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
               AS next_success_at
    FROM counted c
    WINDOW newest_first AS (PARTITION BY c.service_id, c.namespace_id ORDER BY c.id DESC)
), marked AS (
    SELECT o.status, o.finished_at,
           o.status <> 'succeeded' OR o.next_success[2] < o.release_id AS failure,
           o.status <> 'succeeded' AND coalesce(
               o.previous_status,
               -- first of its target in the window: look before it (an index probe)
               (SELECT p.status FROM deployments_deployment p
                WHERE p.service_id = o.service_id AND p.namespace_id = o.namespace_id
                  AND p.id < o.id AND p.deleted_at IS NULL
                  AND p.status IN ('succeeded', 'failed', 'timed_out')
                ORDER BY p.id DESC LIMIT 1),
               'succeeded') = 'succeeded' AS outage_start,
           extract(epoch FROM o.next_success_at - o.finished_at) AS until_success
    FROM ordered o
), firsts AS (
    -- the registration time comes with the deployment (a copy); rows made without it (other
    -- tools' inserts) look it up
    SELECT f.release_id, f.first_at, coalesce(f.registered, (
               SELECT r.created_at FROM releases_release r WHERE r.id = f.release_id))
               AS registered
    FROM (SELECT release_id, min(finished_at) AS first_at, min(release_created_at) AS registered
          FROM counted WHERE status = 'succeeded' GROUP BY release_id) f
), leads AS (
    SELECT extract(epoch FROM f.first_at - f.registered) AS seconds
    FROM firsts f
    -- a release registered in the window cannot have shipped before it
    WHERE f.registered >= %(since)s OR NOT EXISTS (
        SELECT 1 FROM deployments_deployment e
        WHERE e.release_id = f.release_id AND e.status = 'succeeded' AND e.deleted_at IS NULL
          AND e.finished_at < %(since)s AND e.namespace_id = ANY(%(namespaces)s))
)
SELECT changes.*, lead.*, restore.*, weekly.*
FROM (SELECT count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE failure),
             count(*)
      FROM marked) changes,
     (SELECT percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY seconds), count(*)
      FROM leads) lead,
     (SELECT percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY until_success),
             count(until_success), count(*) - count(until_success)
      FROM marked WHERE outage_start) restore,
     (SELECT coalesce(json_agg(json_build_array(week, changes, failures) ORDER BY week), '[]')
      FROM (SELECT (date_trunc('week', finished_at AT TIME ZONE 'UTC'))::date AS week,
                   count(*) AS changes, count(*) FILTER (WHERE failure) AS failures
            FROM marked GROUP BY 1) w) weekly
"""


class UnknownService(Exception):
    """No service has this name; the message says so."""


@dataclass
class Dora:
    """The figures of one window, as GET /api/metrics/dora answers them."""

    service: str | None
    days: int
    since: datetime
    until: datetime
    deployments: int
    failures: int
    changes: int
    lead_median: float | None
    lead_p90: float | None
    lead_releases: int
    restore_median: float | None
    restore_p90: float | None
    restored: int
    open_failures: int
    weekly: list[dict]

    @property
    def per_day(self) -> float:
        return round(self.deployments / self.days, 3)

    @property
    def failure_rate(self) -> float | None:
        return round(self.failures / self.changes, 4) if self.changes else None

    def as_json(self) -> dict:
        return {
            "service": self.service,
            "days": self.days,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "deployment_frequency": {"deployments": self.deployments, "per_day": self.per_day},
            "change_failure_rate": {
                "failures": self.failures,
                "deployments": self.changes,
                "rate": self.failure_rate,
            },
            "lead_time_seconds": {
                "median": self.lead_median,
                "p90": self.lead_p90,
                "releases": self.lead_releases,
            },
            "time_to_restore_seconds": {
                "median": self.restore_median,
                "p90": self.restore_p90,
                "restored": self.restored,
                "open_failures": self.open_failures,
            },
            "weekly": [
                {"week_start": week["week_start"].isoformat(), **{
                    key: week[key] for key in ("deployments", "failures")}}
                for week in self.weekly
            ],
        }  # fmt: skip


def counted_namespace_ids(user, *, token=None) -> list[int]:
    """The alive production namespaces (of alive clusters) the user, and token, may view."""
    namespaces = access.visible_namespaces(user, token=token).filter(
        production=True, cluster__deleted_at__isnull=True
    )
    return list(namespaces.values_list("pk", flat=True))


def production_service_names(namespace_ids: list[int], limit: int = 5000) -> list[str]:
    """Names of the services with changes in these namespaces, for the page's suggestions:
    one pass over the partial index the metrics use (cached like the figures)."""
    if not namespace_ids:
        return []

    def names() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT s.name FROM releases_service s
                WHERE s.id IN (SELECT d.service_id FROM deployments_deployment d
                               WHERE d.namespace_id = ANY(%s) AND d.deleted_at IS NULL
                                 AND d.status IN ('succeeded', 'failed', 'timed_out'))
                ORDER BY s.name LIMIT %s
                """,
                [namespace_ids, limit],
            )
            return [name for (name,) in cursor.fetchall()]

    return cached(("names", sorted(namespace_ids), limit), names)


def cached(what: tuple, compute):
    """compute(), reused for KUBERNAUT_METRICS_CACHE_SECONDS by whoever asks for `what`."""
    seconds = settings.KUBERNAUT_METRICS_CACHE_SECONDS
    if not seconds:
        return compute()
    key = "metrics:" + hashlib.sha256(repr(what).encode()).hexdigest()
    found = cache.get(key)
    if found is None:
        found = compute()
        cache.set(key, found, seconds)
    return found


def week_start(moment: datetime) -> date:
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def dora(
    namespace_ids: list[int],
    *,
    days: int,
    service: str | None = None,
    now: datetime | None = None,
) -> Dora:
    """The DORA figures of the last `days` days over the given namespaces (the caller passes the
    production namespaces the person may view: `counted_namespace_ids`), for one service by name
    or for all. Raises UnknownService for a name no service has."""
    if days not in DAYS:
        raise ValueError(f"days must be one of {DAYS}")
    until = now or timezone.now()
    since = until - timedelta(days=days)
    parameters = {"namespaces": namespace_ids, "since": since, "until": until}
    service_filter = ""
    if service is not None:
        service_id = Service.objects.filter(name=service).values_list("pk", flat=True).first()
        if service_id is None:
            raise UnknownService(f"There is no service named {service!r}.")
        service_filter = "AND d.service_id = %(service)s"
        parameters["service"] = service_id
    if namespace_ids:
        with transaction.atomic(), connection.cursor() as cursor:
            # The planner's guesses for window functions run high enough to make it compile
            # the statement (JIT): seconds of compiling for milliseconds of work.
            cursor.execute("SET LOCAL jit = off")
            cursor.execute(SQL.format(service_filter=service_filter), parameters)
            row = cursor.fetchone()
    else:  # nothing to count: skip the statement
        row = (0, 0, 0, None, 0, None, 0, 0, "[]")
    (deployments, failures, changes, lead, lead_releases, restore, restored, open_failures,
     weekly_json) = row  # fmt: skip
    lead_median, lead_p90 = lead or (None, None)
    restore_median, restore_p90 = restore or (None, None)
    weekly = weeks(since, until, weekly_json)
    return Dora(
        service=service,
        days=days,
        since=since,
        until=until,
        deployments=deployments,
        failures=failures,
        changes=changes,
        lead_median=lead_median,
        lead_p90=lead_p90,
        lead_releases=lead_releases,
        restore_median=restore_median,
        restore_p90=restore_p90,
        restored=restored,
        open_failures=open_failures,
        weekly=weekly,
    )


def dora_cached(namespace_ids: list[int], *, days: int, service: str | None = None) -> Dora:
    """`dora`, reused for KUBERNAUT_METRICS_CACHE_SECONDS by everyone who sees the same
    production namespaces: figures over weeks do not change in a minute, and a 90-day window
    costs a few hundred milliseconds to count at 200,000 deployments (docs/performance.md).
    The answer's `until` says when it was counted."""
    return cached(
        ("dora", sorted(namespace_ids), service, days),
        lambda: dora(namespace_ids, days=days, service=service),
    )


def weeks(since: datetime, until: datetime, rows) -> list[dict]:
    """Every week (Monday, UTC) the window touches, with its counts (0 for quiet weeks)."""
    if isinstance(rows, str):
        rows = json.loads(rows)
    found = {date.fromisoformat(week): (count, failed) for week, count, failed in rows}
    first, last = week_start(since), week_start(until)
    result = []
    day = first
    while day <= last:
        count, failed = found.get(day, (0, 0))
        result.append({"week_start": day, "deployments": count, "failures": failed})
        day += timedelta(days=7)
    return result
