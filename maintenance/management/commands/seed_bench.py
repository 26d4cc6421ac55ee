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
        for number in range(namespaces):
            Namespace.objects.get_or_create(cluster=cluster, name=f"bench-{number}")
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
            self.step("deployments", cursor, """
                INSERT INTO deployments_deployment (release_id, service_id, namespace_id,
                    requested_attributes, attributes, manifest, status, reason, timeout_seconds,
                    applied_objects, workloads, created_by_id, created_at, started_at, finished_at)
                SELECT r.id, r.service_id, ns.id, '{}', r.attributes, r.template,
                       CASE WHEN r.id %% 20 = 0 THEN 'failed' ELSE 'succeeded' END,
                       CASE WHEN r.id %% 20 = 0
                            THEN 'deployment.apps/app: 0/2 pods available: CrashLoopBackOff'
                            ELSE 'Rolled out deployment/app.' END,
                       600, '[]', '[]', %(user)s, r.created_at + interval '5 minutes',
                       r.created_at + interval '5 minutes', r.created_at + interval '6 minutes'
                FROM (SELECT id, service_id, attributes, template, created_at FROM releases_release
                      WHERE deleted_at IS NULL AND service_id IN
                          (SELECT id FROM releases_service
                           WHERE name LIKE 'svc-' || %(run)s || '-%%')
                      ORDER BY id DESC LIMIT %(deployments)s) r
                JOIN clusters_namespace ns ON ns.cluster_id = %(cluster)s
                     AND ns.name = 'bench-' || (r.id %% %(namespaces)s)
            """, run=run, deployments=deployments, user=user.pk, cluster=cluster.pk,
                namespaces=namespaces)  # fmt: skip
            self.step("log lines", cursor, """
                INSERT INTO deployments_logentry (deployment_id, time, level, message)
                SELECT d.id, d.started_at + line.n * interval '1 second', 'info',
                       replace(line.text, '{service}', s.name)
                FROM deployments_deployment d
                JOIN releases_service s ON s.id = d.service_id
                CROSS JOIN unnest(%(lines)s::text[]) WITH ORDINALITY AS line(text, n)
                WHERE s.name LIKE 'svc-' || %(run)s || '-%%'
            """, run=run, lines=LOG_LINES)  # fmt: skip
        run_record = analyze(MaintenanceRun.Trigger.COMMAND)
        self.stdout.write(
            f"Done in {time.monotonic() - started:.0f} s (ANALYZE {run_record.duration_ms} ms)."
        )

    def step(self, what: str, cursor, sql: str, **parameters) -> None:
        clock = time.monotonic()
        cursor.execute(sql, parameters)
        self.stdout.write(f"{what}: {cursor.rowcount} rows in {time.monotonic() - clock:.1f} s")
