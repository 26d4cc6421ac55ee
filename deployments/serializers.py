"""Input and output shapes of the deployments API."""

from django.contrib.auth import get_user_model
from django.db.models import F
from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers

from clusters.models import MAX_TIMEOUT_SECONDS, Namespace
from deployments.models import Deployment, LogEntry
from kubernaut.api import QueryParameters, api_base_url, iso_time
from locks.models import MAX_REASON_LENGTH
from releases.serializers import AttributesField, StrictCharField


def override_lock_field() -> serializers.CharField:
    return StrictCharField(
        required=False,
        max_length=MAX_REASON_LENGTH,
        help_text="Deploy even though the target is locked, for this reason (recorded in the "
        "audit trail and the deployment's log). Only admins of the namespace may; ignored when "
        "nothing is locked",
        error_messages={
            "blank": "Give the reason for deploying despite the lock, or leave override_lock out."
        },
    )


class DeploymentInputSerializer(serializers.Serializer):
    release = serializers.IntegerField(required=False, min_value=1)
    service = StrictCharField(required=False, max_length=63)
    version = StrictCharField(required=False, max_length=128)
    cluster = StrictCharField(max_length=63)
    namespace = StrictCharField(max_length=63)
    attributes = AttributesField(required=False, default=dict)
    timeout_seconds = serializers.IntegerField(
        required=False, min_value=10, max_value=MAX_TIMEOUT_SECONDS
    )
    override_lock = override_lock_field()

    def validate(self, data):
        by_id = "release" in data
        by_name = "service" in data or "version" in data
        if by_id == by_name or (by_name and not ("service" in data and "version" in data)):
            raise serializers.ValidationError(
                "Name the release either by id (release) or by service and version, not both."
            )
        return data


class DeploymentInputSchema(OpenApiSerializerExtension):
    """Tells the OpenAPI document what validate() enforces: a release by id or by name."""

    target_class = DeploymentInputSerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        # Exactly one of `release` and `service`, and `service` and `version` go together.
        schema["oneOf"] = [{"required": ["release"]}, {"required": ["service"]}]
        schema["dependentRequired"] = {"service": ["version"], "version": ["service"]}
        return schema


class RedeployInputSerializer(serializers.Serializer):
    timeout_seconds = serializers.IntegerField(
        required=False, min_value=10, max_value=MAX_TIMEOUT_SECONDS
    )
    override_lock = override_lock_field()


class PromoteInputSerializer(serializers.Serializer):
    timeout_seconds = serializers.IntegerField(
        required=False,
        min_value=10,
        max_value=MAX_TIMEOUT_SECONDS,
        help_text="How long the rollout may take; default: the next stage's cluster's timeout",
    )
    override_lock = override_lock_field()


class ViolationSerializer(serializers.Serializer):
    object = serializers.CharField(help_text="kubectl's name for it, e.g. deployment.apps/web")
    field = serializers.CharField(
        help_text="e.g. spec.template.spec.containers[0].securityContext.privileged"
    )
    rule = serializers.CharField(
        help_text="baseline/<check> or restricted/<check> (Pod Security Admission's check ids), "
        "cluster-scoped, allowed-kinds, denied-kinds or allowed-registries"
    )
    message = serializers.CharField()


class ManifestErrorSerializer(serializers.Serializer):
    """A 400 of the deployment endpoints (documentation only)."""

    detail = serializers.CharField(help_text="A sentence saying what to fix")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Messages per input field (absent when the body could not be read at all); "
        'a manifest problem is under "manifest"',
    )
    violations = ViolationSerializer(
        many=True, required=False, help_text="Only when the namespace's deploy policy refuses"
    )


class LogEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = LogEntry
        fields = ["id", "time", "level", "message"]


class DeploymentSerializer(serializers.ModelSerializer):
    service = serializers.CharField(source="service.name")
    version = serializers.CharField(source="release.version")
    cluster = serializers.CharField(source="namespace.cluster.name")
    namespace = serializers.CharField(source="namespace.name")
    created_by = serializers.CharField(source="created_by.username")
    url = serializers.SerializerMethodField()
    rolled_back_by = serializers.SerializerMethodField(
        help_text="The automatic rollback this failed deployment started, if any"
    )

    class Meta:
        model = Deployment
        fields = [
            "id", "url", "release", "service", "version", "cluster", "namespace", "status",
            "reason", "created_by", "created_at", "started_at", "finished_at", "timeout_seconds",
            "redeploy_of", "rollback_of", "rolled_back_by", "promoted_from",
        ]  # fmt: skip
        extra_kwargs = {"promoted_from": {"help_text": "The succeeded deployment of the "
                                          "previous stage this one promotes, if any"}}  # fmt: skip

    def get_url(self, deployment) -> str:
        return f"{api_base_url(self.context)}deployments/{deployment.pk}"

    def get_rolled_back_by(self, deployment) -> int | None:
        rollback = getattr(deployment, "rolled_back_by", None)
        return rollback.pk if rollback else None


