"""Keep a sandbox's objects, token and certificate in a folder between runs.

``python -m sandbox --state-dir DIR`` loads ``DIR/objects.json`` at start (if there is one), saves
it again shortly after every change and once more when the server stops, so that a restarted
sandbox still runs what was deployed to it (as a real cluster would after a restart). The file is
replaced atomically, so a crash never leaves half of it. ``--reset`` starts over.

After a load, pods start again as they would after a node reboot: the simulated kubelet takes
them from ContainerCreating to Ready once more; everything else is as it was.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import threading
from pathlib import Path

from sandbox.resources import BY_PLURAL
from sandbox.store import Store, WatchEvent

OBJECTS_FILE = "objects.json"
FORMAT = 1
# A burst of writes (a rollout) becomes one save this long after its first change.
SAVE_DELAY = 0.5


def reset(directory: Path) -> None:
    """Forget everything kept in ``directory``."""
    shutil.rmtree(directory, ignore_errors=True)


def token(directory: Path) -> str:
    """The bearer token kept in ``directory``, created on first use."""
    path = directory / "token"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def previous_port(directory: Path) -> int:
    try:
        return int((directory / "port").read_text())
    except (OSError, ValueError):
        return 0


def remember_port(directory: Path, port: int) -> None:
    (directory / "port").write_text(str(port))


def load(store: Store, directory: Path) -> int:
    """Put the objects saved in ``directory`` into the store, over those of the same name (the
    built-in objects a new sandbox starts with); returns how many were loaded."""
    path = directory / OBJECTS_FILE
    if not path.exists():
        return 0
    try:
        saved = json.loads(path.read_text())
        if saved.get("format") != FORMAT:
            raise ValueError(f"format {saved.get('format')!r}")
        entries = saved["objects"]
        rv = int(saved["resourceVersion"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(
            f"The sandbox's saved state in {path} cannot be read ({exc}); "
            "start it with --reset to begin again."
        ) from exc
    count = 0
    with store.lock:
        for entry in entries:
            resource = BY_PLURAL.get(entry.get("resource"))
            if resource is None:  # a kind this version no longer serves
                continue
            obj = entry["object"]
            meta = obj["metadata"]
            store.objects.setdefault(resource.plural, {})[
                (meta.get("namespace", ""), meta["name"])
            ] = obj
            count += 1
        store.rv = max(store.rv, rv)
        store.log.clear()
    return count


def save(store: Store, directory: Path) -> None:
    with store.lock:
        # Serialised under the lock, which every writer holds: a consistent snapshot.
        data = json.dumps(
            {
                "format": FORMAT,
                "resourceVersion": store.rv,
                "objects": [
                    {"resource": plural, "object": obj}
                    for plural, objects in sorted(store.objects.items())
                    for _, obj in sorted(objects.items())
                ],
            },
            separators=(",", ":"),
        )
    directory.mkdir(parents=True, exist_ok=True)
    temporary = directory / f".{OBJECTS_FILE}.{os.getpid()}.tmp"
    temporary.write_text(data)
    os.replace(temporary, directory / OBJECTS_FILE)


class Saver:
    """Saves the store a moment after it changes: one timer per burst of changes, no polling."""

    def __init__(self, store: Store, directory: Path) -> None:
        self.store, self.directory = store, directory
        self.lock = threading.Lock()
        self.timer: threading.Timer | None = None
        store.listeners.append(self._changed)

    def _changed(self, event: WatchEvent) -> None:
        with self.lock:
            if self.timer is None:
                self.timer = threading.Timer(SAVE_DELAY, self._save)
                self.timer.daemon = True
                self.timer.start()

    def _save(self) -> None:
        with self.lock:
            self.timer = None
        save(self.store, self.directory)

    def close(self) -> None:
        """Cancel a pending save and save now."""
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
        save(self.store, self.directory)
