"""`kubernaut`: the command line CI uses to register releases and deploy them.

    export KUBERNAUT_URL=https://kubernaut.example KUBERNAUT_TOKEN=kn_...
    kubernaut release --service hello-world --version 1.0.1 --template kubernetes.yaml \
        -a image=registry.example/hello-world:1.0.1 -a replicas=2
    kubernaut deploy --service hello-world --version 1.0.1 --cluster prod --namespace web --wait
    kubernaut cancel 42
    kubernaut promote 42 --wait
    kubernaut lock prod/web --reason "release freeze" --for 2h
    kubernaut unlock prod/web
    kubernaut auto-deploy hello-world staging/web

Exit codes: 0 done; 1 the deployment failed; 2 bad usage or the server refused the request;
3 Kubernaut unreachable; 4 bad token or missing permission; 5 the target is locked (423);
70 the deployment timed out (or the wait gave up); 130 interrupted. Errors are one line on
stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from datetime import timedelta

from kubernaut_cli import commands
from kubernaut_cli.client import EXIT_REFUSED, ApiError, Client

EXIT_INTERRUPTED = 130


class Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line (argparse prints the whole usage by default)."""

    def error(self, message: str):
        self.exit(EXIT_REFUSED, f"kubernaut: {message} (see `{self.prog} --help`)\n")


def attribute(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"attributes are given as key=value, not {text!r}")
    return name.strip(), value


def timeout(text: str) -> int:
    if not text.isdigit() or not 10 <= int(text) <= 1800:
        raise argparse.ArgumentTypeError(
            f"the timeout is whole seconds from 10 to 1800, not {text!r}"
        )
    return int(text)


def target(text: str) -> tuple[str, str]:
    cluster, sep, namespace = text.partition("/")
    if not sep or not cluster or not namespace or "/" in namespace:
        raise argparse.ArgumentTypeError(f"name the target as CLUSTER/NAMESPACE, not {text!r}")
    return cluster, namespace


DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def duration(text: str) -> timedelta:
    """2h, 30m, 1d, 1h30m ... as a timedelta."""
    match = DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise argparse.ArgumentTypeError(f"give a duration like 2h, 30m, 1d or 1h30m, not {text!r}")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    length = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if not length:
        raise argparse.ArgumentTypeError("the duration must be longer than nothing")
    return length


