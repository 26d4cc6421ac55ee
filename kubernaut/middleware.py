"""Refuse requests no view could answer: oversized bodies, NUL characters in the address."""

from django.conf import settings
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.template.loader import render_to_string


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
