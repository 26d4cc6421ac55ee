"""What webhooks receive: the JSON bodies (Slack's and the generic one) and the signature.

Pure functions: no database, no network. docs/notifications.md shows each body.
"""

import hashlib
import hmac
import json
from datetime import datetime

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.urls import reverse

from kubernaut.api import iso_time

USER_AGENT = "Kubernaut-Webhook/1"
SIGNATURE_HEADER = "X-Kubernaut-Signature"
# Slack refuses a section's text over 3000 characters and a field's over 2000.
MAX_SLACK_VALUE = 500


def page_url(path: str) -> str | None:
    """An absolute link to a page of Kubernaut, or None when KUBERNAUT_BASE_URL is not set."""
    base = settings.KUBERNAUT_BASE_URL
    return f"{base}{path}" if base else None


def deployment_summary(deployment) -> dict:
    """The deployment as webhook bodies describe it (related rows loaded by the caller)."""
    return {
        "id": deployment.pk,
        "url": page_url(reverse("deployment", args=[deployment.pk])),
        "service": deployment.service.name,
        "version": deployment.release.version,
        "cluster": deployment.namespace.cluster.name,
        "namespace": deployment.namespace.name,
        "status": deployment.status,
        "reason": deployment.reason,
        "who": deployment.created_by.get_username(),
        "cancelled_by": (
            deployment.cancelled_by.get_username() if deployment.cancelled_by_id else None
        ),
        "created_at": iso_time(deployment.created_at),
        "started_at": iso_time(deployment.started_at),
        "finished_at": iso_time(deployment.finished_at),
        "redeploy_of": deployment.redeploy_of_id,
        "rollback_of": deployment.rollback_of_id,
    }


def lock_summary(lock, user) -> dict:
    """The lock as webhook bodies describe it; `who` locked or unlocked it. Locks have no page
    of their own: the link goes to the overview, which shows them."""
    return {
        "id": lock.pk,
        "url": page_url(reverse("home")),
        "reason": lock.reason,
        "summary": lock.sentence(),
        "who": user.get_username() if user is not None else None,
        "created_by": lock.created_by.get_username(),
        "created_at": iso_time(lock.created_at),
        "until": iso_time(lock.until),
        "deleted_at": iso_time(lock.deleted_at),
    }


def subject(event: str) -> str:
    """The key the generic body puts the object under: "deployment" or "lock"."""
    return event.partition(".")[0]


def generic_body(event: str, event_id: str, occurred_at: datetime, summary: dict) -> dict:
    return {
        "event": event,
        "id": event_id,
        "occurred_at": iso_time(occurred_at),
        subject(event): summary,
    }


def _escape(value) -> str:
    """Text for Slack's mrkdwn: &, < and > are its markup (links, mentions)."""
    text = str(value)[:MAX_SLACK_VALUE]
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


STATUS_WORDS = {
    "deployment.started": "started",
    "deployment.succeeded": "succeeded",
    "deployment.failed": "failed",
    "deployment.cancelled": "cancelled",
    "deployment.rolled_back": "rolled back",
    "deployment.awaiting_approval": "awaiting approval",
    "deployment.approved": "approved",
    "deployment.rejected": "rejected",
    "deployment.expired": "expired unapproved",
    "lock.created": "locked",
    "lock.deleted": "unlocked",
}
EMOJI = {
    "deployment.started": ":arrow_forward:",
    "deployment.succeeded": ":white_check_mark:",
    "deployment.failed": ":x:",
    "deployment.cancelled": ":no_entry_sign:",
    "deployment.rolled_back": ":leftwards_arrow_with_hook:",
    "deployment.awaiting_approval": ":raised_hand:",
    "deployment.approved": ":thumbsup:",
    "deployment.rejected": ":thumbsdown:",
    "deployment.expired": ":hourglass:",
    "lock.created": ":lock:",
    "lock.deleted": ":unlock:",
}


def status_word(event: str, summary: dict) -> str:
    word = STATUS_WORDS.get(event, event)
    if subject(event) == "deployment" and summary.get("status") == "timed_out":
        word = "timed out"
    if event == "deployment.cancelled" and summary.get("cancelled_by"):
        word = f"cancelled by {summary['cancelled_by']}"
    approvals = summary.get("approvals") or {}
    if event == "deployment.approved" and summary.get("approved_by"):
        word = f"approved by {summary['approved_by']}"
    if approvals and event in ("deployment.approved", "deployment.awaiting_approval"):
        word += f" ({approvals.get('given')} of {approvals.get('required')} approvals)"
    return word


def slack_body(event: str, summary: dict) -> dict:
    """Slack's incoming-webhook message: `text` (notifications, clients without blocks) and
    blocks with the service, version, target, who, status and a link to the page."""
    target = f"{summary.get('cluster')}/{summary.get('namespace')}"
    service = summary.get("service")
    version = summary.get("version")
    who = summary.get("who") or "someone"
    status = status_word(event, summary)
    url = summary.get("url")
    reason = summary.get("reason") or summary.get("comment") or ""

    if subject(event) == "deployment":
        what = f"{service} {version} to {target}"
        name = f"Deployment #{summary.get('id')}"
    else:
        what = f"{service} in {target}" if service else target
        name = "Lock"
    text = f"{EMOJI.get(event, '')} {_escape(what)}: {_escape(status)} ({_escape(who)})".strip()
    if reason and event != "deployment.succeeded":
        text += f". {_escape(reason)}"

    link = f"<{url}|{_escape(name)}>" if url else _escape(name)
    headline = f"{EMOJI.get(event, '')} {link} {_escape(status)}: {_escape(what)}".strip()
    fields = [("Service", service or "(all)")]
    if version:
        fields.append(("Version", version))
    fields += [("Target", target), ("Who", who), ("Status", status)]
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{label}*\n{_escape(value)}"}
                for label, value in fields
            ],
        },
    ]
    if reason:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": _escape(reason)}]}
        )
    return {"text": text[:3000], "blocks": blocks}


def encode(body: dict) -> str:
    """The JSON text sent (datetimes as ISO 8601, as Django writes them)."""
    return json.dumps(body, separators=(",", ":"), cls=DjangoJSONEncoder)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`, as receivers check it."""
    message = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def headers(
    *, kind: str, body: bytes, secret: str, event: str, event_id: str, timestamp: int
) -> dict[str, str]:
    sent = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if kind == "generic":
        sent |= {
            SIGNATURE_HEADER: signature(secret, timestamp, body),
            "X-Kubernaut-Event": event,
            "X-Kubernaut-Delivery": event_id,
        }
    return sent
