"""Shared fixtures: a few named users and API clients authenticated as them.

- admin: superuser
- alice: an engineer (view, add and delete releases), in team `engineers`
- bob: read-only (view releases), in team `readers`
- charlie: a valid account without any permission or team

Every namespace `make_target` makes grants `deployer` to team engineers and `viewer` to team
readers, as a platform team would set up a shared staging namespace.
"""

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.test import APIClient

from accounts.models import ApiToken

HELLO_TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ service }}
spec:
  replicas: {{ replicas }}
  selector:
    matchLabels: {app: "{{ service }}"}
  template:
    metadata:
      labels: {app: "{{ service }}"}
    spec:
      containers:
        - name: app
          image: {{ image }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ service }}
spec:
  selector: {app: "{{ service }}"}
  ports: [{port: 80}]
"""


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The real hasher takes ~0.3 s per password by design; tests only need it to work.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def no_overview_cache(settings):
    # Tests look at the overview right after changing what it shows.
    settings.KUBERNAUT_OVERVIEW_CACHE_SECONDS = 0


@pytest.fixture(autouse=True)
def no_metrics_cache(settings):
    # Tests read the DORA figures right after the deployments they count.
    settings.KUBERNAUT_METRICS_CACHE_SECONDS = 0


def team(name: str):
    from teams.models import Team

    found, _ = Team.objects.get_or_create(name=name)
    return found


def grant(role: str, namespace, *, user=None, to_team=None):
    """Give a user or a team a role on a namespace (or a whole cluster, given a Cluster)."""
    from clusters.models import Cluster
    from teams.models import Grant

    if isinstance(namespace, Cluster):
        return Grant.objects.create(role=role, user=user, team=to_team, cluster=namespace)
    return Grant.objects.create(
        role=role, user=user, team=to_team, cluster=namespace.cluster, namespace=namespace
    )


def open_to_teams(namespace):
    """The usual test setup: team engineers deploys to the namespace, team readers reads it."""
    grant("deployer", namespace, to_team=team("engineers"))
    grant("viewer", namespace, to_team=team("readers"))
    return namespace


def make_user(username: str, *codenames: str, superuser: bool = False) -> User:
    if superuser:
        return User.objects.create_superuser(username, password="pw-" + username)
    user = User.objects.create_user(username, password="pw-" + username)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def admin_user(db) -> User:
    return make_user("admin", superuser=True)


@pytest.fixture
def alice(db) -> User:
    user = make_user(
        "alice",
        "view_release", "add_release", "delete_release", "view_deployment", "add_deployment",
    )  # fmt: skip
    team("engineers").members.add(user)
    return user


@pytest.fixture
def bob(db) -> User:
    user = make_user("bob", "view_release", "view_deployment")
    team("readers").members.add(user)
    return user


@pytest.fixture
def charlie(db) -> User:
    return make_user("charlie")


def client_for(user: User) -> APIClient:
    """An API client sending `Authorization: Token <key>` for the user, as CI does."""
    _, key = ApiToken.issue(user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def alice_api(alice) -> APIClient:
    return client_for(alice)


@pytest.fixture
def bob_api(bob) -> APIClient:
    return client_for(bob)


@pytest.fixture
def charlie_api(charlie) -> APIClient:
    return client_for(charlie)


def release_body(**overrides) -> dict:
    body = {
        "service": "hello-world",
        "version": "1.0.0",
        "template": HELLO_TEMPLATE,
        "attributes": {"image": "registry.example/hello-world:1.0.0", "replicas": "2"},
        "comment": "first",
    }
    body.update(overrides)
    return body


@pytest.fixture
def make_release(alice):
    """Register a release through the service layer (the API is tested on its own)."""
    from releases import services

    def make(service: str = "hello-world", version: str = "1.0.0", user=None, **fields):
        body = release_body(service=service, version=version, **fields)
        return services.create_release(**body, user=user or alice)

    return make


@pytest.fixture(scope="session")
def sandbox_cluster():
    """One sandbox Kubernetes API server for the session (pods get ready after 0.1 s)."""
    from sandbox.testing import running_sandbox

    with running_sandbox(ready_delay=0.1) as running:
        yield running


_namespace_numbers = iter(range(1, 1_000_000))


@pytest.fixture
def make_target(db, sandbox_cluster):
    """make_target(): a Namespace row for a fresh namespace of the sandbox (one Cluster row for
    them all), created in the sandbox too."""
    from clusters.kube import ClusterClient
    from clusters.models import Cluster, Namespace

    def make(kubeconfig: str | None = None, cluster_name: str = "sandbox"):
        name = f"ns{next(_namespace_numbers)}"
        cluster = Cluster.objects.filter(name=cluster_name).first()
        if cluster is None:
            cluster = Cluster(name=cluster_name, timeout_seconds=30)
            cluster.set_kubeconfig(kubeconfig or sandbox_cluster.kubeconfig.read_text())
            cluster.save()
        client = ClusterClient.for_cluster(cluster)
        client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        client.close()
        return open_to_teams(Namespace.objects.create(cluster=cluster, name=name, attributes={}))

    return make


@pytest.fixture
def target(make_target):
    """A Cluster row for the sandbox and a Namespace row for a fresh namespace in it."""
    return make_target()
