"""Refuse oversized request bodies before anything reads them."""

from django.conf import settings
from django.http import HttpResponse, JsonResponse


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
