"""A real HTTP receiver for webhook tests: listens on 127.0.0.1 in a thread, checks each POST's
signature as a receiver would (its own code, not Kubernaut's), and answers with the statuses
it is told to, then 200."""

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sandbox.testing import wait_for


def signature_is_valid(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The check docs/notifications.md shows receivers."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    fresh = abs(time.time() - timestamp) <= tolerance
    return fresh and hmac.compare_digest(expected.hexdigest(), fields.get("v1", ""))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when it arrived
    signature_valid: bool | None  # None when the receiver has no secret

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    secret: str | None = None
    answers: list[int] = field(default_factory=list)  # statuses to give first, in order
    delay: float = 0.0  # seconds to wait before answering
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks/kubernaut?team=web"

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                valid = None
                if receiver.secret is not None:
                    header = self.headers.get("X-Kubernaut-Signature", "")
                    valid = signature_is_valid(receiver.secret, header, body)
                with receiver.lock:
                    receiver.received.append(
                        Received(self.path, dict(self.headers), body, time.time(), valid)
                    )
                    status = receiver.answers.pop(0) if receiver.answers else 200
                if receiver.delay:
                    time.sleep(receiver.delay)
                answer = b'{"ok": true}' if status < 300 else b"receiver says no\x00 <b>"
                try:
                    self.send_response(status)
                    if 300 <= status < 400:
                        self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up waiting (the deadline test)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, condition, seconds: float) -> list[Received]:
        """Poll until `condition(received)` holds; returns what was received by then."""

        def received_if_done() -> tuple[list[Received]] | None:
            with self.lock:
                seen = list(self.received)
            return (seen,) if condition(seen) else None  # a tuple: [] may be what was awaited

        return wait_for(received_if_done, timeout=seconds)[0]
