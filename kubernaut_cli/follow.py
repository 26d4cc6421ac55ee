"""Following a deployment's log until it ends: what `kubernaut deploy --wait` does."""

from __future__ import annotations

import sys
import time

from kubernaut_cli.client import EXIT_UNREACHABLE, ApiError, Client

EXIT_FAILED = 1
EXIT_NOT_APPROVED = 6  # rejected by an approver, or expired unapproved (docs/approvals.md)
EXIT_TIMED_OUT = 70
AWAITING_APPROVAL = "awaiting_approval"
APPROVAL_POLL_SECONDS = 2
POLL_SECONDS = 0.5
# Most deployments end within seconds: look four times a second for the first ten, as the
# deployment page does (docs/performance.md, Deploy latency), then every POLL_SECONDS.
EARLY_POLL_SECONDS = 0.25
EARLY_SECONDS = 10
# The server's clock starts when a worker takes the deployment, not when it was asked for:
# wait a little longer than the timeout so the server can say `timed_out` itself.
GRACE_SECONDS = 30
PAGE = 1000
# The failed deployment's log says so when the server is starting an automatic rollback
# (deployments/rollback.py); the rollback's id follows within moments as `rolled_back_by`.
ROLLBACK_STARTING = "Starting an automatic rollback"
ROLLBACK_NOT_STARTED = "The automatic rollback could not start"
ROLLBACK_WAIT_SECONDS = 10


def format_line(entry: dict) -> str:
    clock = entry["time"][11:19]
    level = "" if entry["level"] == "info" else f"{entry['level'].upper()} "
    return f"{clock} {level}{entry['message']}"


def until_finished(
    client: Client, deployment_id: int, *, wait_seconds: float, poll: float = POLL_SECONDS
) -> int:
    """Print new log lines until the deployment ends; the exit code says how it ended."""
    started = time.monotonic()
    give_up_at = started + wait_seconds + GRACE_SECONDS
    after = 0
    warned = False
    rollback_coming = False
    said_waiting = False
    while True:
        try:
            page = client.get(f"/api/deployments/{deployment_id}/log", after=after, limit=PAGE)
        except ApiError as error:
            # A restarting server or a network blip must not fail the pipeline while the
            # deployment goes on; anything else (token revoked, deployment deleted) does.
            if error.exit_code != EXIT_UNREACHABLE or time.monotonic() > give_up_at:
                raise
            if not warned:
                print(f"kubernaut: {error}; trying again", file=sys.stderr, flush=True)
                warned = True
            time.sleep(max(poll, 2))
            continue
        warned = False
        for entry in page["log"]:
            print(format_line(entry), flush=True)
            after = entry["id"]
            rollback_coming |= entry["message"].startswith(ROLLBACK_STARTING)
        if len(page["log"]) == PAGE:
            continue  # more lines are waiting
        if page["status"] == AWAITING_APPROVAL:
            # The wait for approvers does not count: the timeout is the rollout's, from when a
            # worker starts it; the server ends an unapproved deployment `expired` in time.
            give_up_at = time.monotonic() + wait_seconds + GRACE_SECONDS
            if not said_waiting:
                print(
                    f"kubernaut: deployment #{deployment_id} is awaiting approval; waiting for "
                    "the approvers (its page shows who may approve it)",
                    file=sys.stderr,
                    flush=True,
                )
                said_waiting = True
        if page["finished"]:
            return outcome(
                client, deployment_id, page["status"], after=after, poll=poll,
                rollback_coming=rollback_coming,
            )  # fmt: skip
        if time.monotonic() > give_up_at:
            print(
                f"kubernaut: gave up waiting for deployment #{deployment_id} after "
                f"{wait_seconds + GRACE_SECONDS:.0f} s; it is still {page['status']} on the server",
                file=sys.stderr,
            )
            return EXIT_TIMED_OUT
        # Approvers take minutes or hours: no need to ask twice a second meanwhile.
        if page["status"] == AWAITING_APPROVAL:
            time.sleep(max(poll, APPROVAL_POLL_SECONDS))
        elif time.monotonic() - started < EARLY_SECONDS:
            time.sleep(min(poll, EARLY_POLL_SECONDS))
        else:
            time.sleep(poll)


def outcome(
    client: Client,
    deployment_id: int,
    status: str,
    *,
    after: int = 0,
    poll: float = POLL_SECONDS,
    rollback_coming: bool = False,
) -> int:
    deployment = client.get(f"/api/deployments/{deployment_id}")
    reason = deployment.get("reason") or ""
    line = f"Deployment #{deployment_id} {status.replace('_', ' ')}" + (
        f": {reason}" if reason else ""
    )
    if status == "succeeded":
        print(line)
        return 0
    rollback = rollback_started(client, deployment, after, poll, rollback_coming)
    if rollback:
        print(f"kubernaut: an automatic rollback was started: deployment #{rollback}",
              file=sys.stderr)  # fmt: skip
    # Last, so that the reason stays the last line on stderr.
    print(f"kubernaut: {line}", file=sys.stderr)
    if status in ("rejected", "expired"):
        return EXIT_NOT_APPROVED
    return EXIT_TIMED_OUT if status == "timed_out" else EXIT_FAILED


def rollback_started(
    client: Client, deployment: dict, after: int, poll: float, coming: bool
) -> int | None:
    """The id of the automatic rollback the server started for this failed deployment, if any.

    It is queued just after the failed deployment is finished: when the log announced it, wait
    a few seconds for its id (printing the log lines written meanwhile)."""
    give_up_at = time.monotonic() + ROLLBACK_WAIT_SECONDS
    path = f"/api/deployments/{deployment['id']}"
    while True:
        if deployment.get("rolled_back_by"):
            return deployment["rolled_back_by"]
        page = client.get(f"{path}/log", after=after, limit=PAGE)
        for entry in page["log"]:
            print(format_line(entry), flush=True)
            after = entry["id"]
            if entry["message"].startswith(ROLLBACK_NOT_STARTED):
                return None
            coming |= entry["message"].startswith(ROLLBACK_STARTING)
        if not coming or time.monotonic() > give_up_at:
            return None
        time.sleep(poll)
        deployment = client.get(path)
