"""A small JSON client for Kubernaut's API, on urllib: one error type with a one-line message."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

# Exit codes for errors before or around a request; a deployment's own outcome has its own.
EXIT_REFUSED = 2  # the server understood and said no: invalid input, unknown name, conflict
EXIT_UNREACHABLE = 3  # no answer, or not Kubernaut's answer (5xx, HTML from a proxy)
EXIT_AUTH = 4  # bad or missing token (401), or the token's user lacks a permission (403)
EXIT_LOCKED = 5  # the target is locked (423): wait for the unlock, or have an admin override

USER_AGENT = "kubernaut-cli/1"


class ApiError(Exception):
    """A request did not work. `str()` is one line a person can act on; `exit_code` is for CI."""

    def __init__(self, message: str, exit_code: int, status: int | None = None):
        super().__init__(message)
        self.exit_code = exit_code
        self.status = status


class Client:
    """Talks to one Kubernaut server with one API token."""

    def __init__(self, url: str, token: str, timeout: float = 30.0):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ApiError(
                f"KUBERNAUT_URL must be an http:// or https:// address, not {url!r}",
                EXIT_REFUSED,
            )
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def get(self, path: str, **query: Any) -> Any:
        given = {name: value for name, value in query.items() if value not in (None, "")}
        if given:
            path += ("&" if "?" in path else "?") + urllib.parse.urlencode(given)
        return self.request("GET", path)

    def post(self, path: str, body: dict) -> Any:
        return self.request("POST", path, body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def request(self, method: str, path: str, body: dict | None = None) -> Any:
        # `next` links of list pages are absolute; everything else is relative to the server.
        address = path if path.startswith(("http://", "https://")) else self.url + path
        headers = {
            "Authorization": f"Token {self.token}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(address, data=data, method=method, headers=headers)  # noqa: S310 - checked scheme
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            raise self._error_from(error) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ApiError(
                f"cannot reach Kubernaut at {self.url}: {reason}", EXIT_UNREACHABLE
            ) from None
        except ValueError:
            raise ApiError(
                f"{self.url} did not answer with JSON: is KUBERNAUT_URL Kubernaut's address?",
                EXIT_UNREACHABLE,
            ) from None

    def _error_from(self, error: urllib.error.HTTPError) -> ApiError:
        try:
            body = json.loads(error.read() or b"{}")
            detail = body.get("detail") if isinstance(body, dict) else None
        except (ValueError, OSError):
            detail = None
        status = error.code
        if status == 401:
            message = detail or "the server did not accept the token"
            return ApiError(f"{message} (check KUBERNAUT_TOKEN or --token)", EXIT_AUTH, status)
        if status == 403:
            return ApiError(detail or "permission denied", EXIT_AUTH, status)
        if status == 423:
            return ApiError(detail or "the target is locked", EXIT_LOCKED, status)
        if detail and status < 500:
            return ApiError(str(detail), EXIT_REFUSED, status)
        if not detail and status == 404:
            return ApiError(
                f"{self.url} has no Kubernaut API (404): is KUBERNAUT_URL Kubernaut's address?",
                EXIT_UNREACHABLE,
                status,
            )
        return ApiError(
            f"Kubernaut at {self.url} answered {status} {error.reason}"
            + (f": {detail}" if detail else ""),
            EXIT_UNREACHABLE if status >= 500 or not detail else EXIT_REFUSED,
            status,
        )
