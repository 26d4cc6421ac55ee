"""Who is acting, through which door: set once per request, job or command, read by `record`.

A context variable rather than an argument threaded through every service: the audit trail must
know the client IP and the token name of a change made ten calls deep, and forgetting to pass
them along must not be possible.
"""

import getpass
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace


class Door:
    """How a change came in."""

    WEB = "web"
    API = "api"
    ADMIN = "admin"
    COMMAND = "command"
    WORKER = "worker"


@dataclass(frozen=True)
class Actor:
    # A User (possibly the request's lazy one, or anonymous), or None for the system itself
    # (workers, schedules); audit.services.record keeps only an authenticated one.
    user: object = None
    door: str = Door.WORKER
    token_name: str = ""
    ip: str | None = None
    # Who acted when there is no user: the operating-system account that ran a command.
    name: str = ""


SYSTEM = Actor()  # frozen: safe to share as the default
_current: ContextVar[Actor] = ContextVar("audit_actor", default=SYSTEM)


def current() -> Actor:
    return _current.get()


def set_current(actor: Actor) -> None:
    _current.set(actor)


def update(**changes) -> None:
    """Refine the current actor, e.g. once DRF has authenticated a token."""
    _current.set(replace(_current.get(), **changes))


@contextmanager
def acting_as(actor: Actor):
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


def client_ip(request) -> str | None:
    """The client's address. Behind a proxy, set KUBERNAUT_TRUSTED_PROXY_HEADER (not done by
    default: a client could forge X-Forwarded-For)."""
    return request.META.get("REMOTE_ADDR") or None


class AuditContextMiddleware:
    """Start each request as an anonymous actor at its door and IP; the user is filled in when
    known (session users here, token users by accounts.authentication)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        door = Door.ADMIN if request.path.startswith("/admin/") else Door.WEB
        if request.path.startswith("/api/"):
            door = Door.API
        # request.user stays lazy: most requests change nothing, and looking the user up here
        # would put the session query in front of every view (and of its error handling).
        user = getattr(request, "user", None)
        with acting_as(Actor(user=user, door=door, ip=client_ip(request))):
            return self.get_response(request)


def command_actor() -> Actor:
    """A management command, run by whoever has a shell on the server: no Kubernaut user, but
    the operating-system account is worth writing down."""
    try:
        account = getpass.getuser()
    except (KeyError, OSError):  # no name for the uid, e.g. an arbitrary uid in a container
        account = ""
    return Actor(door=Door.COMMAND, name=f"{account} (shell)" if account else "")
