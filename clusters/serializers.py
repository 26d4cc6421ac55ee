"""Input and output shapes of the clusters and namespaces API.

Nothing secret is ever an output field: a cluster's kubeconfig, context and registry credentials
stay in the admin, which only lets an admin replace them.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clusters.models import (
    MAX_REQUIRED_APPROVALS,
    Cluster,
    Namespace,
    kind_pattern_validator,
    registry_pattern_validator,
)
from kubernaut.api import QueryParameters, api_base_url

MAX_PATTERNS = 100


class ClusterSerializer(serializers.ModelSerializer):
    class Meta:
        model = Cluster
        fields = ["id", "name", "timeout_seconds", "registry_url", "created_at"]


class NamespaceSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    cluster = serializers.CharField(source="cluster.name")

    class Meta:
        model = Namespace
        fields = [
            "id", "url", "cluster", "name", "attributes", "rollback_on_failure", "pod_security",
            "allow_cluster_scoped", "allowed_kinds", "denied_kinds", "allowed_registries",
            "next_stage", "required_approvals", "production", "created_at",
        ]  # fmt: skip
        extra_kwargs = {"next_stage": {"help_text": "The id of the namespace a release goes to "
                                       "after this one (Promote); null: none"}}  # fmt: skip

    def get_url(self, namespace) -> str:
        return f"{api_base_url(self.context)}namespaces/{namespace.pk}"


@extend_schema_field({"type": "boolean"})
class StrictBooleanField(serializers.BooleanField):
    """true or false only: DRF would also take "yes", "1" or 0, which a script means rarely."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            raise serializers.ValidationError("Give true or false.")
        return data


class StrictIntegerField(serializers.IntegerField):
    """An IntegerField that refuses text and booleans: "3" or true are a script's mistake."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers instead of quietly turning them into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def patterns(validator, what: str) -> serializers.ListField:
    return serializers.ListField(
        child=StrictCharField(max_length=253, validators=[validator]),
        required=False,
        max_length=MAX_PATTERNS,
        help_text=Namespace._meta.get_field(what).help_text.replace(", one per line", ""),
    )


class NamespaceSettingsSerializer(serializers.Serializer):
    """What PATCH /api/namespaces/{id} may change: the namespace's settings, not its name,
    cluster or attributes (those stay in the admin)."""

    rollback_on_failure = StrictBooleanField(
        required=False, help_text=Namespace._meta.get_field("rollback_on_failure").help_text
    )
    pod_security = serializers.ChoiceField(
        choices=Namespace.PodSecurity.values,
        required=False,
        help_text=Namespace._meta.get_field("pod_security").help_text,
    )
    allow_cluster_scoped = StrictBooleanField(
        required=False, help_text=Namespace._meta.get_field("allow_cluster_scoped").help_text
    )
    allowed_kinds = patterns(kind_pattern_validator, "allowed_kinds")
    denied_kinds = patterns(kind_pattern_validator, "denied_kinds")
    allowed_registries = patterns(registry_pattern_validator, "allowed_registries")
    next_stage = StrictIntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=2**63 - 1,  # an id: PostgreSQL's bigint
        error_messages={"max_value": "Give the id of a namespace (GET /api/namespaces)."},
        help_text="The id of the namespace a release goes to after this one (Promote), possibly "
        "on another cluster; null for none. You need a role on it too, and stages may not loop",
    )
    required_approvals = StrictIntegerField(
        required=False,
        min_value=0,
        max_value=MAX_REQUIRED_APPROVALS,
        help_text=Namespace._meta.get_field("required_approvals").help_text,
        error_messages={
            "max_value": f"At most {MAX_REQUIRED_APPROVALS} approvals may be required.",
            "min_value": "Give 0 (no approvals) or more.",
        },
    )
    production = StrictBooleanField(
        required=False, help_text=Namespace._meta.get_field("production").help_text
    )

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                'The body must be a JSON object of settings, like {"rollback_on_failure": true}.'
            )
        unknown = [name for name in data if name not in self.fields]
        if unknown:
            settable = ", ".join(self.fields)
            raise serializers.ValidationError(
                {
                    name: [f"{name!r} cannot be changed through the API; the settings are: "
                           f"{settable}."]
                    for name in unknown
                }
            )  # fmt: skip
        return super().to_internal_value(data)


class NamespaceFilterSerializer(QueryParameters):
    cluster = serializers.CharField(required=False, max_length=63, help_text="The cluster's name")
    name = serializers.CharField(required=False, max_length=63, help_text="The namespace's name")
