"""In-memory object storage: resourceVersions, an event log for watches, change listeners.

One lock guards everything. Watchers wait on a condition variable, so an idle
sandbox costs no CPU.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sandbox.resources import Resource

EVENT_LOG_SIZE = 5000


@dataclass
class WatchEvent:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    resource: Resource
    obj: dict[str, Any]
    # The object before this change (None for ADDED): a watch with a selector needs it to turn
    # an object that stops matching into DELETED, and one that starts matching into ADDED.
    prev: dict[str, Any] | None = None


class Gone(Exception):
    """The requested resourceVersion is older than the retained event log."""


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        # resource plural -> (namespace or "", name) -> object
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
        self.rv = 1
        self.log: list[WatchEvent] = []
        self.listeners: list[Callable[[WatchEvent], None]] = []
        self.closed = False
        self.log_size = EVENT_LOG_SIZE  # how many events a watch can resume from

    # Writers pass an object whose metadata is complete except resourceVersion.
    def put(self, resource: Resource, obj: dict[str, Any], event: str) -> dict[str, Any]:
        with self.lock:
            self.rv += 1
            obj["metadata"]["resourceVersion"] = str(self.rv)
            meta = obj["metadata"]
            key = (meta.get("namespace", ""), meta["name"])
            objects = self.objects.setdefault(resource.plural, {})
            prev = objects.get(key)
            if event == "DELETED":
                objects.pop(key, None)
            else:
                objects[key] = obj
            self._emit(WatchEvent(self.rv, event, resource, obj, prev))
            return copy.deepcopy(obj)

    def _emit(self, ev: WatchEvent) -> None:
        self.log.append(ev)
        if len(self.log) > self.log_size:
            del self.log[: len(self.log) - self.log_size]
        for listener in self.listeners:
            listener(ev)
        self.changed.notify_all()

    def get(self, resource: Resource, namespace: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            objects = self.objects.get(resource.plural, {})
            obj = objects.get((namespace if resource.namespaced else "", name))
            return copy.deepcopy(obj) if obj is not None else None

    def list(self, resource: Resource, namespace: str | None = None) -> list[dict[str, Any]]:
        """Objects sorted by namespace and name (real servers list in key order)."""
        with self.lock:
            objects = self.objects.get(resource.plural, {})
            return [
                copy.deepcopy(obj)
                for (ns, _), obj in sorted(objects.items())
                if namespace in (None, "") or ns == namespace
            ]

    def current_rv(self) -> int:
        with self.lock:
            return self.rv

    def events_since(self, rv: int, timeout: float | None) -> Iterator[WatchEvent]:
        """Yield logged events newer than ``rv`` forever, waiting when there are none."""
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self.lock:
                if self.log and rv < self.log[0].rv - 1 and rv < self.rv:
                    raise Gone()
                batch = [ev for ev in self.log if ev.rv > rv] if self.rv > rv else []
                if not batch:
                    if self.closed:
                        return
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return
                    self.changed.wait(remaining)
                    continue
            for ev in batch:
                rv = ev.rv
                yield ev

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.changed.notify_all()
