"""Fixtures for the sandbox conformance suite (no database needed)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from sandbox.testing import RunningSandbox, running_sandbox

_names = itertools.count(1)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[RunningSandbox]:
    """One in-process sandbox for the whole session; pods get ready after 0.1 s."""
    with running_sandbox(ready_delay=0.1) as sb:
        yield sb


@pytest.fixture
def namespace(sandbox: RunningSandbox, request: pytest.FixtureRequest) -> str:
    """A fresh namespace per test, so tests sharing the sandbox do not interfere."""
    name = f"t{next(_names)}-{request.node.name.lower().replace('_', '-')}"[:50].strip("-")
    name = "".join(c for c in name if c.isalnum() or c == "-")
    manifest = f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n"
    sandbox.kubectl("create", "-f", "-", input=manifest, check=True)
    return name


@pytest.fixture
def api_client(sandbox: RunningSandbox):  # type: ignore[no-untyped-def]
    return sandbox.api_client()
