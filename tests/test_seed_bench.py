"""seed_bench at a small scale: the shape the benchmarks (bench/dora_bench.py) rely on."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from clusters.models import Namespace
from deployments.models import Deployment
from metrics import services


@pytest.mark.django_db(transaction=True)  # it VACUUMs, which no transaction may hold
def test_seed_bench_makes_production_history_for_the_metrics(admin_user):
    call_command(
        "seed_bench", releases=4000, deployments=800, services=20, namespaces=8, verbosity=0
    )
    production = set(Namespace.objects.filter(production=True).values_list("name", flat=True))
    assert production == {"bench-0", "bench-1"}  # a quarter
    deployments = Deployment.objects.filter(service__name__startswith="svc-")
    assert deployments.count() == 800
    oldest = deployments.order_by("finished_at").values_list("finished_at", flat=True)[0]
    assert timezone.now() - oldest > timedelta(days=150)  # spread over about 180 days
    statuses = set(deployments.values_list("status", flat=True))
    assert statuses == {"succeeded", "failed", "timed_out"}
    # Within a target, later deployments finish later (they run one at a time in id order).
    for target in deployments.values("service_id", "namespace_id").distinct()[:10]:
        finished = list(deployments.filter(**target).order_by("id").values_list(
            "finished_at", flat=True))  # fmt: skip
        assert finished == sorted(finished)
    ids = services.counted_namespace_ids(admin_user)
    figures = services.dora(ids, days=90)
    assert figures.deployments > 0 and figures.failures > 0
    assert figures.lead_releases > 0 and figures.restored > 0
