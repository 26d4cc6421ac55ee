"""Schemathesis against a live server: every operation, its default checks, no 500, no lie.

It generates requests from /api/schema/ (valid and invalid ones) and checks each answer: no
server error, a status code, content type, headers and body the document declares, invalid
data refused, valid data accepted. The examples per operation are bounded so the suite stays
quick; docs/security.md gives the command for a longer run by hand.

The test owns its database (live_server flushes it afterwards). Deployments it creates stay
pending: no worker runs in the tests, so nothing reaches a cluster and nothing waits.
"""

from pathlib import Path

import pytest
import schemathesis
from django.contrib.auth.models import Permission
from hypothesis import HealthCheck, settings

from accounts.models import ApiToken
from clusters.models import Cluster, Namespace
from tests.conftest import grant, make_user, release_body

pytestmark = pytest.mark.django_db(transaction=True)

CONFIG = Path(__file__).resolve().parent.parent / "schemathesis.toml"
EXAMPLES_PER_OPERATION = 8


def seed() -> Cluster:
    """A release and a place to deploy it, so that valid requests can succeed."""
    from releases import services

    owner = make_user("ci", "view_release", "add_release")
    services.create_release(**release_body(), user=owner)
    cluster = Cluster(name="sandbox", timeout_seconds=30)
    cluster.set_kubeconfig("apiVersion: v1\nkind: Config\n")
    cluster.save()
    Namespace.objects.create(cluster=cluster, name="staging", attributes={})
    return cluster


def token_for(user) -> str:
    _, key = ApiToken.issue(user, name="schemathesis")
    return key


def load(live_server, key: str) -> schemathesis.schemas.BaseSchema:
    config = schemathesis.config.SchemathesisConfig.from_path(str(CONFIG))
    headers = {"Authorization": f"Token {key}"}
    schema = schemathesis.openapi.from_url(
        f"{live_server.url}/api/schema/?format=json", config=config, headers=headers
    )
    schema.config.update(base_url=live_server.url, headers=headers)
    return schema


@pytest.fixture
def full_schema(live_server):
    cluster = seed()
    everything = make_user("operator")
    grant("admin", cluster, user=everything)
    everything.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=[
                "releases",
                "deployments",
                "clusters",
                "audit",
                "notifications",
            ]
        )
    )
    return load(live_server, token_for(everything))


@pytest.fixture
def read_only_schema(live_server):
    cluster = seed()
    reader = make_user("reader", "view_release", "view_deployment")
    grant("viewer", cluster, user=reader)
    schema = load(live_server, token_for(reader))
    # The second pass asks whether refusals are documented; random cases are enough for that,
    # and the first pass already walks the boundary values (the coverage phase).
    schema.config.phases.update(phases=["fuzzing"])
    return schema


full = schemathesis.pytest.from_fixture("full_schema")
read_only = schemathesis.pytest.from_fixture("read_only_schema")

bounded = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


@full.parametrize()
@bounded
def test_api_conforms_to_its_schema_for_a_user_with_every_permission(case):
    case.call_and_validate()


@read_only.parametrize()
@settings(bounded, max_examples=10)
def test_api_conforms_to_its_schema_for_a_read_only_user(case):
    case.call_and_validate()
