"""What every API endpoint shares: errors as JSON sentences, keyset pagination."""

from collections.abc import Callable

from django.http import JsonResponse
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request is too large."
    default_code = "too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class PolicyViolation(exceptions.ValidationError):
    """400 for a manifest the target namespace's deploy policy refuses: the usual shape, with the
    refusal as `detail` and `violations` listing each one's object, field, rule and message."""

    def __init__(self, sentence: str, violations: list[dict[str, str]]):
        super().__init__({"manifest": [violation["message"] for violation in violations]})
        self.sentence = sentence
        self.violations = violations


class NewestFirstPagination(CursorPagination):
    """Keyset pagination on id, newest first: page N costs the same as page 1 at any table size."""

    ordering = "-id"
    page_size = 50
    max_page_size = 500
    page_size_query_param = "limit"

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise exceptions.ValidationError(
                {"limit": [f"limit must be a whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError(
                {"cursor": ["This cursor is not valid: use the next or previous link as given."]}
            ) from None


def api_base_url(context: dict) -> str:
    """`http://host/api/`, worked out once per response: a list has many rows to link."""
    if "api_base_url" not in context:
        context["api_base_url"] = context["request"].build_absolute_uri("/api/")
    return context["api_base_url"]


# The query parameters every list takes, for the OpenAPI document.
PAGE_PARAMETERS = [
    OpenApiParameter("cursor", str, description="From a `next`/`previous` link"),
    OpenApiParameter("limit", int, description="Page size, 1-500 (default 50)"),
]


def page_of_rows(request, view, rows, to_json: Callable[[list[dict], str], list[dict]]) -> Response:
    """One newest-first page of `rows` (a .values() queryset), turned into JSON by `to_json`."""
    paginator = NewestFirstPagination()
    page = paginator.paginate_queryset(rows, request, view=view)
    base_url = api_base_url({"request": request})
    return paginator.get_paginated_response(to_json(page, base_url))


def iso_time(value) -> str | None:
    """A datetime as DRF renders it (ISO 8601, UTC as Z), for rows built without a serializer."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _sentence(errors, prefix: str = "") -> list[str]:
    """Flatten DRF's nested validation errors into 'field: message' strings."""
    if isinstance(errors, dict):
        lines = []
        for field, value in errors.items():
            name = field if field != "non_field_errors" else ""
            lines += _sentence(value, f"{prefix}.{name}" if prefix and name else prefix or name)
        return lines
    if isinstance(errors, list):
        return [line for item in errors for line in _sentence(item, prefix)]
    return [f"{prefix}: {errors}" if prefix else str(errors)]


def exception_handler(exc, context):
    """Errors as `{"detail": "<a sentence>", "errors": {...}}` with the right status code."""
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        lines = _sentence(response.data)
        response.data = {
            "detail": "Invalid request: " + "; ".join(lines),
            "errors": response.data,
        }
        if isinstance(exc, PolicyViolation):
            response.data["detail"] = exc.sentence
            response.data["violations"] = exc.violations
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": str(response.data["detail"])}
    return response


def api_not_found(request, exception=None):
    return JsonResponse(
        {"detail": f"There is no API endpoint at {request.path}; see /api/docs/ for the list."},
        status=404,
    )
