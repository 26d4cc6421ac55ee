"""The locks API: lock a namespace (or one service in it), list the locks, unlock."""

from django.db.models import Q
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from kubernaut.api import PAGE_PARAMETERS, Conflict, page_of_rows, paginated
from kubernaut.parsers import JSONParser
from kubernaut.schema import error_response
from locks import services
from locks.models import Lock
from locks.serializers import (
    BODY_EXAMPLE,
    LockFilterSerializer,
    LockInputSerializer,
    LockSerializer,
)
from teams import access

# Roles, not model permissions, decide here (teams/access.py): a deployer of the namespace locks
# and unlocks it, whoever can see it reads its locks. So no `permission_model`.


class LockListApi(APIView):
    parser_classes = [JSONParser]  # a lock is a small JSON object; no forms to support

    @extend_schema(
        summary="List the active locks, newest first",
        description="Locks of the namespaces you can see (viewer or more) that block now: not "
        "unlocked and not past their `until`. `service` lists what holds that service: its own "
        "locks and those of whole namespaces.",
        operation_id="locks_list",
        parameters=[LockFilterSerializer, *PAGE_PARAMETERS],
        responses=paginated(LockSerializer),
    )
    def get(self, request):
        filters = LockFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        given = filters.validated_data
        visible = access.visible_namespaces(request.user, token=request.auth)
        locks = (
            Lock.objects.active()
            .filter(namespace__in=visible, namespace__cluster__deleted_at__isnull=True)
            .select_related(*services.RELATED)
        )
        if "cluster" in given:
            locks = locks.filter(namespace__cluster__name=given["cluster"])
        if "namespace" in given:
            locks = locks.filter(namespace__name=given["namespace"])
        if "service" in given:
            locks = locks.filter(Q(service__isnull=True) | Q(service__name=given["service"]))
        return page_of_rows(
            request,
            self,
            locks,
            lambda page, _: LockSerializer(page, many=True, context={"request": request}).data,
        )

    @extend_schema(
        summary="Lock a namespace, or one service in it",
        description="Deployments there are then refused with 423 until the lock is deleted or "
        "its `until` passes; an admin of the namespace may deploy anyway with `override_lock` "
        "(docs/locks.md). Needs the deployer role on the namespace.",
        request=LockInputSerializer,
        responses={
            201: LockSerializer,
            404: error_response("There is no such cluster, namespace or service."),
            409: error_response(
                "The target is locked already; `detail` names that lock (unlock it first)."
            ),
        },
    )
    def post(self, request):
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError(
                f"The body must be a JSON object, like {BODY_EXAMPLE}."
            )
        given = LockInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            namespace = services.find_namespace(data["cluster"], data["namespace"])
            service = services.find_service(data["service"]) if data.get("service") else None
            lock = services.create_lock(
                namespace=namespace,
                service=service,
                reason=data["reason"],
                until=data.get("until"),
                user=request.user,
                token=request.auth,
            )
        except services.NotFound as error:
            raise exceptions.NotFound(str(error)) from None
        except services.LockExists as error:
            raise Conflict(str(error)) from None
        except ValueError as error:
            raise exceptions.ValidationError(str(error)) from None
        body = LockSerializer(lock, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})


class LockDetailApi(APIView):
    @extend_schema(
        summary="A lock (404 once unlocked)",
        responses={200: LockSerializer},
    )
    def get(self, request, pk: int):
        lock = visible_lock(request, pk)
        return Response(LockSerializer(lock, context={"request": request}).data)

    @extend_schema(
        summary="Unlock: delete a lock",
        description="Deployments there are allowed again at once. The lock's row is kept "
        "(soft delete) for the record. Needs the deployer role on the namespace.",
        responses={204: OpenApiResponse(description="Unlocked.")},
    )
    def delete(self, request, pk: int):
        lock = visible_lock(request, pk)
        try:
            services.delete_lock(lock, user=request.user, token=request.auth)
        except services.NotFound as error:
            raise exceptions.NotFound(str(error)) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class LockInputSchema(OpenApiSerializerExtension):
    """Tells the OpenAPI document what to_internal_value enforces: no other fields."""

    target_class = LockInputSerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["additionalProperties"] = False
        return schema


def visible_lock(request, pk: int) -> Lock:
    """The lock, if the user can see its namespace; 404 alike for missing and hidden ones (a
    lock's reason is for the people of its namespace)."""
    try:
        lock = services.find_lock(pk)
    except services.NotFound as error:
        raise exceptions.NotFound(str(error)) from None
    visible = access.visible_namespaces(request.user, token=request.auth)
    if not visible.filter(pk=lock.namespace_id).exists():
        raise exceptions.NotFound(f"There is no lock #{pk}, or it was unlocked already.")
    return lock