def build_parser() -> argparse.ArgumentParser:
    # Connection options are accepted before or after the command; SUPPRESS keeps a
    # subcommand's unset option from hiding the value given before it.
    connection = argparse.ArgumentParser(add_help=False)
    connection.add_argument(
        "--url", default=argparse.SUPPRESS, help="Kubernaut's address (default: $KUBERNAUT_URL)"
    )
    connection.add_argument(
        "--token", default=argparse.SUPPRESS, help="an API token (default: $KUBERNAUT_TOKEN)"
    )
    parser = Parser(
        prog="kubernaut",
        description="Register releases with Kubernaut and deploy them.",
        epilog="exit codes: 0 done, 1 deployment failed, 2 bad usage or refused by the server, "
        "3 Kubernaut unreachable, 4 bad token or permission, 5 the target is locked, "
        "70 timed out, 130 interrupted. See docs/cli.md.",
        parents=[connection],
    )
    commands_ = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return commands_.add_parser(name, help=help, description=help, parents=[connection])

    release = command("release", "register a release: a version of a service and its template")
    release.add_argument("--service", required=True)
    release.add_argument("--version", required=True)
    release.add_argument("--template", required=True, metavar="FILE", help="the manifest template")
    release.add_argument("--comment", default="")
    release.add_argument(
        "-a", "--attribute", dest="attributes", type=attribute, action="append", default=[],
        metavar="KEY=VALUE", help="a release attribute (repeatable), e.g. -a image=repo/app:1.0",
    )  # fmt: skip

    deploy = command("deploy", "deploy a release to a namespace of a cluster")
    deploy.add_argument("--service", required=True)
    deploy.add_argument("--version", required=True)
    deploy.add_argument("--cluster", required=True)
    deploy.add_argument("--namespace", required=True)
    deploy.add_argument(
        "-a", "--attribute", dest="attributes", type=attribute, action="append", default=[],
        metavar="KEY=VALUE", help="an attribute for this deployment only (repeatable)",
    )  # fmt: skip
    deploy.add_argument(
        "--wait", action="store_true", help="follow the log until the deployment ends"
    )
    deploy.add_argument(
        "--timeout", type=timeout, metavar="SECONDS",
        help="how long the rollout may take (10-1800; default: the cluster's); with --wait, "
        "also how long to wait",
    )  # fmt: skip
    deploy.add_argument(
        "--override-lock", metavar="REASON", default="",
        help="deploy even though the target is locked, for this reason (admins of the "
        "namespace only; recorded)",
    )  # fmt: skip

    promote = command(
        "promote",
        "deploy the release of a succeeded deployment, with the same attributes, to the next "
        "stage of its namespace (staging -> production)",
    )
    promote.add_argument("id", type=int, metavar="ID", help="the succeeded deployment")
    promote.add_argument(
        "--wait", action="store_true", help="follow the log until the new deployment ends"
    )
    promote.add_argument(
        "--timeout", type=timeout, metavar="SECONDS",
        help="how long the rollout may take (10-1800; default: the next stage's cluster's); "
        "with --wait, also how long to wait",
    )  # fmt: skip
    promote.add_argument(
        "--override-lock", metavar="REASON", default="",
        help="deploy even though the next stage is locked, for this reason (admins there "
        "only; recorded)",
    )  # fmt: skip

    lock = command("lock", "lock a namespace (or one service in it) against deployments")
    lock.add_argument("target", type=target, metavar="CLUSTER/NAMESPACE")
    lock.add_argument("--service", help="lock only this service there")
    lock.add_argument("--reason", required=True, help="why, for the people who cannot deploy")
    ends = lock.add_mutually_exclusive_group()
    ends.add_argument("--until", metavar="TIME", help="when it ends, ISO 8601 (2026-12-24T18:00Z)")
    ends.add_argument(
        "--for", dest="for_", type=duration, metavar="DURATION",
        help="how long it lasts: 2h, 30m, 1d, 1h30m",
    )  # fmt: skip

    unlock = command("unlock", "lift a lock, named by its id or by its target")
    unlock.add_argument("lock", metavar="ID|CLUSTER/NAMESPACE")
    unlock.add_argument("--service", help="with a target: the lock of this service there")

    locks = command("locks", "list the active locks, newest first")
    for name in ("--cluster", "--namespace", "--service"):
        locks.add_argument(name)
    locks.add_argument("--limit", type=int, default=50)
    locks.add_argument("--json", action="store_true", help="print the API's JSON")

    auto_deploy = command(
        "auto-deploy",
        "turn continuous delivery of a service to a namespace on (or off, with --off): each new "
        "release is deployed there at once",
    )
    auto_deploy.add_argument("service", metavar="SERVICE")
    auto_deploy.add_argument("target", type=target, metavar="CLUSTER/NAMESPACE")
    auto_deploy.add_argument("--off", action="store_true", help="turn it off")

    auto_deploys = command("auto-deploys", "list where continuous delivery is on, newest first")
    for name in ("--service", "--cluster", "--namespace"):
        auto_deploys.add_argument(name)
    auto_deploys.add_argument("--limit", type=int, default=50)
    auto_deploys.add_argument("--json", action="store_true", help="print the API's JSON")

    resume = command("resume", "resume continuous delivery paused by a failure or a rollback")
    resume.add_argument("id", type=int, metavar="ID", help="the auto-deploy's id")

    releases = command("releases", "list releases, newest first")
    releases.add_argument("--service")
    releases.add_argument("--limit", type=int, default=20)
    releases.add_argument("--json", action="store_true", help="print the API's JSON")

    deployments = command("deployments", "list deployments, newest first")
    for name in ("--service", "--version", "--cluster", "--namespace", "--status"):
        deployments.add_argument(name)
    deployments.add_argument("--limit", type=int, default=20)
    deployments.add_argument("--json", action="store_true", help="print the API's JSON")

    cancel = command(
        "cancel",
        "cancel a deployment: a pending one never starts, a running one stops being followed",
    )
    cancel.add_argument("id", type=int, metavar="ID")

    show = command("show", "show a deployment with its log (or a release, with --release)")
    show.add_argument("id", type=int, metavar="ID")
    show.add_argument("--release", action="store_true", help="ID is a release's id")
    show.add_argument("--json", action="store_true", help="print the API's JSON")
    return parser


def client_from(args: argparse.Namespace) -> Client:
    url = getattr(args, "url", None) or os.environ.get("KUBERNAUT_URL", "")
    token = getattr(args, "token", None) or os.environ.get("KUBERNAUT_TOKEN", "")
    if not url:
        raise ApiError(
            "KUBERNAUT_URL is not set: export it (e.g. https://kubernaut.example) or pass --url",
            EXIT_REFUSED,
        )
    if not token:
        raise ApiError(
            "KUBERNAUT_TOKEN is not set: export a token from `manage.py create_api_token USER` "
            "or pass --token",
            EXIT_REFUSED,
        )
    return Client(url, token.strip())


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        client = client_from(args)
        return commands.run(args, client)
    except ApiError as error:
        print(f"kubernaut: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("kubernaut: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0  # `kubernaut releases | head` closed the pipe: not an error


if __name__ == "__main__":
    sys.exit(main())
