"""Signing in with single sign-on: which user an identity at the provider is, and their teams.

Called through django.contrib.auth.authenticate() (sso/backends.py) by the callback view, once
sso/oidc.py has checked the ID token. The user, their link to the identity and their team
memberships change in one transaction, each change recorded in the audit trail beside it.
"""

import re

from django.contrib.auth.models import Group, User
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import diff, record, snapshot
from sso.models import SsoIdentity
from teams.access import forget_roles
from teams.models import Team

NOT_IN_USERNAMES = re.compile(r"[^\w.@+-]")  # what Django's username validator refuses
PROFILE_CLAIMS = {"email": "email", "first_name": "given_name", "last_name": "family_name"}


class SignInRefused(Exception):
    """The identity is genuine but may not sign in; the message says why."""

    def __init__(self, message: str, username: str = ""):
        super().__init__(message)
        self.username = username


def groups_in(claims: dict, claim: str) -> set[str]:
    """The group names in the claim: a list of names, or one name. A missing claim is no
    group, so a provider that stops vouching for a group takes its team away."""
    value = claims.get(claim)
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return {item for item in value if isinstance(item, str)}
    return set()


def sign_in(issuer: str, claims: dict, *, groups_claim: str, user_group: str = "") -> User:
    """The user of this identity (created at its first sign-in), with their profile from the
    claims and their memberships of teams that have an `sso_group` set to exactly the groups in
    `groups_claim`. Teams without an `sso_group` are left alone. The user is put in the Django
    group `user_group`, if one is named. SignInRefused for a user that is deactivated."""
    # Two first sign-ins of one person at once: the loser of the unique constraint finds the
    # winner's identity on the second try.
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _sign_in(issuer, claims, groups_in(claims, groups_claim), user_group)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def _sign_in(issuer: str, claims: dict, groups: set[str], user_group: str) -> User:
    subject = str(claims["sub"])
    if len(subject) > SsoIdentity._meta.get_field("subject").max_length:
        raise SignInRefused(
            "The identity provider sent a subject longer than OpenID Connect allows (255 "
            "characters); an admin should check the provider."
        )
    identity = (
        SsoIdentity.objects.select_for_update()
        .select_related("user")
        .filter(issuer=issuer, subject=subject)
        .first()
    )
    if identity is None:
        user = _create_user(claims)
        identity = SsoIdentity.objects.create(issuer=issuer, subject=subject, user=user)
        record(
            "sso_identity.linked",
            identity,
            actor=user,
            changes=snapshot(identity),
            message="Linked at the first single sign-on.",
        )
    else:
        user = identity.user
        if not user.is_active:
            raise SignInRefused(
                f"Your Kubernaut account {user.username} is deactivated. Ask an admin to "
                "reactivate it.",
                username=user.username,
            )
        _update_profile(user, claims)
    identity.last_sign_in_at = timezone.now()
    identity.save(update_fields=["last_sign_in_at"])
    if user_group:
        _join_user_group(user, user_group)
    sync_teams(user, groups)
    return user


def _join_user_group(user: User, name: str) -> None:
    group, _ = Group.objects.get_or_create(name=name)
    if user.groups.filter(pk=group.pk).exists():
        return
    user.groups.add(group)
    record(
        "user.changed",
        user,
        actor=user,
        changes={"groups": {"added": name}},
        message="Put in the group of single sign-on users (KUBERNAUT_OIDC_USER_GROUP).",
    )


def _profile_from(claims: dict) -> dict[str, str]:
    profile = {}
    for field, claim in PROFILE_CLAIMS.items():
        value = claims.get(claim)
        if isinstance(value, str):
            profile[field] = value[: User._meta.get_field(field).max_length]
    return profile


def _free_username(claims: dict) -> str:
    """preferred_username (else email, else sub), made valid, and made unique with a number:
    an identity never takes over an existing account by having its name."""
    wanted = next(
        (
            value.strip()
            for value in (claims.get("preferred_username"), claims.get("email"), claims["sub"])
            if isinstance(value, str) and value.strip()
        ),
        "user",
    )
    base = NOT_IN_USERNAMES.sub("-", wanted)[:140]
    name, number = base, 1
    while User.objects.filter(username__iexact=name).exists():
        number += 1
        name = f"{base}-{number}"
    return name


def _create_user(claims: dict) -> User:
    user = User(username=_free_username(claims), **_profile_from(claims))
    user.set_unusable_password()  # signs in through the provider only
    user.save()
    record(
        "user.created",
        user,
        actor=user,
        changes=snapshot(user, ["username", "email", "first_name", "last_name"]),
        message="Created at the first single sign-on.",
    )
    return user


def _update_profile(user: User, claims: dict) -> None:
    profile = _profile_from(claims)
    before = snapshot(user, list(profile))
    changes = diff(before, profile)
    if not changes:
        return
    for field, value in profile.items():
        setattr(user, field, value)
    user.save(update_fields=list(profile))
    record(
        "user.changed",
        user,
        actor=user,
        changes=changes,
        message="Updated from the identity provider at sign-in.",
    )


def sync_teams(user: User, groups: set[str]) -> None:
    """Make the user a member of exactly the teams whose `sso_group` is among `groups`, of all
    the teams that have one."""
    managed = Team.objects.exclude(sso_group="")
    current = set(managed.filter(members=user))
    wanted = set(managed.filter(sso_group__in=groups))
    for team in sorted(wanted - current, key=str):
        team.members.add(user)
        record(
            "team.member_added",
            team,
            actor=user,
            changes={"member": user.username},
            message=f"Joined as a member of {team.sso_group!r} at the identity provider.",
        )
    for team in sorted(current - wanted, key=str):
        team.members.remove(user)
        record(
            "team.member_removed",
            team,
            actor=user,
            changes={"member": user.username},
            message=f"Left: no longer a member of {team.sso_group!r} at the identity provider.",
        )
    forget_roles(user)
