"""The releases API: CI registers releases; people and scripts list, read and delete them."""

import functools

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from kubernaut.api import (
    PAGE_PARAMETER_NAMES,
    PAGE_PARAMETERS,
    Conflict,
    api_base_url,
    page_of_json_rows,
    paginated,
)
from kubernaut.schema import error_response
from releases import compare as comparing
from releases import selectors, services
from releases.models import Release, service_name_validator, version_validator
from releases.serializers import (
    MAX_ATTRIBUTE_VALUE_CHARS,
    MAX_ATTRIBUTES,
    ReleaseDetailSerializer,
    ReleaseDiffSerializer,
    ReleaseFilterSerializer,
    ReleaseInputSerializer,
    ReleaseSerializer,
)
from releases.templating import TemplateProblem

FORM_FIELDS = {"service", "version", "template", "comment"}

# The form is flat: the JSON body's fields, with every other field an attribute.
_json_fields = ReleaseInputSerializer().fields
RELEASE_FORM_SCHEMA = {
    "type": "object",
    "properties": {
        "service": {"type": "string", "pattern": service_name_validator.regex.pattern},
        "version": {"type": "string", "pattern": version_validator.regex.pattern},
        "template": {
            "type": "string",
            "format": "binary",
            "description": "The manifest template (UTF-8), as a file or a field",
        },
        "comment": {"type": "string", "maxLength": _json_fields["comment"].max_length},
    },
    "required": ["service", "version", "template"],
    "additionalProperties": {"type": "string", "maxLength": MAX_ATTRIBUTE_VALUE_CHARS},
    "maxProperties": len(FORM_FIELDS) + MAX_ATTRIBUTES,
}


def release_input_from_form(request) -> dict:
    """The kubernaut CLI's multipart form: a `template` file; unnamed fields are attributes."""
    data = {"attributes": {}}
    for name in request.data:
        values = request.data.getlist(name)
        if name in request.FILES:
            continue
        if len(values) > 1:
            raise ValidationError({name: ["Give this field once."]})
        if name in FORM_FIELDS:
            data[name] = values[0]
        else:
            data["attributes"][name] = values[0]
    for name, upload in request.FILES.items():
        if name != "template":
            raise ValidationError({name: ["Only the template can be sent as a file."]})
        try:
            data["template"] = upload.read().decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError({"template": ["The template file must be UTF-8 text."]}) from None
    return data


class ReleaseListApi(APIView):
    permission_model = Release

    @extend_schema(
        summary="List releases, newest first",
        operation_id="releases_list",
        parameters=[ReleaseFilterSerializer, *PAGE_PARAMETERS],
        responses=paginated(ReleaseSerializer),
    )
    def get(self, request):
        given = {}
        if request.query_params.keys() - PAGE_PARAMETER_NAMES:
            filters = ReleaseFilterSerializer(data=request.query_params)
            filters.is_valid(raise_exception=True)
            given = filters.validated_data
        fetch = functools.partial(selectors.release_page, api_base_url({"request": request}), given)
        return page_of_json_rows(request, fetch)

    @extend_schema(
        summary="Register a release",
        description=(
            "JSON, or a multipart form as the kubernaut CLI sends it: a `template` file, the "
            "fields `service`, `version` and `comment`, and every other field as an attribute."
        ),
        request={
            "application/json": ReleaseInputSerializer,
            "multipart/form-data": RELEASE_FORM_SCHEMA,
        },
        responses={
            201: ReleaseDetailSerializer,
            409: error_response("This version of the service is already registered."),
        },
    )
    def post(self, request):
        if request.content_type.startswith(("multipart/form-data", "application/x-www-form")):
            data = release_input_from_form(request)
        elif isinstance(request.data, dict):
            data = request.data
        else:
            raise ValidationError(
                "The body must be a JSON object with service, version and template."
            )
        given = ReleaseInputSerializer(data=data)
        given.is_valid(raise_exception=True)
        try:
            release = services.create_release(
                **given.validated_data, user=request.user, token=request.auth
            )
        except TemplateProblem as problem:
            raise ValidationError({"template": [str(problem)]}) from None
        except services.ReleaseConflict as conflict:
            raise Conflict(str(conflict)) from None
        output = ReleaseDetailSerializer(release, context={"request": request})
        location = request.build_absolute_uri(reverse("release-detail", args=[release.pk]))
        return Response(output.data, status=status.HTTP_201_CREATED, headers={"Location": location})


class ReleaseDetailApi(APIView):
    permission_model = Release

    def get_release(self, pk: int) -> Release:
        return get_object_or_404(Release.objects.select_related("service", "created_by"), pk=pk)

    @extend_schema(summary="Get a release with its template", responses=ReleaseDetailSerializer)
    def get(self, request, pk: int):
        # Written by PostgreSQL like the list's rows; ReleaseDetailSerializer documents the shape.
        body = selectors.release_detail(api_base_url({"request": request}), pk)
        if body is None:
            raise NotFound(f"There is no release #{pk}; it may have been deleted.")
        return HttpResponse(body, content_type="application/json")

    @extend_schema(summary="Delete a release (soft: the record stays)", responses={204: None})
    def delete(self, request, pk: int):
        release = self.get_release(pk)
        services.require_token_covers(request.auth, release.service.name)
        if not release.soft_delete(by=request.user):
            raise NotFound("This release was deleted meanwhile by another request.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReleaseDiffApi(APIView):
    permission_model = Release

    @extend_schema(
        summary="Compare a release with another release of its service",
        description=(
            "What deploying this release where `against` runs would change: the template's "
            "unified diff, the attributes added, removed and changed (secret-looking values "
            "as `********`), and the releases registered in between, the way Shipit lists the "
            "commits being shipped. The deploy page links this comparison with what is live."
        ),
        parameters=[
            OpenApiParameter(
                "against",
                {"type": "integer", "minimum": 1},
                required=True,
                description="The id of the release to compare with (the one live, usually)",
            )
        ],
        responses={
            200: ReleaseDiffSerializer,
            400: error_response(
                "`against` is missing or not a release id, or names a release of another service."
            ),
            401: error_response("No credentials, or a token that is unknown, revoked or expired."),
            403: error_response("Your account lacks the permission releases.view_release."),
            404: error_response(
                "There is no such release (or `against` release), or it was deleted."
            ),
        },
    )
    def get(self, request, pk: int):
        release = Release.objects.select_related("service", "created_by").filter(pk=pk).first()
        if release is None:
            raise NotFound(f"There is no release #{pk}; it may have been deleted.")
        try:
            against_pk = comparing.against_id(request.query_params.get("against"))
        except ValueError as problem:
            raise ValidationError({"against": [str(problem)]}) from None
        against = (
            Release.objects.select_related("service", "created_by").filter(pk=against_pk).first()
        )
        if against is None:
            raise NotFound(comparing.unknown_against(against_pk))
        try:
            comparison = comparing.compare(release, against)
        except comparing.Incomparable as problem:
            raise ValidationError({"against": [str(problem)]}) from None
        return Response(ReleaseDiffSerializer(comparison).data)
