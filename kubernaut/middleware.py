"""Middleware: refuse requests no view could answer (oversized bodies, NUL characters in the
address) and answer 503 while the database is away."""

import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)


class RequestSizeLimitMiddleware:
    """413 for a body over DATA_UPLOAD_MAX_MEMORY_SIZE.

    Django checks that limit for form fields only; uploaded files and JSON bodies that DRF
    streams would otherwise be read whatever their size.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            message = f"The request body is {length} bytes; the limit is {limit} bytes."
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=413)
            return HttpResponse(message, status=413, content_type="text/plain")
        return self.get_response(request)


# How long clients are told to wait before trying again while the database is unavailable.
RETRY_AFTER_SECONDS = 5


class DatabaseUnavailableMiddleware:
    """While PostgreSQL cannot be reached (a restart, a failover), answer 503 with Retry-After.

    API clients get JSON with a sentence; pages get a short page that needs no database. A write
    interrupted by the outage was inside a transaction, so nothing is half-written. Only when the
    connection breaks during COMMIT itself is the outcome unknown to us too: the row may be
    stored, and repeating a release POST then answers 409 (bench/outage_bench.py counts these).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.warning("database unavailable for %s %s: %s", request.method, request.path,
                       type(exception).__name__)  # fmt: skip
        message = (
            f"The database is unavailable right now; try again in {RETRY_AFTER_SECONDS} seconds."
        )
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": message}, status=503)
        else:
            response = HttpResponse(render_to_string("503.html", {"message": message}), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


class RefuseNulMiddleware:
    """400 for a NUL character in the path, the query string or a cookie, for every URL.

    PostgreSQL's text and jsonb cannot hold NUL (U+0000): a filter, a search or a path segment
    carrying one reached a query and failed there with a 500. Refusing it once, here, covers the
    pages, the admin's search and the API alike. Bodies are checked by the API's parsers
    (kubernaut/parsers.py) and by Django's form fields.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        where = self.nul_in(request)
        if where is None:
            return self.get_response(request)
        message = (
            f"The {where} contains a NUL character (%00), which Kubernaut cannot store or search "
            "for: remove it and try again."
        )
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": message}, status=400)
        # Rendered without the request: the page must not look up the session the cookie names.
        page = render_to_string("400.html", {"message": message})
        return HttpResponseBadRequest(page)

    @staticmethod
    def nul_in(request) -> str | None:
        if "\x00" in request.path:
            return "address"
        query = request.GET
        if any(
            "\x00" in name or "\x00" in value for name in query for value in query.getlist(name)
        ):
            return "query string"
        if any("\x00" in name or "\x00" in value for name, value in request.COOKIES.items()):
            return "cookie header"
        return None
