"""The OpenAPI document's shared error responses (a drf-spectacular postprocessing hook).

Every endpoint answers errors in one shape, `{"detail": "<sentence>", "errors": {...}}`, for
reasons shared by all of them: no credentials (401), a missing role or permission (403), a malformed
request (400: a bad parameter, a NUL character, a hand-made cursor), a missing object (404),
a body over the size limit (413), and gunicorn's 414 for an overlong address. Adding them here
keeps every operation's list of answers true without repeating it on each view; a view adds its
own (409 on a duplicate release) with `error_response()`.
"""

from drf_spectacular.utils import OpenApiResponse

from kubernaut.api import ErrorSerializer

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "type": "object",
    "description": ErrorSerializer.__doc__,
    "properties": {
        "detail": {"type": "string"},
        "errors": {
            "type": "object",
            "additionalProperties": {},
            "description": "For invalid input: the messages by field",
        },
    },
    "required": ["detail"],
}

SHARED = {
    "400": "The request is invalid: `detail` says what to fix, `errors` names the fields.",
    "401": "No credentials, or a token that is unknown, revoked or expired.",
    "403": "You may not do this: `detail` names what would allow it, the role (`viewer`, "
    "`deployer` or `admin`) and the namespace for deployments and namespaces (docs/teams.md), "
    "the permission for releases, or what your API token's scope (namespaces, services, "
    "read-only) is limited to.",
}
WITH_PATH_PARAMETERS = {"404": "There is no such object, or it was deleted."}
WITH_BODY = {
    "413": "The body (or the template in it) is over the size limit.",
}


# gunicorn refuses a request line over 4094 bytes (a very long query string) before Django sees
# it, with an HTML page; any operation can get it.
URI_TOO_LONG = {
    "description": "The address is longer than the server reads (4094 bytes for the request "
    "line): send fewer or shorter parameters.",
    "content": {"text/html": {"schema": {"type": "string"}}},
}


def error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ErrorSerializer, description=description)


def add_error_responses(result: dict, generator, request, public) -> dict:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            statuses = dict(SHARED)
            if "{" in path:
                statuses |= WITH_PATH_PARAMETERS
            if "requestBody" in operation:
                statuses |= WITH_BODY
            responses = operation.setdefault("responses", {})
            responses.setdefault("414", URI_TOO_LONG)
            for status, description in statuses.items():
                responses.setdefault(
                    status,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": ERROR_REF}},
                    },
                )
    return result
