"""The one place Kubernaut sends HTTP requests to webhook receivers.

Webhook addresses are typed in by people, so a POST must not become a way to reach what sits
inside Kubernaut's network (server-side request forgery): the host is resolved once, every
address it resolves to is checked, and the connection goes to an address that was checked (a
DNS answer that changes between the check and the connection, "DNS rebinding", cannot send it
elsewhere). TLS is still verified against the host name. Redirects are never followed (the
answer is recorded as it is), the connection must open within 5 s and the whole exchange end
within 10 s, and at most 64 KiB of the answer is read.

Every failure is a SendError whose `retryable` says whether trying again can help, or Refused
for an address that may not be reached. Tests and a real receiver on loopback meet the rest of
the code here.
"""

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from urllib.parse import urlsplit

CONNECT_TIMEOUT = 5
TOTAL_TIMEOUT = 10
MAX_ANSWER_BYTES = 64 * 1024
ALLOW_VARIABLE = "KUBERNAUT_WEBHOOK_ALLOW_PRIVATE"


class SendError(Exception):
    """The POST did not get an answer; the message says why in a person's words."""

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


class Refused(Exception):
    """The address may not be reached (it is not a public one); nothing was sent."""


@dataclass
class Answer:
    status: int
    body: bytes  # the first MAX_ANSWER_BYTES at most


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def non_public_kind(address: Address) -> str:
    """What kind of non-public address this is ("loopback", "private" ...), "" for a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        # ::ffff:127.0.0.1 reaches 127.0.0.1; Python 3.11 does not say it is loopback.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return non_public_kind(embedded)
    for kind in ("loopback", "link_local", "unspecified", "multicast", "private", "reserved"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    if not address.is_global:
        return "non-public"  # e.g. 100.64.0.0/10, carrier-grade NAT
    return ""


NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def refusal(host: str, address: Address) -> str:
    kind = non_public_kind(address)
    if not kind:
        return ""
    article = "an" if kind[0] in "aeiou" else "a"
    return (
        f"Not sent: {host} resolves to {address}, {article} {kind} address, and webhooks may "
        f"only reach public addresses. Use a public address, or set {ALLOW_VARIABLE}=true if "
        "Kubernaut is meant to call services inside its own network."
    )


def literal_refusal(host: str) -> str:
    """The refusal for a host written as a non-public IP address, "" otherwise (a name is
    checked only when sending, on the addresses it resolves to then)."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return ""
    return refusal(host, address)


def resolve(host: str, port: int) -> list[Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise SendError(f"The host {host} could not be resolved: {error}") from None
    addresses: list[Address] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise SendError(f"The host {host} resolves to no address.")
    return addresses


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to `address` while speaking HTTP to `host` (the Host header)."""

    def __init__(self, host: str, port: int, address: Address):
        super().__init__(host, port, timeout=CONNECT_TIMEOUT)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self.address), self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As above, with TLS verified against the host name (not the address)."""

    def __init__(self, host: str, port: int, address: Address):
        super().__init__(host, port, timeout=CONNECT_TIMEOUT, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((str(self.address), self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], *, allow_private: bool) -> Answer:
    """POST `body` to `url` and return the answer, whatever its status; raise Refused when the
    host resolves to a non-public address (unless `allow_private`), SendError when no answer
    came."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    addresses = resolve(host, port)
    if not allow_private:
        for address in addresses:
            reason = refusal(host, address)
            if reason:
                raise Refused(reason)

    deadline = time.monotonic() + TOTAL_TIMEOUT
    connection_class = _PinnedHTTPSConnection if secure else _PinnedHTTPConnection
    connection, problems = None, []
    for address in addresses:
        candidate = connection_class(host, port, address)
        try:
            candidate.connect()
        except ssl.SSLError as error:
            candidate.close()
            raise SendError(f"TLS with {host} failed: {error.reason or error}") from None
        except OSError as error:
            candidate.close()
            problems.append(f"{address}: {error.strerror or error}")
            if time.monotonic() >= deadline:
                break
            continue
        connection = candidate
        break
    if connection is None:
        raise SendError(f"Could not connect to {host} port {port} ({'; '.join(problems)}).")

    # One deadline for the whole exchange: a receiver that answers a byte at a time must not
    # hold a worker longer than TOTAL_TIMEOUT. The watchdog shuts the socket down, which wakes
    # a read blocked in this thread.
    timed_out = threading.Event()

    def cut() -> None:
        timed_out.set()
        sock = connection.sock  # None once the exchange ended and closed it
        if sock is not None:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), cut)
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.sock.settimeout(TOTAL_TIMEOUT)
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        answer = Answer(status=response.status, body=response.read(MAX_ANSWER_BYTES))
    except (OSError, http.client.HTTPException) as error:
        # The socket's own timeout may beat the watchdog on a busy machine: the same deadline.
        if timed_out.is_set() or isinstance(error, TimeoutError):
            raise SendError(f"{host} did not answer within {TOTAL_TIMEOUT} s.") from None
        why = str(error) or type(error).__name__
        raise SendError(f"The exchange with {host} failed: {why}") from None
    finally:
        watchdog.cancel()
        connection.close()
    return answer
