"""The rules of teams/access.py: who may see and deploy what where (docs/teams.md)."""

import pytest
from django.contrib.auth.models import User

from clusters.models import Cluster, Namespace
from releases.models import Service
from teams import access
from teams.models import Role
from tests.conftest import grant, make_user, team

pytestmark = pytest.mark.django_db


def make_cluster(name: str) -> Cluster:
    cluster = Cluster(name=name)
    cluster.set_kubeconfig("{}")
    cluster.save()
    return cluster


@pytest.fixture
def world():
    """Cluster prod-eu with staging and production, team payments owning checkout, team search
    owning search, and a service nobody owns."""
    prod_eu = make_cluster("prod-eu")
    payments, search = team("payments"), team("search")
    return {
        "cluster": prod_eu,
        "staging": Namespace.objects.create(cluster=prod_eu, name="staging"),
        "production": Namespace.objects.create(cluster=prod_eu, name="production"),
        "payments": payments,
        "own": Service.objects.create(name="checkout", team=payments),
        "other": Service.objects.create(name="search", team=search),
        "unowned": Service.objects.create(name="legacy"),
    }


def fresh(user: User) -> User:
    """The user as a new request sees them (roles are cached on the user object)."""
    return User.objects.get(pk=user.pk)


@pytest.mark.parametrize(
    "role, own, other, unowned",
    [
        ("viewer", False, False, False),
        ("deployer", True, False, True),
        ("admin", True, True, True),
    ],
)
def test_who_may_deploy_which_service(world, role, own, other, unowned):
    pat = make_user("pat")
    world["payments"].members.add(pat)
    grant(role, world["staging"], to_team=world["payments"])
    roles = access.roles_of(fresh(pat))
    staging = world["staging"]

    assert roles.may_deploy(world["own"], staging) is own
    assert roles.may_deploy(world["other"], staging) is other
    assert roles.may_deploy(world["unowned"], staging) is unowned
    assert roles.has(Role.VIEWER, staging)  # every role reads
    # Nothing anywhere else.
    assert not roles.has(Role.VIEWER, world["production"])
    assert not roles.may_deploy(world["unowned"], world["production"])


def test_a_cluster_grant_covers_every_namespace_there_even_new_ones(world):
    pat = make_user("pat")
    grant("deployer", world["cluster"], user=pat)
    later = Namespace.objects.create(cluster=world["cluster"], name="canary")
    elsewhere = Namespace.objects.create(cluster=make_cluster("prod-us"), name="staging")
    roles = access.roles_of(fresh(pat))

    assert all(
        roles.has(Role.DEPLOYER, ns) for ns in (world["staging"], world["production"], later)
    )
    assert not roles.has(Role.VIEWER, elsewhere)
    visible = set(access.visible_namespaces(fresh(pat)))
    assert visible == {world["staging"], world["production"], later}


def test_the_highest_of_own_and_team_grants_counts(world):
    pat = make_user("pat")
    world["payments"].members.add(pat)
    grant("viewer", world["production"], to_team=world["payments"])
    grant("admin", world["production"], user=pat)
    grant("deployer", world["staging"], to_team=world["payments"])
    grant("viewer", world["staging"], user=pat)
    roles = access.roles_of(fresh(pat))

    assert roles.role_on(world["production"]) == Role.ADMIN
    assert roles.role_on(world["staging"]) == Role.DEPLOYER
    # A personal deployer grant deploys only what no team owns or the person's teams own.
    sam = make_user("sam")
    grant("deployer", world["staging"], user=sam)
    sams = access.roles_of(fresh(sam))
    assert sams.may_deploy(world["unowned"], world["staging"])
    assert not sams.may_deploy(world["own"], world["staging"])


def test_superusers_keep_everything(world, admin_user):
    roles = access.roles_of(fresh(admin_user))
    assert roles.may_deploy(world["other"], world["production"])
    assert roles.role_on(world["production"]) == Role.ADMIN
    assert access.visible_namespaces(admin_user).count() == 2


def test_a_revoked_grant_or_a_deleted_team_no_longer_counts(world):
    pat, quinn = make_user("pat"), make_user("quinn")
    world["payments"].members.add(pat)
    by_team = grant("deployer", world["staging"], to_team=world["payments"])
    personal = grant("viewer", world["production"], user=quinn)
    assert access.roles_of(fresh(pat)).may_deploy(world["own"], world["staging"])

    personal.soft_delete(by=pat)
    assert not access.roles_of(fresh(quinn)).has(Role.VIEWER, world["production"])

    world["payments"].soft_delete(by=pat)
    roles = access.roles_of(fresh(pat))
    assert not roles.has(Role.VIEWER, world["staging"])
    assert world["payments"].pk not in roles.team_ids
    by_team.refresh_from_db()
    assert not by_team.is_deleted  # the grant stays; it is the team that no longer counts


def test_a_refusal_names_the_role_and_the_namespace(world):
    pat = make_user("pat")
    world["payments"].members.add(pat)
    grant("viewer", world["production"], to_team=world["payments"])
    pat = fresh(pat)

    with pytest.raises(access.Forbidden) as refused:
        access.require_deploy(pat, world["own"], world["production"])
    assert str(refused.value) == (
        "Deploying checkout to prod-eu/production needs the deployer role on prod-eu/production "
        "as a member of its team payments, or the admin role there, and you have viewer. Ask an "
        "admin of prod-eu/production to grant it."
    )
    with pytest.raises(access.Forbidden) as refused:
        access.require(pat, Role.ADMIN, world["staging"], action="Changing the settings")
    assert str(refused.value) == (
        "Changing the settings: it needs the admin role on prod-eu/staging (or on the whole "
        "cluster prod-eu), and you have no role there. Ask an admin of prod-eu/staging to grant "
        "it."
    )


def test_roles_are_read_once_per_user_object(world, django_assert_num_queries):
    pat = fresh(make_user("pat"))
    grant("viewer", world["staging"], user=pat)
    with django_assert_num_queries(2):  # teams, grants
        access.roles_of(pat)
        access.roles_of(pat).has(Role.VIEWER, world["staging"])
    access.forget_roles(pat)
    with django_assert_num_queries(2):
        access.roles_of(pat)
