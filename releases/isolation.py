"""Running untrusted work (rendering a template) in a throwaway process with hard limits.

Jinja2's sandbox stops a template from reaching Python's internals, not from spending a minute of
CPU or a gigabyte of memory in a web worker. So the work runs elsewhere:

- a **helper**: a fresh interpreter (`python -I`, an empty environment, no inherited file
  descriptors) that imports only this module and the job's module (Jinja2 and PyYAML, never
  Django): it holds no database connection, no settings and no secrets;
- for each job the helper **forks a child**, which lowers its own CPU time and address-space limits
  (`setrlimit`) and runs the job; the helper waits for it with a wall-clock deadline and kills it
  when the deadline passes. A job that crashes or is killed costs that child only.

Forking from the helper is safe (it is single-threaded and touches nothing shared); forking a web
worker (threads, database sockets) would not be. The parent keeps a few idle helpers (a pool, for
threaded servers) and starts another when all are busy; a helper whose parent exits reads EOF and
exits. The child's answer is unpickled with an allow-list (plain data and dates), so even a child
that escaped the sandbox cannot run code in the web worker through its answer.

A job may leave a **memo** for the next job with the same key (`memo_key`, which the parent
computes, e.g. a hash of the template): work that depends on the key alone, such as compiling a
template, is then done once per helper rather than once per job. The helper keeps memos as opaque
bytes (it never reads them) under the key its parent gave, so a child can only ever leave a memo for
the job it ran: what a child that escaped the sandbox writes reaches later jobs of the same
template only, never another's.
"""

import collections
import contextlib
import gc
import importlib
import io
import os
import pickle
import resource
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_IDLE_HELPERS = 4
# Memos a helper keeps (least recently used go first), and the largest one it accepts.
MAX_MEMO_BYTES = 32 * 1024 * 1024
MAX_ONE_MEMO_BYTES = 1024 * 1024
_HEADER = struct.Struct("!Q")
# How long the parent waits for a helper beyond the job's own deadline before giving up on it.
HELPER_GRACE_SECONDS = 5.0


class IsolationError(Exception):
    """The job gave no answer; the message says why (killed, crashed)."""


class TimedOut(IsolationError):
    """The job ran past its wall-clock deadline and was killed."""


class JobFailed(IsolationError):
    """The job raised; the message is `Type: message`."""


# --- the helper's side -----------------------------------------------------------------------


def _read_exactly(stream, size: int) -> bytes | None:
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


def _read_message(stream):
    header = _read_exactly(stream, _HEADER.size)
    if header is None:
        return None
    body = _read_exactly(stream, _HEADER.unpack(header)[0])
    return None if body is None else pickle.loads(body)  # noqa: S301 (from our own parent)


def _write_message(stream, message) -> None:
    body = pickle.dumps(message)
    stream.write(_HEADER.pack(len(body)) + body)
    stream.flush()


