"""What every API endpoint shares: errors as JSON sentences, keyset pagination."""

import json
from collections.abc import Callable

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from teams import access


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


class Locked(exceptions.APIException):
    """423 for a deployment to a locked target (locks/): the refusal as `detail`, the lock that
    holds it as `lock`."""

    status_code = status.HTTP_423_LOCKED
    default_detail = "The target is locked."
    default_code = "locked"

    def __init__(self, sentence: str, lock: dict):
        super().__init__(sentence)
        self.lock = lock


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
        # ASCII digits only and short: "²" is a digit to str.isdigit(), and int() refuses
        # more than 4300 digits; both used to fail here with a 500.
        whole = raw.isascii() and raw.isdigit() and len(raw) <= 6
        if not whole or not 1 <= int(raw) <= self.max_page_size:
            raise exceptions.ValidationError(
                {"limit": [f"limit must be a whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def decode_cursor(self, request):
        invalid = exceptions.ValidationError(
            {"cursor": ["This cursor is not valid: use the next or previous link as given."]}
        )
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            raise invalid from None
        # DRF checks the cursor's offset but passes its position (the last row's id) to the
        # query as it is; a hand-made one (`p=2026-01-01`) failed there with a 500.
        position = cursor.position if cursor else None
        if position is not None and not (
            position.isascii()
            and position.isdigit()
            and len(position) <= 19
            and int(position) < 2**63
        ):
            raise invalid
        return cursor

    def paginate_rows(self, request, fetch: Callable[..., list[dict]]) -> list[dict]:
        """paginate_queryset's walk, for rows a hand-written query fetches:
        `fetch(position=, reverse=, offset=, limit=)` returns dicts with "id", newest first
        below `position`, or oldest first above it when `reverse`. The links are DRF's own."""
        self.request = request
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        self.ordering = (type(self).ordering,)
        self.cursor = self.decode_cursor(request)
        offset, reverse, position = self.cursor or (0, False, None)
        position = None if position is None else int(position)
        results = fetch(position=position, reverse=reverse, offset=offset, limit=self.page_size + 1)
        self.page = results[: self.page_size]
        following = results[-1]["id"] if len(results) > len(self.page) else None
        if reverse:
            self.page.reverse()
            self.has_next = position is not None or offset > 0
            self.has_previous = following is not None
            self.next_position, self.previous_position = position, following
        else:
            self.has_next = following is not None
            self.has_previous = position is not None or offset > 0
            self.next_position, self.previous_position = following, position
        return self.page


def api_base_url(context: dict) -> str:
    """`http://host/api/`, worked out once per response: a list has many rows to link."""
    if "api_base_url" not in context:
        context["api_base_url"] = context["request"].build_absolute_uri("/api/")
    return context["api_base_url"]


# The query parameters every list takes, for the OpenAPI document.
PAGE_PARAMETERS = [
    OpenApiParameter("cursor", str, description="From a `next`/`previous` link"),
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": NewestFirstPagination.max_page_size},
        description="Page size, 1-500 (default 50)",
    ),
]
PAGE_PARAMETER_NAMES = {parameter.name for parameter in PAGE_PARAMETERS}


def paginated(serializer_class: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The OpenAPI shape of a page of `serializer_class` rows, as page_of_rows answers it."""
    name = serializer_class.__name__.removesuffix("Serializer")
    return type(
        f"Paginated{name}ListSerializer",
        (serializers.Serializer,),
        {
            "__doc__": "One page, newest first; follow `next` for older rows.",
            "next": serializers.URLField(allow_null=True, help_text="The next (older) page"),
            "previous": serializers.URLField(allow_null=True, help_text="The previous page"),
            "results": serializer_class(many=True),
        },
    )


class QueryParameters(serializers.Serializer):
    """Query-string filters. An empty one (`?service=`) is refused: DRF would skip it quietly and
    list everything, which an unset variable in a CI script would never notice (and the schema
    says each value has at least one character)."""

    def to_internal_value(self, data):
        blank = [name for name in self.fields if data.get(name) == ""]
        if blank:
            raise exceptions.ValidationError(
                {name: ["Give a value, or leave the parameter out."] for name in blank}
            )
        return super().to_internal_value(data)


class ErrorSerializer(serializers.Serializer):
    """Every error: a sentence saying what to do, and for invalid input the fields at fault."""

    detail = serializers.CharField()
    errors = serializers.DictField(
        required=False, help_text="For invalid input: the messages by field"
    )


def page_of_rows(request, view, rows, to_json: Callable[[list[dict], str], list[dict]]) -> Response:
    """One newest-first page of `rows` (a .values() queryset), turned into JSON by `to_json`."""
    paginator = NewestFirstPagination()
    page = paginator.paginate_queryset(rows, request, view=view)
    base_url = api_base_url({"request": request})
    return paginator.get_paginated_response(to_json(page, base_url))


def page_of_json_rows(request, fetch: Callable[..., list[dict]]) -> HttpResponse:
    """page_of_rows for rows that a hand-written query fetches with their JSON text already
    written by PostgreSQL (dicts with "id" and "json"; NewestFirstPagination.paginate_rows says
    how `fetch` is called): the page is joined, not decoded and encoded again. For the busiest
    lists, where building rows in Python was most of the request (docs/performance.md)."""
    paginator = NewestFirstPagination()
    page = paginator.paginate_rows(request, fetch)
    next_link = json.dumps(paginator.get_next_link())
    previous_link = json.dumps(paginator.get_previous_link())
    results = ",".join(row["json"] for row in page)
    body = f'{{"next":{next_link},"previous":{previous_link},"results":[{results}]}}'
    return HttpResponse(body, content_type="application/json")


def iso_time_sql(column: str) -> str:
    """SQL writing a timestamptz column as iso_time writes it in Python (seconds, then
    microseconds unless they are 0, in UTC as Z), for JSON that PostgreSQL builds."""
    written = f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    return f"replace({written}, '.000000Z', 'Z')"


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
    if isinstance(exc, access.Forbidden):
        exc = exceptions.PermissionDenied(str(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        lines = _sentence(response.data)
        # `errors` is always keyed by field; an error about the whole body (raised with a
        # plain sentence) goes where DRF puts object-level errors.
        errors = (
            response.data
            if isinstance(response.data, dict)
            else {"non_field_errors": response.data}
        )
        response.data = {"detail": "Invalid request: " + "; ".join(lines), "errors": errors}
        if isinstance(exc, PolicyViolation):
            response.data["detail"] = exc.sentence
            response.data["violations"] = exc.violations
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": str(response.data["detail"])}
        if isinstance(exc, Locked):
            response.data["lock"] = exc.lock
    return response


@csrf_exempt  # it changes nothing, so a POST with a session cookie gets this 404, not CSRF's 403
def api_not_found(request, exception=None):
    return JsonResponse(
        {"detail": f"There is no API endpoint at {request.path}; see /api/docs/ for the list."},
        status=404,
    )
