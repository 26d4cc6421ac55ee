"""Fill the database with realistic data for benchmarks: services, releases, deployments, logs.

Rows are generated inside PostgreSQL (INSERT ... SELECT over generate_series), which is much faster
than sending them: a million releases take about a minute on two cores.
"""

import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from clusters.models import Cluster, Namespace
from maintenance.models import MaintenanceRun
from maintenance.services import analyze

TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ service }}
  labels: {app: "{{ service }}", version: "{{ version }}"}
spec:
  replicas: {{ replicas }}
  selector:
    matchLabels: {app: "{{ service }}"}
  template:
    metadata:
      labels: {app: "{{ service }}", version: "{{ version }}"}
    spec:
      containers:
        - name: app
          image: {{ image }}
          ports: [{containerPort: 8080}]
          resources:
            requests: {cpu: 100m, memory: 128Mi}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ service }}
spec:
  selector: {app: "{{ service }}"}
  ports: [{port: 80, targetPort: 8080}]
"""

LOG_LINES = [
    "{user} asked to deploy {service} {version} to {namespace}",
    "Started by a worker; timeout 600 s.",
    "service/{service} unchanged",
    "deployment.apps/{service} configured",
    "deployment.apps/{service}: successfully rolled out",
]


class Command(BaseCommand):
    help = (
        "Add realistic benchmark data: --releases N --deployments M (defaults 1,000,000 / 200,000)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--releases", type=int, default=1_000_000)
        parser.add_argument("--deployments", type=int, default=200_000)
        parser.add_argument("--services", type=int, default=2_000)
        parser.add_argument("--namespaces", type=int, default=20)

    def handle(self, *args, releases, deployments, services, namespaces, **options):
        if min(releases, services, namespaces) < 1 or deployments < 0:
            raise CommandError("--releases, --services and --namespaces must be at least 1.")
        started = time.monotonic()
        user, _ = get_user_model().objects.get_or_create(username="bench-ci")
        cluster = Cluster.objects.filter(name="bench").first()
        if cluster is None:
            cluster = Cluster(name="bench")
            cluster.set_kubeconfig("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n")
            cluster.save()
        # A quarter of the namespaces (bench-0, bench-1 ...) are production, for the DORA metrics.
        production = max(1, namespaces // 4)
        for number in range(namespaces):
            Namespace.objects.update_or_create(
                cluster=cluster,
                name=f"bench-{number}",
                defaults={"production": number < production},
            )
        run = f"{int(time.time())}"  # keeps names unique when the command runs again
        with transaction.atomic(), connection.cursor() as cursor:
            self.step("services", cursor, """
                INSERT INTO releases_service (name, created_at)
                SELECT 'svc-' || %(run)s || '-' || n, now() - interval '400 days'
                FROM generate_series(1, %(services)s) n
            """, run=run, services=services)  # fmt: skip
            # Versions of a service follow each other in time; every 50th release is deleted.
            self.step("releases", cursor, """
                INSERT INTO releases_release (service_id, version, template, attributes, comment,
                    created_by_id, created_at, deleted_at, deleted_by_id)
                SELECT s.id, '1.' || (n / %(services)s) || '.' || (n %% 7),
                       %(template)s,
                       jsonb_build_object('image', 'registry.example/' || s.name || ':' || n,
                                          'replicas', ((n %% 4) + 1)::text,
                                          'git_sha', md5(n::text)),
                       'build ' || n, %(user)s,
                       now() - interval '400 days' + (n * interval '400 days' / %(releases)s),
                       CASE WHEN n %% 50 = 0 THEN now() END,
                       CASE WHEN n %% 50 = 0 THEN %(user)s END
                FROM generate_series(1, %(releases)s) n
                JOIN releases_service s
                  ON s.name = 'svc-' || %(run)s || '-' || (n %% %(services)s + 1)
            """, run=run, services=services, releases=releases, template=TEMPLATE,
                user=user.pk)  # fmt: skip
            # Deployments finish over the last 180 days, in the order their releases were made
            # (a target runs them one at a time in id order). One in twenty fails (each service
            # now and then: a service's releases all go to one namespace), one in 53 times out,
            # and now and then a deployment ships the release before the previous one again (a
            # manual rollback), so the DORA metrics (metrics/) have work to do.
            self.step("deployments", cursor, """
                WITH recent AS (
                    SELECT id, service_id, attributes, template, created_at,
                           (row_number() OVER (ORDER BY id DESC) - 1) / %(services)s AS round
                    FROM releases_release
                    WHERE deleted_at IS NULL AND created_at > now() - interval '180 days'
                      AND service_id IN (SELECT id FROM releases_service
                                         WHERE name LIKE 'svc-' || %(run)s || '-%%')
                ), rounds AS (
                    SELECT greatest(max(round) + 1, 1) AS total FROM recent
                ), chosen AS (
                    -- every round (one release per service) or an even share of them
                    SELECT recent.*, lag(id, 2) OVER (PARTITION BY service_id ORDER BY id) AS older
                    FROM recent, rounds
                    WHERE (round * least(%(deployments)s / %(services)s + 1, rounds.total))
                          %% rounds.total < least(%(deployments)s / %(services)s + 1, rounds.total)
                    ORDER BY id DESC LIMIT %(deployments)s
                )
                INSERT INTO deployments_deployment (release_id, service_id, namespace_id,
                    requested_attributes, attributes, manifest, status, reason, timeout_seconds,
                    applied_objects, workloads, created_by_id, created_at, started_at, finished_at,
                    release_created_at)
                SELECT shipped.id, r.service_id, ns.id, '{}', r.attributes, r.template,
                       CASE WHEN (r.id / %(services)s + r.id) %% 20 = 0 THEN 'failed'
                            WHEN r.id %% 53 = 0 THEN 'timed_out' ELSE 'succeeded' END,
                       CASE WHEN (r.id / %(services)s + r.id) %% 20 = 0
                            THEN 'deployment.apps/app: 0/2 pods available: CrashLoopBackOff'
                            WHEN r.id %% 53 = 0 THEN 'Not ready within 600 s.'
                            ELSE 'Rolled out deployment/app.' END,
                       600, '[]', '[]', %(user)s, t.finished - interval '2 minutes',
                       t.finished - interval '1 minute', t.finished, shipped.created_at
                FROM chosen r
                CROSS JOIN LATERAL (
                    SELECT x.id, x.created_at FROM releases_release x
                    WHERE x.id = CASE WHEN r.id %% 41 = 3 AND r.older IS NOT NULL THEN r.older
                                      ELSE r.id END) shipped
                -- up to 16 hours after the release: less than the time between two releases
                -- of a service, so a target's deployments finish in id order
                CROSS JOIN LATERAL (SELECT least(now(), r.created_at + interval '6 minutes'
                    + (r.id %% 16) * interval '1 hour') AS finished) t
                JOIN clusters_namespace ns ON ns.cluster_id = %(cluster)s
                     AND ns.name = 'bench-' || (r.id %% %(namespaces)s)
                ORDER BY r.id
            """, run=run, deployments=deployments, services=services, user=user.pk,
                cluster=cluster.pk, namespaces=namespaces)  # fmt: skip
            self.step("log lines", cursor, """
                INSERT INTO deployments_logentry (deployment_id, time, level, message)
                SELECT d.id, d.started_at + line.n * interval '1 second', 'info',
                       replace(line.text, '{service}', s.name)
                FROM deployments_deployment d
                JOIN releases_service s ON s.id = d.service_id
                CROSS JOIN unnest(%(lines)s::text[]) WITH ORDINALITY AS line(text, n)
                WHERE s.name LIKE 'svc-' || %(run)s || '-%%'
            """, run=run, lines=LOG_LINES)  # fmt: skip
        # As autovacuum would after a while: index-only scans (the DORA metrics') need the
        # visibility map of freshly inserted rows.
        with connection.cursor() as cursor:
            clock = time.monotonic()
            cursor.execute("VACUUM deployments_deployment")
            self.stdout.write(f"VACUUM deployments: {time.monotonic() - clock:.1f} s")
        run_record = analyze(MaintenanceRun.Trigger.COMMAND)
        self.stdout.write(
            f"Done in {time.monotonic() - started:.0f} s (ANALYZE {run_record.duration_ms} ms)."
        )

    def step(self, what: str, cursor, sql: str, **parameters) -> None:
        clock = time.monotonic()
        cursor.execute(sql, parameters)
        self.stdout.write(f"{what}: {cursor.rowcount} rows in {time.monotonic() - clock:.1f} s")
