"""Command line: ``python -m sandbox --port 0 --kubeconfig PATH [--state-dir DIR [--reset]]``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from sandbox import persistence
from sandbox.server import Sandbox


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox", description="Run the in-memory Kubernetes sandbox."
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any)")
    parser.add_argument(
        "--kubeconfig",
        default="sandbox.kubeconfig",
        help="where to write the kubeconfig (default: %(default)s)",
    )
    parser.add_argument("--token", default=None, help="bearer token to require (default: random)")
    parser.add_argument(
        "--ready-delay",
        type=float,
        default=1.0,
        help="seconds a pod takes to become ready (default: %(default)s)",
    )
    parser.add_argument(
        "--registry",
        default=None,
        help="Docker registry URL (v2 API) used to check that images exist",
    )
    parser.add_argument(
        "--state-dir",
        default=None,
        help="keep objects, token, certificate and port in this folder between runs "
        "(default: in memory only)",
    )
    parser.add_argument(
        "--reset", action="store_true", help="with --state-dir: forget what it kept, start empty"
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    if args.reset and args.state_dir:
        persistence.reset(Path(args.state_dir))

    sandbox = Sandbox(
        args.port,
        token=args.token,
        ready_delay=args.ready_delay,
        registry=args.registry,
        verbose=args.verbose,
        state_dir=args.state_dir,
    )
    path = sandbox.write_kubeconfig(args.kubeconfig)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sandbox.start()
    print(f"Sandbox API server listening on {sandbox.url}", flush=True)
    print(f"kubeconfig written to {path} (context sandbox)", flush=True)
    print(f"  export KUBECONFIG={path.resolve()}", flush=True)
    stop.wait()
    sandbox.stop()
    print("Sandbox stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