def _address_space_now() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def _limit_self(cpu_seconds: int, memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    # The limit counts what the interpreter already maps; the job gets `memory_bytes` more.
    limit = _address_space_now() + memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _child(write_fd: int, target: str, payload, cpu_seconds: int, memory_bytes: int, memo) -> None:
    """In the forked child: limit, run, send the memo and the pickled outcome, exit without
    cleanup. Without a memo key (`memo` is False) the job is `target(payload)`; with one, it is
    `target(payload, memo_or_None)` and returns (result, new memo bytes or None)."""
    try:
        # The helper's stdin and stdout carry its conversation with the parent: not the job's.
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        _limit_self(cpu_seconds, memory_bytes)
        module, name = target.rsplit(".", 1)
        new_memo = b""
        try:
            job = getattr(importlib.import_module(module), name)
            if memo is False:
                outcome = ("ok", job(payload))
            else:
                result, new_memo = job(payload, memo)
                outcome = ("ok", result)
                new_memo = new_memo if isinstance(new_memo, bytes) else b""
        except BaseException as error:  # the job's failure is the answer, whatever it is
            outcome = ("error", f"{type(error).__name__}: {error}")
        data = _HEADER.pack(len(new_memo)) + new_memo + pickle.dumps(outcome)
        with os.fdopen(write_fd, "wb") as out:
            out.write(data)
    finally:
        os._exit(0)


def _describe_exit(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number == signal.SIGXCPU:
            return "it used up its CPU time"
        return f"it was killed by signal {signal.Signals(number).name}"
    return f"it exited with status {os.WEXITSTATUS(status)} without an answer"


class _Memos:
    """The helper's memos: opaque bytes by the parent's key, least recently used dropped first."""

    def __init__(self):
        self.entries: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self.size = 0

    def get(self, key: str) -> bytes | None:
        memo = self.entries.get(key)
        if memo is not None:
            self.entries.move_to_end(key)
        return memo

    def put(self, key: str, memo: bytes) -> None:
        if not memo or len(memo) > MAX_ONE_MEMO_BYTES or key in self.entries:
            return
        self.entries[key] = memo
        self.size += len(memo)
        while self.size > MAX_MEMO_BYTES:
            self.size -= len(self.entries.popitem(last=False)[1])


def _run_in_child(
    target: str,
    payload,
    wall_seconds: float,
    cpu_seconds: int,
    memory: int,
    memo_key: str | None,
    memos: _Memos,
):
    memo = False if memo_key is None else memos.get(memo_key)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(write_fd, target, payload, cpu_seconds, memory, memo)
    os.close(write_fd)
    deadline = time.monotonic() + wall_seconds
    chunks = []
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([read_fd], [], [], remaining)[0]:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return ("timeout", wall_seconds)
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    data = b"".join(chunks)
    if len(data) < _HEADER.size:
        return ("crashed", _describe_exit(status))
    memo_end = _HEADER.size + _HEADER.unpack(data[: _HEADER.size])[0]
    if memo_end >= len(data):
        return ("crashed", _describe_exit(status))
    if memo_key is not None:
        memos.put(memo_key, data[_HEADER.size : memo_end])
    # Passed on unread: the helper does not unpickle what the child wrote.
    return ("answer", data[memo_end:])


def serve() -> None:
    """The helper's loop: one job at a time, each in a new child, until the parent goes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent; EOF ends us
    for name in sys.argv[2:]:
        # Warm: every child starts with the module imported and its caches filled.
        module = importlib.import_module(name)
        if hasattr(module, "warm_up"):
            module.warm_up()
    # Children share the helper's memory until they write to it; a garbage collection in a child
    # would write to every object (reference counts, GC links): keep them out of its reach.
    gc.freeze()
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    memos = _Memos()
    while (request := _read_message(requests)) is not None:
        _write_message(replies, _run_in_child(*request, memos=memos))


# --- the parent's side -----------------------------------------------------------------------

_BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from releases.isolation import serve; serve()"


class _SafeUnpickler(pickle.Unpickler):
    """Plain data only: what YAML's safe loader can produce, nothing that runs code."""

    ALLOWED = {
        ("datetime", "date"),
        ("datetime", "datetime"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a job's answer")


class _Helper:
    def __init__(self, preload: tuple[str, ...]):
        self.preload = preload
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOT, str(ROOT), *preload],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={"LC_ALL": "C.UTF-8"},
            close_fds=True,
        )

    def call(self, request, timeout: float):
        _write_message(self.process.stdin, request)
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        buffer = io.BytesIO()
        needed = _HEADER.size
        header_done = False
        while True:
            while buffer.tell() < needed:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                    raise IsolationError("the rendering helper did not answer")
                chunk = os.read(fd, max(needed - buffer.tell(), 1 << 16))
                if not chunk:
                    raise IsolationError("the rendering helper stopped")
                buffer.write(chunk)
            if header_done:
                return pickle.loads(buffer.getvalue()[_HEADER.size :])  # noqa: S301 (our helper)
            needed = _HEADER.size + _HEADER.unpack(buffer.getvalue()[: _HEADER.size])[0]
            header_done = True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                stream.close()


class _Pool:
    def __init__(self):
        self.pid = os.getpid()
        self.idle: list[_Helper] = []
        self.lock = threading.Lock()

    def take(self, preload: tuple[str, ...]) -> _Helper:
        with self.lock:
            # The one given back last: one request after another meets the same helper and the
            # memos it keeps.
            for helper in reversed(self.idle):
                if helper.preload == preload:
                    self.idle.remove(helper)
                    return helper
        return _Helper(preload)

    def give_back(self, helper: _Helper) -> None:
        with self.lock:
            if len(self.idle) < MAX_IDLE_HELPERS:
                self.idle.append(helper)
                return
        helper.close()


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def _current_pool() -> _Pool:
    global _pool
    with _pool_lock:
        # After a fork (gunicorn, django-q workers) the helpers belong to the parent process.
        if _pool is None or _pool.pid != os.getpid():
            _pool = _Pool()
        return _pool


def run(
    target: str,
    payload,
    *,
    wall_seconds: float,
    cpu_seconds: int,
    memory_bytes: int,
    preload: tuple[str, ...] = (),
    memo_key: str | None = None,
):
    """Call `target` ("module.function", importable without Django) with `payload` in a child.

    Returns what it returned (plain data). Raises TimedOut past `wall_seconds`, JobFailed if it
    raised, IsolationError if it died (out of CPU time, killed, crashed). With `memo_key`, the
    job is called `target(payload, memo)` with the memo the last job of that key left (None at
    first) and returns (result, memo for the next one): see the module's docstring.
    """
    pool = _current_pool()
    helper = pool.take(preload)
    try:
        status, value = helper.call(
            (target, payload, wall_seconds, cpu_seconds, memory_bytes, memo_key),
            timeout=wall_seconds + HELPER_GRACE_SECONDS,
        )
    except BaseException:
        helper.close()
        raise
    pool.give_back(helper)
    if status == "timeout":
        raise TimedOut(f"it ran for more than {value:g} s")
    if status == "crashed":
        raise IsolationError(value)
    try:
        outcome, result = _SafeUnpickler(io.BytesIO(value)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as error:
        raise IsolationError(f"its answer could not be read ({error})") from None
    if outcome == "error":
        raise JobFailed(result)
    return result
