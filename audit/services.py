"""Writing the audit trail. Call `record` in the same transaction as the change it describes, so
that both are kept or neither is."""

from django.db import models

from audit.context import current
from audit.models import AuditEntry

# Field names whose values never reach the trail (nor anything that reads it).
SECRET_FIELDS = frozenset(
    {"password", "kubeconfig", "secret", "key", "key_hash", "token", "client_secret"}
)
SECRET_PLACEHOLDER = "(secret changed)"  # noqa: S105 (a label, not a password)
MAX_VALUE_LENGTH = 500


def summarize(value):
    """A JSON-safe, bounded rendering of a field value."""
    if isinstance(value, models.Model):
        return str(value)[:MAX_VALUE_LENGTH]
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [summarize(item) for item in list(value)[:50]]
    if isinstance(value, dict):
        return {str(k)[:100]: summarize(v) for k, v in list(value.items())[:50]}
    return str(value)[:MAX_VALUE_LENGTH]


def is_secret(field: str) -> bool:
    name = field.lower()
    return name in SECRET_FIELDS or name.endswith(("_secret", "_password", "kubeconfig"))


def diff(before: dict, after: dict) -> dict:
    """{"field": [before, after]} for each field that changed; secrets show only that they
    changed."""
    changed = {}
    for field in sorted(set(before) | set(after)):
        old, new = before.get(field), after.get(field)
        if old == new:
            continue
        if is_secret(field):
            changed[field] = SECRET_PLACEHOLDER
        else:
            changed[field] = [summarize(old), summarize(new)]
    return changed


def snapshot(obj: models.Model, fields: list[str] | None = None) -> dict:
    """The object's concrete field values (foreign keys as their ids), secrets left out."""
    values = {}
    for field in obj._meta.concrete_fields:
        if fields is not None and field.name not in fields:
            continue
        if is_secret(field.name) or is_secret(field.attname):
            continue
        values[field.name] = summarize(getattr(obj, field.attname))
    return values


def record(
    action: str,
    obj: models.Model | None = None,
    *,
    changes: dict | None = None,
    message: str = "",
    actor=None,
    actor_name: str = "",
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
) -> AuditEntry:
    """Append one entry. The actor, door, token name and IP come from audit.context unless
    `actor` is given (a User). `changes` should come from `diff` or `snapshot`: callers never
    pass secret values."""
    who = current()
    user = actor if actor is not None else who.user
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)
    return AuditEntry.objects.create(
        actor=user,
        actor_name=actor_name or (user.get_username() if user is not None else ""),
        door=who.door,
        token_name=who.token_name,
        ip=who.ip,
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr[:200],
        changes=summarize(changes or {}),
        message=message,
    )
