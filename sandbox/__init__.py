"""Sandbox: an in-memory Kubernetes API server with simulated controllers.

It serves enough of the Kubernetes REST API for ``kubectl`` and the official
``kubernetes`` Python client, so Kubernaut can be demonstrated and tested on a
machine without a real cluster. See ``docs/sandbox.md``.

No Django dependency: this package only needs the standard library, PyYAML and
kubernetes-validate.
"""

from sandbox.server import Sandbox  # noqa: E402

__all__ = ["Sandbox"]
