"""sso.services.sign_in: an identity at the provider is one user, found by issuer and subject,
and their teams with an identity-provider group follow the groups claim exactly."""

import pytest
from django.contrib.auth.models import Group, Permission, User

from audit.models import AuditEntry
from clusters.models import Cluster, Namespace
from sso.models import SsoIdentity
from sso.services import SignInRefused, groups_in, sign_in
from teams.access import roles_of
from teams.models import Team
from tests.conftest import grant

ISSUER = "https://idp.example"
pytestmark = pytest.mark.django_db


def claims(**overrides) -> dict:
    body = {"sub": "s-dana", "preferred_username": "dana", "email": "dana@example.test",
            "given_name": "Dana", "family_name": "Scully", "groups": ["payments"]}  # fmt: skip
    body.update(overrides)
    return body


def sign_in_as(**overrides) -> User:
    return sign_in(ISSUER, claims(**overrides), groups_claim="groups")


@pytest.fixture
def payments(db) -> Team:
    return Team.objects.create(name="payments", sso_group="payments")


def test_first_sign_in_creates_the_user_and_links_the_identity(payments):
    user = sign_in_as()

    assert (user.username, user.email, user.first_name, user.last_name) == (
        "dana", "dana@example.test", "Dana", "Scully",
    )  # fmt: skip
    assert not user.has_usable_password()
    assert not user.is_staff and not user.is_superuser
    identity = SsoIdentity.objects.get(user=user)
    assert (identity.issuer, identity.subject) == (ISSUER, "s-dana")
    assert identity.last_sign_in_at is not None
    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["user.created", "sso_identity.linked", "team.member_added"]


def test_the_next_sign_in_finds_the_user_by_subject_even_when_renamed(payments):
    first = sign_in_as()
    again = sign_in_as(preferred_username="dana.scully", email="dscully@example.test")

    assert again.pk == first.pk
    assert again.username == "dana"  # the username stays; the profile follows the provider
    assert User.objects.get(pk=first.pk).email == "dscully@example.test"
    changed = AuditEntry.objects.get(action="user.changed")
    assert changed.changes == {"email": ["dana@example.test", "dscully@example.test"]}


def test_an_identity_never_takes_over_an_account_by_its_name(db):
    local = User.objects.create_superuser("dana", password="pw-dana")

    user = sign_in_as()

    assert user.pk != local.pk
    assert user.username == "dana-2"
    assert not user.is_superuser


def test_another_issuer_with_the_same_subject_is_another_person(db):
    first = sign_in_as()
    other = sign_in("https://other-idp.example", claims(), groups_claim="groups")
    assert other.pk != first.pk


def test_an_admin_linked_identity_signs_in_as_that_user(db):
    existing = User.objects.create_user("dscully")
    SsoIdentity.objects.create(issuer=ISSUER, subject="s-dana", user=existing)
    assert sign_in_as().pk == existing.pk


def test_a_deactivated_user_is_refused(db):
    user = sign_in_as()
    User.objects.filter(pk=user.pk).update(is_active=False)

    with pytest.raises(SignInRefused, match="dana is deactivated") as refused:
        sign_in_as()
    assert refused.value.username == "dana"


def test_a_subject_longer_than_the_standard_allows_is_refused(db):
    with pytest.raises(SignInRefused, match="longer than OpenID Connect allows"):
        sign_in_as(sub="x" * 256)


def test_memberships_follow_the_groups_claim_and_leave_other_teams_alone(payments):
    web = Team.objects.create(name="web", sso_group="web-devs")
    hand_made = Team.objects.create(name="oncall")  # no sso_group: managed in Kubernaut
    user = sign_in_as(groups=["payments", "web-devs", "unrelated"])
    hand_made.members.add(user)
    assert set(user.teams.values_list("name", flat=True)) == {"payments", "web", "oncall"}

    sign_in_as(groups=["web-devs"])
    assert set(user.teams.values_list("name", flat=True)) == {"web", "oncall"}
    removed = AuditEntry.objects.get(action="team.member_removed")
    assert (removed.object_repr, removed.changes) == ("payments", {"member": "dana"})

    sign_in_as(groups=None)  # the claim is gone: no group vouched for
    assert set(user.teams.values_list("name", flat=True)) == {"oncall"}
    assert web.members.count() == 0


def test_a_deleted_team_is_left_alone(payments):
    user = sign_in_as()
    payments.soft_delete(by=None)
    sign_in_as(groups=[])
    assert Team.all_objects.get(pk=payments.pk).members.filter(pk=user.pk).exists()


def test_team_roles_apply_at_once(payments):
    cluster = Cluster(name="prod")
    cluster.set_kubeconfig("unused: here")
    cluster.save()
    namespace = Namespace.objects.create(cluster=cluster, name="payments")
    grant("deployer", namespace, to_team=payments)

    user = sign_in_as()

    assert roles_of(user).role_on(namespace) == "deployer"


def test_every_sso_user_joins_the_configured_django_group(db):
    engineers = Group.objects.create(name="engineers")
    engineers.permissions.add(Permission.objects.get(codename="view_release"))

    user = sign_in(ISSUER, claims(), groups_claim="groups", user_group="engineers")
    sign_in(ISSUER, claims(), groups_claim="groups", user_group="engineers")

    assert User.objects.get(pk=user.pk).has_perm("releases.view_release")
    assert AuditEntry.objects.filter(action="user.changed").count() == 1  # joined once
    assert not sign_in_as(sub="s-other").groups.exists()  # no group named: none joined


@pytest.mark.parametrize(
    ("value", "groups"),
    [(["a", "b"], {"a", "b"}), ("a", {"a"}), (None, set()), (["a", 7, None], {"a"}), (3, set())],
)
def test_groups_claim_shapes(value, groups):
    assert groups_in({"roles": value}, "roles") == groups


def test_a_username_is_made_valid(db):
    user = sign_in_as(preferred_username="Dana Scully (FBI)")
    assert user.username == "Dana-Scully--FBI-"
    assert sign_in("x", {"sub": "only-a-subject"}, groups_claim="groups").username == (
        "only-a-subject"
    )
