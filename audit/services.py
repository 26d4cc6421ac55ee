"""Writing the audit trail, and reading it back. Call `record` in the same transaction as the
change it describes, so that both are kept or neither is."""

import re

from django.db import models

from audit.context import current
from audit.models import AuditEntry

# Field names whose values never reach the trail (nor anything that reads it).
SECRET_FIELDS = frozenset(
    {"password", "kubeconfig", "secret", "key", "key_hash", "token", "client_secret"}
)
SECRET_PLACEHOLDER = "(secret changed)"  # noqa: S105 (a label, not a password)
SECRET_SET = "(secret set)"  # noqa: S105 (a label, not a password)
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
    """Whether a field (or attribute) name holds a secret. Errs on the side of hiding: the
    encrypted columns too, since the trail is read by more people than the database."""
    name = field.lower()
    return (
        name in SECRET_FIELDS
        or name.endswith(("_secret", "_encrypted", "_hash", "_key"))
        or "password" in name
        or "kubeconfig" in name
    )


def redact(values: dict, placeholder: str = SECRET_PLACEHOLDER) -> dict:
    """A name -> value mapping (attributes, settings) with the values of secret-looking names
    replaced by `placeholder`, for summaries of what was asked for."""
    return {
        name: placeholder if is_secret(str(name)) else value
        for name, value in (values or {}).items()
    }


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


def changes_between(before: models.Model, after: models.Model) -> dict:
    """What changed between two states of one row (e.g. the row as read before a form saved it,
    and after): {"field": [before, after]}, and "(secret changed)" for secret fields."""
    changed = diff(snapshot(before), snapshot(after))
    for field in after._meta.concrete_fields:
        secret = is_secret(field.name) or is_secret(field.attname)
        if secret and getattr(before, field.attname) != getattr(after, field.attname):
            changed[field.name] = SECRET_PLACEHOLDER
    return changed


def created_summary(obj: models.Model) -> dict:
    """What a new row holds, for a ".created" entry: its fields, secrets only as "(secret set)"."""
    summary = snapshot(obj)
    for field in obj._meta.concrete_fields:
        if (is_secret(field.name) or is_secret(field.attname)) and getattr(obj, field.attname):
            summary[field.name] = SECRET_SET
    summary.pop("id", None)
    return summary


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
        actor_name=actor_name or (user.get_username() if user is not None else who.name),
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


# Reading the trail: the filters GET /api/audit and the /audit/ page share.

OBJECT_PATTERN = re.compile(
    r"^(?P<type>[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*)(?::(?P<id>[^\s:]{1,64}))?$"
)
OBJECT_HELP = (
    'Name the object as "app.model:id", e.g. "deployments.deployment:42", or "app.model" for '
    "every object of that kind."
)


def parse_object(text: str) -> tuple[str, str]:
    """ "app.model:id" (or "app.model") into (object_type, object_id); ValueError with a
    sentence for anything else."""
    match = OBJECT_PATTERN.match(text)
    if match is None:
        raise ValueError(OBJECT_HELP)
    return match["type"], match["id"] or ""


def filter_entries(given: dict) -> models.QuerySet:
    """Entries matching the filters given (empty ones are ignored), in any order:
    actor (the name recorded), action (exact, or a prefix ending in "." or "*": "deployment."),
    object_type and object_id, since and until (times, inclusive)."""
    entries = AuditEntry.objects.all()
    if given.get("actor"):
        entries = entries.filter(actor_name=given["actor"])
    action = given.get("action")
    if action and action.endswith(("*", ".")):
        entries = entries.filter(action__startswith=action.rstrip("*"))
    elif action:
        entries = entries.filter(action=action)
    if given.get("object_type"):
        entries = entries.filter(object_type=given["object_type"])
    if given.get("object_id"):
        entries = entries.filter(object_id=given["object_id"])
    if given.get("since"):
        entries = entries.filter(at__gte=given["since"])
    if given.get("until"):
        entries = entries.filter(at__lte=given["until"])
    return entries
