"""Input and output shapes of the continuous delivery API."""

from rest_framework import serializers

from delivery.models import AutoDeploy
from kubernaut.api import QueryParameters, api_base_url
from releases.serializers import StrictCharField

BODY_EXAMPLE = '{"service": "billing", "cluster": "prod", "namespace": "web"}'


class AutoDeployInputSerializer(serializers.Serializer):
    service = StrictCharField(max_length=63, help_text="The service whose new releases to deploy")
    cluster = StrictCharField(max_length=63)
    namespace = StrictCharField(max_length=63, help_text="Where to deploy them")

    def to_internal_value(self, data):
        unknown = [name for name in data if name not in self.fields]
        if unknown:
            known = ", ".join(self.fields)
            raise serializers.ValidationError(
                {name: [f"{name!r} is not a field of an auto-deploy; the fields are: {known}."]
                 for name in unknown}
            )  # fmt: skip
        return super().to_internal_value(data)


class AutoDeploySerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    service = serializers.CharField(source="service.name")
    cluster = serializers.CharField(source="namespace.cluster.name")
    namespace = serializers.CharField(source="namespace.name")
    paused = serializers.BooleanField(
        source="is_paused",
        help_text="New releases are not deployed until someone resumes it (after a failure or "
        "a rollback there)",
    )
    paused_by_deployment = serializers.IntegerField(
        source="paused_by_deployment_id", allow_null=True,
        help_text="The deployment whose failure or rollback paused it",
    )  # fmt: skip
    last_deployment = serializers.IntegerField(
        source="last_deployment_id", allow_null=True,
        help_text="The last deployment continuous delivery made there",
    )  # fmt: skip
    created_by = serializers.CharField(source="created_by.username")

    class Meta:
        model = AutoDeploy
        fields = ["id", "url", "service", "cluster", "namespace", "paused", "paused_at",
                  "paused_reason", "paused_by_deployment", "last_deployment", "last_skipped_at",
                  "last_skipped_reason", "created_by", "created_at"]  # fmt: skip

    def get_url(self, auto) -> str:
        return f"{api_base_url(self.context)}auto-deploys/{auto.pk}"


class AutoDeployFilterSerializer(QueryParameters):
    service = serializers.CharField(required=False, max_length=63, help_text="The service's name")
    cluster = serializers.CharField(required=False, max_length=63, help_text="The cluster's name")
    namespace = serializers.CharField(
        required=False, max_length=63, help_text="The namespace's name"
    )