# As for releases: list rows come from .values() without DRF, in DeploymentSerializer's shape
# (tests/test_deployment_read_api.py keeps them equal).
# Namespaces (with their clusters) and users are looked up for the page apart: PostgreSQL spent
# two thirds of the request planning the five-table join (bench/api_bench.py).
DEPLOYMENT_ROW_VALUES = (
    "id", "release_id", "status", "reason", "created_at", "started_at", "finished_at",
    "timeout_seconds", "redeploy_of_id", "namespace_id", "created_by_id", "rollback_of_id",
    "promoted_from_id",
)  # fmt: skip
DEPLOYMENT_ROW_ANNOTATIONS = {
    "service_name": F("service__name"),
    "release_version": F("release__version"),
    # the reverse of the one-to-one rollback_of: a join on its unique index
    "rolled_back_by_id": F("rolled_back_by__id"),
}


def deployment_rows(rows: list[dict], base_url: str) -> list[dict]:
    places = {
        pk: (cluster, name)
        for pk, name, cluster in Namespace.all_objects.filter(
            pk__in={row["namespace_id"] for row in rows}
        ).values_list("id", "name", "cluster__name")
    }
    usernames = dict(
        get_user_model()
        .objects.filter(pk__in={row["created_by_id"] for row in rows})
        .values_list("id", "username")
    )
    return [
        {
            "id": row["id"],
            "url": f"{base_url}deployments/{row['id']}",
            "release": row["release_id"],
            "service": row["service_name"],
            "version": row["release_version"],
            "cluster": places[row["namespace_id"]][0],
            "namespace": places[row["namespace_id"]][1],
            "status": row["status"],
            "reason": row["reason"],
            "created_by": usernames[row["created_by_id"]],
            "created_at": iso_time(row["created_at"]),
            "started_at": iso_time(row["started_at"]),
            "finished_at": iso_time(row["finished_at"]),
            "timeout_seconds": row["timeout_seconds"],
            "redeploy_of": row["redeploy_of_id"],
            "rollback_of": row["rollback_of_id"],
            "rolled_back_by": row["rolled_back_by_id"],
            "promoted_from": row["promoted_from_id"],
        }
        for row in rows
    ]


class DecisionSerializer(serializers.Serializer):
    """One person's decision on a deployment that waited for approval. The rows are the
    approvals app's (`deployment.approvals`); deployments reads them without importing it."""

    user = serializers.CharField(source="user.username")
    decision = serializers.CharField(help_text="approve or reject")
    comment = serializers.CharField()
    created_at = serializers.DateTimeField()


class DeploymentDetailSerializer(DeploymentSerializer):
    log = serializers.SerializerMethodField()
    required_approvals = serializers.IntegerField(
        source="namespace.required_approvals",
        help_text="How many approvals a deployment to its namespace needs now (docs/approvals.md)",
    )
    approvals = DecisionSerializer(
        many=True, read_only=True, help_text="The decisions of approvers, oldest first"
    )
    cancelled_by = serializers.CharField(
        source="cancelled_by.username",
        allow_null=True,
        default=None,
        help_text="Who asked to cancel it (null unless someone did)",
    )

    class Meta(DeploymentSerializer.Meta):
        fields = DeploymentSerializer.Meta.fields + [
            "requested_attributes", "attributes", "manifest", "applied_objects", "workloads",
            "cancelled_by", "required_approvals", "approvals", "log",
        ]  # fmt: skip

    def get_log(self, deployment) -> list[dict]:
        entries = deployment.log_entries.all()[: self.context.get("log_limit", 5000)]
        return LogEntrySerializer(entries, many=True).data


class DeploymentFilterSerializer(QueryParameters):
    service = serializers.CharField(required=False, max_length=63)
    version = serializers.CharField(required=False, max_length=128)
    cluster = serializers.CharField(required=False, max_length=63)
    namespace = serializers.CharField(required=False, max_length=63)
    status = serializers.ChoiceField(required=False, choices=Deployment.Status.values)
    created_by = serializers.CharField(required=False, max_length=150)


class LogFilterSerializer(QueryParameters):
    after = serializers.IntegerField(required=False, min_value=0, max_value=2**63 - 1, default=0)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=5000, default=1000)


class LogPageSerializer(serializers.Serializer):
    """What GET /api/deployments/{id}/log answers: the lines after `after`, and the status."""

    status = serializers.ChoiceField(choices=Deployment.Status.choices)
    finished = serializers.BooleanField()
    log = LogEntrySerializer(many=True)
