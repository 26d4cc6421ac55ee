"""The clusters and namespaces API, for the people and scripts that manage Kubernaut: list the
clusters and namespaces, read and change a namespace's settings.

Adding clusters (kubeconfigs) and namespaces stays in the admin and `register_cluster`: a
kubeconfig is written once and never read back, so no endpoint here returns one.

Who sees and changes what is decided by roles (teams/access.py, docs/teams.md), not by Django's
model permissions: the lists hold what you hold a role on, and a namespace's settings are changed
by its admins (the `admin` role on it or on its cluster).
"""

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import APIView

from audit import services as audit
from clusters.models import Namespace, lock_stage_changes
from clusters.serializers import (
    ClusterSerializer,
    NamespaceFilterSerializer,
    NamespaceSerializer,
    NamespaceSettingsSerializer,
)
from kubernaut.api import PAGE_PARAMETERS, page_of_rows, paginated
from kubernaut.schema import error_response
from teams import access
from teams.models import Role

NOT_VISIBLE = error_response(
    "There is no such namespace, or you have no role on it: both answer 404."
)


def page_of(request, view, queryset, serializer_class) -> Response:
    """One newest-first page of model rows, as the serializer shows them."""
    return page_of_rows(
        request,
        view,
        queryset,
        lambda page, _: serializer_class(page, many=True, context={"request": request}).data,
    )


def alive_namespaces(request):
    """The namespaces of live clusters that the user (and token) may see."""
    return (
        access.visible_namespaces(request.user, token=request.auth)
        .select_related("cluster")
        .filter(cluster__deleted_at__isnull=True)
    )


class ClusterListApi(APIView):
    @extend_schema(
        summary="List clusters, newest first",
        description="Their names, timeouts and registries; never their kubeconfigs or "
        "registry credentials. Only clusters where you hold a role (on the cluster or on one "
        "of its namespaces) are listed.",
        operation_id="clusters_list",
        parameters=PAGE_PARAMETERS,
        responses=paginated(ClusterSerializer),
    )
    def get(self, request):
        clusters = access.visible_clusters(request.user, token=request.auth)
        return page_of(request, self, clusters, ClusterSerializer)


class NamespaceListApi(APIView):
    @extend_schema(
        summary="List namespaces with their settings, newest first",
        description="Only namespaces where you hold a role (`viewer` or more) are listed.",
        operation_id="namespaces_list",
        parameters=[NamespaceFilterSerializer, *PAGE_PARAMETERS],
        responses=paginated(NamespaceSerializer),
    )
    def get(self, request):
        filters = NamespaceFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        given = filters.validated_data
        namespaces = alive_namespaces(request)
        if "cluster" in given:
            namespaces = namespaces.filter(cluster__name=given["cluster"])
        if "name" in given:
            namespaces = namespaces.filter(name=given["name"])
        return page_of(request, self, namespaces, NamespaceSerializer)


class NamespaceDetailApi(APIView):
    @extend_schema(
        summary="A namespace with its settings",
        responses={200: NamespaceSerializer, 404: NOT_VISIBLE},
    )
    def get(self, request, pk: int):
        namespace = get_object_or_404(alive_namespaces(request), pk=pk)
        return Response(NamespaceSerializer(namespace, context={"request": request}).data)

    @extend_schema(
        summary="Change a namespace's settings",
        description="Give only the settings to change. Automatic rollback "
        "(`rollback_on_failure`, docs/deployments.md), the deploy policy (docs/policies.md) and "
        "the stages: `next_stage`, `required_approvals`, `production` (docs/stages.md); the "
        "name, cluster and attributes are changed in the admin. Needs the `admin` role on "
        "the namespace or its cluster; a next stage must be a namespace you may see, not this "
        "one, and must not lead back here.",
        request=NamespaceSettingsSerializer,
        responses={
            200: NamespaceSerializer,
            403: error_response(
                "Changing a namespace's settings needs the `admin` role on it (or on its "
                "cluster): `detail` names the namespace and the role you have, or says the "
                "token is read-only or limited to other namespaces."
            ),
            400: error_response(
                "A setting is unknown or its value invalid: `errors` names it, e.g. a next "
                "stage you may not see, this namespace itself, or one whose stages lead back "
                "here (a loop)."
            ),
            404: NOT_VISIBLE,
        },
    )
    def patch(self, request, pk: int):
        namespace = get_object_or_404(alive_namespaces(request), pk=pk)
        access.require(
            request.user,
            Role.ADMIN,
            namespace,
            token=request.auth,
            action=f"Changing the settings of {namespace}",
        )
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError(
                'The body must be a JSON object of settings, like {"rollback_on_failure": true}.'
            )
        given = NamespaceSettingsSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        changes = given.validated_data
        if changes.get("next_stage") is not None:
            refuse_unseen_stage(request, changes["next_stage"])
        if changes:
            with transaction.atomic():
                if changes.get("next_stage") is not None:
                    lock_stage_changes()
                # Locked, so that the "before" of the audit entry is what this change replaced.
                current = Namespace.objects.select_for_update().filter(pk=namespace.pk).first()
                if current is None:
                    raise exceptions.NotFound("This namespace was deleted meanwhile.")
                problem = current.next_stage_problem(changes.get("next_stage"))
                if problem:
                    raise exceptions.ValidationError({"next_stage": [problem]})
                before = audit.snapshot(current, fields=list(changes))
                Namespace.objects.filter(pk=namespace.pk).update(**changes)
                namespace.refresh_from_db()
                after = audit.snapshot(namespace, fields=list(changes))
                if before != after:
                    audit.record("namespace.changed", namespace, changes=audit.diff(before, after))
        return Response(NamespaceSerializer(namespace, context={"request": request}).data)


def refuse_unseen_stage(request, pk: int) -> None:
    """400 unless the person may see the namespace they name as next stage: they would promote
    to it, and the answer must not tell which namespaces exist (as the 404s do not)."""
    target = alive_namespaces(request).filter(pk=pk).first()
    if target is None:
        raise exceptions.ValidationError(
            {
                "next_stage": [
                    f"There is no namespace {pk} that you may see: the next stage must be a "
                    "namespace in use where you hold a role (viewer or more). GET "
                    "/api/namespaces lists them."
                ]
            }
        )


class NamespaceSettingsSchema(OpenApiSerializerExtension):
    """Tells the OpenAPI document what to_internal_value enforces: no other fields."""

    target_class = NamespaceSettingsSerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["additionalProperties"] = False
        return schema
