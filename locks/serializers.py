"""Input and output shapes of the locks API, and of the lock inside a 423."""

from django.utils import timezone
from rest_framework import serializers

from kubernaut.api import QueryParameters, api_base_url
from locks.models import MAX_REASON_LENGTH, Lock
from releases.serializers import StrictCharField

REASON_HELP = "Why, for the people who cannot deploy meanwhile (1-500 characters)"


BODY_EXAMPLE = '{"cluster": "prod", "namespace": "web", "reason": "release freeze"}'


class LockInputSerializer(serializers.Serializer):
    cluster = StrictCharField(max_length=63)
    namespace = StrictCharField(max_length=63)
    service = StrictCharField(
        required=False,
        allow_null=True,
        max_length=63,
        help_text="Lock only this service there; leave out (or null) to lock the whole namespace",
    )
    reason = StrictCharField(
        max_length=MAX_REASON_LENGTH,
        help_text=REASON_HELP,
        error_messages={"blank": "Give the reason for the lock: people who cannot deploy will "
                                 "read it."},
    )  # fmt: skip
    until = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="When the lock ends by itself (ISO 8601, in the future); leave out to lock "
        "until someone unlocks",
    )

    def to_internal_value(self, data):
        unknown = [name for name in data if name not in self.fields]
        if unknown:
            known = ", ".join(self.fields)
            raise serializers.ValidationError(
                {name: [f"{name!r} is not a field of a lock; the fields are: {known}."]
                 for name in unknown}
            )  # fmt: skip
        return super().to_internal_value(data)

    def validate_until(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError(
                "This time has passed: give a time in the future, or leave `until` out to lock "
                "until someone unlocks."
            )
        return value


class LockSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    cluster = serializers.CharField(source="namespace.cluster.name")
    namespace = serializers.CharField(source="namespace.name")
    service = serializers.CharField(
        source="service.name", allow_null=True, default=None,
        help_text="The one service locked there; null when the whole namespace is",
    )  # fmt: skip
    created_by = serializers.CharField(source="created_by.username")
    summary = serializers.CharField(
        source="sentence", help_text="Who locked what, since when (and until when), and why"
    )
    active = serializers.BooleanField(
        source="is_active", help_text="It blocks deployments now (false once `until` passed)"
    )

    class Meta:
        model = Lock
        fields = ["id", "url", "cluster", "namespace", "service", "reason", "created_by",
                  "created_at", "until", "active", "summary"]  # fmt: skip

    def get_url(self, lock) -> str:
        return f"{api_base_url(self.context)}locks/{lock.pk}"


class LockFilterSerializer(QueryParameters):
    cluster = serializers.CharField(required=False, max_length=63, help_text="The cluster's name")
    namespace = serializers.CharField(
        required=False, max_length=63, help_text="The namespace's name"
    )
    service = serializers.CharField(
        required=False, max_length=63,
        help_text="Locks that hold this service: its own, and those of whole namespaces",
    )  # fmt: skip


class LockedErrorSerializer(serializers.Serializer):
    """A 423: the target is locked (documentation only)."""

    detail = serializers.CharField(
        help_text="Who locked it, since when and why, and how to unlock or override"
    )
    lock = LockSerializer()
