"""The continuous delivery API: turn it on for a service in a namespace, list, turn off, resume."""

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from delivery import services
from delivery.models import AutoDeploy
from delivery.serializers import (
    BODY_EXAMPLE,
    AutoDeployFilterSerializer,
    AutoDeployInputSerializer,
    AutoDeploySerializer,
)
from deployments import services as deployments
from kubernaut.api import PAGE_PARAMETERS, Conflict, page_of_rows, paginated
from kubernaut.parsers import JSONParser
from kubernaut.schema import error_response
from teams import access

# Roles decide (teams/access.py): whoever may deploy the service to the namespace turns
# continuous delivery of it there on, off, or resumes it; whoever sees the namespace reads it.

NOT_VISIBLE = error_response(
    "There is no such auto-deploy, it was turned off, or you have no role on its namespace."
)
MAY_NOT = error_response(
    "You may not deploy this service to this namespace (`detail` names the role needed), or "
    "your API token is read-only or limited to other namespaces or services."
)


class AutoDeployListApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="List continuous delivery targets, newest first",
        description="The auto-deploys in namespaces you can see (viewer or more), paused or not.",
        operation_id="auto_deploys_list",
        parameters=[AutoDeployFilterSerializer, *PAGE_PARAMETERS],
        responses=paginated(AutoDeploySerializer),
    )
    def get(self, request):
        filters = AutoDeployFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        given = filters.validated_data
        visible = access.visible_namespaces(request.user, token=request.auth)
        autos = AutoDeploy.objects.filter(
            namespace__in=visible, namespace__cluster__deleted_at__isnull=True
        ).select_related(*services.RELATED)
        if "service" in given:
            autos = autos.filter(service__name=given["service"])
        if "cluster" in given:
            autos = autos.filter(namespace__cluster__name=given["cluster"])
        if "namespace" in given:
            autos = autos.filter(namespace__name=given["namespace"])
        return page_of_rows(
            request,
            self,
            autos,
            lambda page, _: (
                AutoDeploySerializer(page, many=True, context={"request": request}).data
            ),
        )

    @extend_schema(
        summary="Turn continuous delivery on for a service in a namespace",
        description="Every release of the service registered from now on is deployed there at "
        "once by the system user, respecting locks and approvals. A deployment there that "
        "fails, or a rollback, pauses it until someone resumes it (docs/continuous-delivery.md)."
        " Needs the right to deploy the service there.",
        request=AutoDeployInputSerializer,
        responses={
            201: AutoDeploySerializer,
            400: error_response(
                "The body is invalid, or there is no such service, cluster or namespace: "
                "`detail` says which."
            ),
            403: MAY_NOT,
            409: error_response(
                "Continuous delivery of this service to this namespace is on already; `detail` "
                "names the auto-deploy."
            ),
        },
    )
    def post(self, request):
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError(
                f"The body must be a JSON object, like {BODY_EXAMPLE}."
            )
        given = AutoDeployInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            service = services.find_service(data["service"])
        except services.NotFound as error:
            raise exceptions.ValidationError({"service": [str(error)]}) from None
        try:
            namespace = deployments.find_namespace(data["cluster"], data["namespace"])
        except deployments.NotFound as error:
            raise exceptions.ValidationError({"namespace": [str(error)]}) from None
        try:
            auto = services.create_auto_deploy(
                service=service, namespace=namespace, user=request.user, token=request.auth
            )
        except services.AlreadyOn as error:
            raise Conflict(str(error)) from None
        body = AutoDeploySerializer(auto, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})


class AutoDeployDetailApi(APIView):
    @extend_schema(
        summary="An auto-deploy (404 once turned off)",
        responses={200: AutoDeploySerializer, 404: NOT_VISIBLE},
    )
    def get(self, request, pk: int):
        auto = visible_auto_deploy(request, pk)
        return Response(AutoDeploySerializer(auto, context={"request": request}).data)

    @extend_schema(
        summary="Turn continuous delivery off",
        description="New releases are no longer deployed there. The row is kept (soft delete) "
        "for the record. Needs the right to deploy the service there.",
        responses={
            204: OpenApiResponse(description="Turned off."),
            403: MAY_NOT,
            404: NOT_VISIBLE,
        },
    )
    def delete(self, request, pk: int):
        auto = visible_auto_deploy(request, pk)
        try:
            services.delete_auto_deploy(auto, user=request.user, token=request.auth)
        except services.NotFound as error:
            raise exceptions.NotFound(str(error)) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class AutoDeployResumeApi(APIView):
    @extend_schema(
        summary="Resume continuous delivery after a pause",
        description="The next release registered is deployed again (resuming deploys nothing "
        "by itself). Needs the right to deploy the service there.",
        request=None,
        responses={
            200: AutoDeploySerializer,
            403: MAY_NOT,
            404: NOT_VISIBLE,
            409: error_response("It is not paused: there is nothing to resume."),
        },
    )
    def post(self, request, pk: int):
        auto = visible_auto_deploy(request, pk)
        try:
            services.resume_auto_deploy(auto, user=request.user, token=request.auth)
        except services.NotPaused as error:
            raise Conflict(str(error)) from None
        auto = services.find_auto_deploy(pk)
        return Response(AutoDeploySerializer(auto, context={"request": request}).data)


class AutoDeployInputSchema(OpenApiSerializerExtension):
    """Tells the OpenAPI document what to_internal_value enforces: no other fields."""

    target_class = AutoDeployInputSerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["additionalProperties"] = False
        return schema


def visible_auto_deploy(request, pk: int) -> AutoDeploy:
    """The auto-deploy, if the user can see its namespace; 404 alike for missing and hidden."""
    try:
        auto = services.find_auto_deploy(pk)
    except services.NotFound as error:
        raise exceptions.NotFound(str(error)) from None
    if not access.may_view(request.user, auto.namespace, token=request.auth):
        raise exceptions.NotFound(f"There is no auto-deploy #{pk}, or it was turned off.")
    return auto
