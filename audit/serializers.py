from rest_framework import serializers

from audit import services
from audit.models import AuditEntry
from kubernaut.api import QueryParameters


class AuditFilterSerializer(QueryParameters):
    actor = serializers.CharField(
        required=False, max_length=150, help_text="The username (as recorded) of who acted"
    )
    action = serializers.CharField(
        required=False,
        max_length=64,
        help_text='An action ("release.deleted"), or a prefix ending in "." or "*" ("deployment.")',
    )
    object = serializers.CharField(
        required=False,
        max_length=170,
        help_text='The object as "app.model:id" ("deployments.deployment:42"), or "app.model" '
        "for every object of a kind",
    )
    object_type = serializers.CharField(
        required=False, max_length=100, help_text='"app.model", e.g. "clusters.namespace"'
    )
    object_id = serializers.CharField(
        required=False, max_length=64, help_text="The object's id; needs object_type"
    )
    since = serializers.DateTimeField(
        required=False, help_text="Entries at or after this time (ISO 8601)"
    )
    until = serializers.DateTimeField(
        required=False, help_text="Entries at or before this time (ISO 8601)"
    )

    def validate_object(self, value: str) -> str:
        try:
            services.parse_object(value)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None
        return value

    def validate(self, data: dict) -> dict:
        if "object" in data:
            if "object_type" in data or "object_id" in data:
                raise serializers.ValidationError(
                    "Give either object or object_type (with object_id), not both."
                )
            data["object_type"], data["object_id"] = services.parse_object(data.pop("object"))
        if data.get("object_id") and not data.get("object_type"):
            raise serializers.ValidationError(
                {"object_id": ['An object id needs its object_type ("app.model") too.']}
            )
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise serializers.ValidationError(
                {"until": ["until is before since: swap them, or widen the range."]}
            )
        return data


class AuditEntrySerializer(serializers.ModelSerializer):
    """One entry of the trail: who (`actor` null for the system itself), through which door and
    token, from where, did what to which object, and what changed."""

    actor = serializers.SerializerMethodField(
        help_text="The username at the time; null when the system acted (a worker, a schedule)"
    )
    changes = serializers.DictField(
        help_text='{"field": [before, after]} for changes; what the object held for creations. '
        'Secrets only ever appear as "(secret changed)" or "(secret set)".'
    )

    class Meta:
        model = AuditEntry
        fields = [
            "id", "at", "actor", "actor_id", "door", "token_name", "ip", "action",
            "object_type", "object_id", "object_repr", "changes", "message",
        ]  # fmt: skip
        read_only_fields = fields

    def get_actor(self, entry: AuditEntry) -> str | None:
        return entry.actor_name or None
