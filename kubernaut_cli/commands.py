"""What each `kubernaut` command does, given parsed arguments and an API client."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from kubernaut_cli import follow
from kubernaut_cli.client import EXIT_REFUSED, ApiError, Client


def run(args: argparse.Namespace, client: Client) -> int:
    handlers = {
        "release": release,
        "deploy": deploy,
        "releases": list_releases,
        "deployments": list_deployments,
        "show": show,
        "cancel": cancel,
        "promote": promote,
        "lock": lock,
        "unlock": unlock,
        "locks": list_locks,
        "auto-deploy": auto_deploy,
        "auto-deploys": list_auto_deploys,
        "resume": resume,
    }
    return handlers[args.command](args, client)


def attributes_of(args: argparse.Namespace) -> dict[str, str]:
    # A later -a wins, so a script can append overrides to a fixed list.
    return dict(args.attributes)


def release(args: argparse.Namespace, client: Client) -> int:
    path = Path(args.template)
    try:
        template = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise ApiError(f"cannot read the template {path}: {reason}", EXIT_REFUSED) from None
    # JSON rather than the multipart form: attributes stay apart from the fields, whatever
    # their names.
    created = client.post(
        "/api/releases",
        {
            "service": args.service,
            "version": args.version,
            "template": template,
            "attributes": attributes_of(args),
            "comment": args.comment,
        },
    )
    print(f"Registered release #{created['id']}: {created['service']} {created['version']}")
    return 0


def deploy(args: argparse.Namespace, client: Client) -> int:
    body = {
        "service": args.service,
        "version": args.version,
        "cluster": args.cluster,
        "namespace": args.namespace,
        "attributes": attributes_of(args),
    }
    return asked(args, client, client.post("/api/deployments", with_options(args, body)))


def promote(args: argparse.Namespace, client: Client) -> int:
    deployment = client.post(f"/api/deployments/{args.id}/promote", with_options(args, {}))
    return asked(args, client, deployment, f" (a promotion of #{args.id})")


def with_options(args: argparse.Namespace, body: dict) -> dict:
    """The body with --timeout and --override-lock, when given."""
    if args.timeout:
        body["timeout_seconds"] = args.timeout
    if args.override_lock:
        body["override_lock"] = args.override_lock
    return body


def asked(args: argparse.Namespace, client: Client, deployment: dict, what: str = "") -> int:
    """Say which deployment was asked for, and follow it with --wait."""
    print(
        f"Deployment #{deployment['id']} of {deployment['service']} {deployment['version']} to "
        f"{deployment['cluster']}/{deployment['namespace']}{what}: {deployment['status']} "
        f"({deployment['url']})",
        flush=True,
    )
    if not args.wait:
        return 0
    wait = args.timeout or deployment["timeout_seconds"]
    return follow.until_finished(client, deployment["id"], wait_seconds=wait)


def cancel(args: argparse.Namespace, client: Client) -> int:
    deployment = client.post(f"/api/deployments/{args.id}/cancel", {})
    if deployment["status"] == "cancelled":
        print(f"Deployment #{deployment['id']} is cancelled: {deployment['reason']}")
    else:
        print(
            f"Cancelling deployment #{deployment['id']}: its worker stops following the rollout "
            f"within seconds (`kubernaut show {deployment['id']}` tells what was left applied)."
        )
    return 0


def lock(args: argparse.Namespace, client: Client) -> int:
    cluster, namespace = args.target
    body = {"cluster": cluster, "namespace": namespace, "reason": args.reason}
    if args.service:
        body["service"] = args.service
    if args.for_:
        body["until"] = (datetime.now(UTC) + args.for_).isoformat().replace("+00:00", "Z")
    elif args.until:
        body["until"] = args.until
    created = client.post("/api/locks", body)
    print(f"Lock #{created['id']}: {created['summary']}")
    return 0


def unlock(args: argparse.Namespace, client: Client) -> int:
    if args.lock.isdigit():
        if args.service:
            raise ApiError(
                "--service goes with a target (CLUSTER/NAMESPACE), not an id", EXIT_REFUSED
            )
        pk = int(args.lock)
    else:
        cluster, sep, namespace = args.lock.partition("/")
        if not sep or not cluster or not namespace:
            raise ApiError(
                f"name the lock by its id or as CLUSTER/NAMESPACE, not {args.lock!r}", EXIT_REFUSED
            )
        page = client.get("/api/locks", cluster=cluster, namespace=namespace, limit=500)
        found = [row for row in page["results"] if row["service"] == (args.service or None)]
        if not found:
            what = f"{args.service} in {args.lock}" if args.service else args.lock
            raise ApiError(
                f"{what} is not locked (`kubernaut locks` lists the locks)", EXIT_REFUSED
            )
        pk = found[0]["id"]
    client.delete(f"/api/locks/{pk}")
    print(f"Unlocked lock #{pk}.")
    return 0


def list_locks(args: argparse.Namespace, client: Client) -> int:
    filters = {name: getattr(args, name) for name in ("cluster", "namespace", "service")}
    page = client.get("/api/locks", **filters, limit=args.limit)
    if args.json:
        print(json.dumps(page["results"], indent=2))
        return 0
    rows = [
        [str(lk["id"]), f"{lk['cluster']}/{lk['namespace']}", lk["service"] or "*",
         lk["created_by"], short_time(lk["created_at"]), short_time(lk["until"]) or "-",
         lk["reason"].splitlines()[0][:60]]
        for lk in page["results"]
    ]  # fmt: skip
    table(rows, ["ID", "TARGET", "SERVICE", "BY", "SINCE", "UNTIL", "REASON"])
    return 0


def auto_deploy(args: argparse.Namespace, client: Client) -> int:
    cluster, namespace = args.target
    place = f"{cluster}/{namespace}"
    if not args.off:
        body = {"service": args.service, "cluster": cluster, "namespace": namespace}
        created = client.post("/api/auto-deploys", body)
        print(
            f"Auto-deploy #{created['id']}: every new release of {created['service']} is "
            f"deployed to {place}."
        )
        return 0
    page = client.get(
        "/api/auto-deploys", service=args.service, cluster=cluster, namespace=namespace, limit=1
    )
    if not page["results"]:
        raise ApiError(
            f"continuous delivery of {args.service} to {place} is not on (`kubernaut "
            "auto-deploys` lists where it is)",
            EXIT_REFUSED,
        )
    pk = page["results"][0]["id"]
    client.delete(f"/api/auto-deploys/{pk}")
    print(f"Auto-deploy #{pk} is off: new releases of {args.service} are not deployed to {place}.")
    return 0


def list_auto_deploys(args: argparse.Namespace, client: Client) -> int:
    filters = {name: getattr(args, name) for name in ("service", "cluster", "namespace")}
    page = client.get("/api/auto-deploys", **filters, limit=args.limit)
    if args.json:
        print(json.dumps(page["results"], indent=2))
        return 0
    rows = [
        [str(a["id"]), a["service"], f"{a['cluster']}/{a['namespace']}",
         f"paused: {a['paused_reason']}" if a["paused"] else "on", a["created_by"]]
        for a in page["results"]
    ]  # fmt: skip
    table(rows, ["ID", "SERVICE", "TARGET", "STATE", "BY"])
    return 0


def resume(args: argparse.Namespace, client: Client) -> int:
    resumed = client.post(f"/api/auto-deploys/{args.id}/resume", {})
    print(
        f"Auto-deploy #{resumed['id']} is resumed: the next release of {resumed['service']} is "
        f"deployed to {resumed['cluster']}/{resumed['namespace']}."
    )
    return 0


def table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print(
            "  ".join(
                str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)
            ).rstrip()
        )


def short_time(value: str | None) -> str:
    """2026-11-24T04:20:31.123456Z -> 2026-11-24 04:20:31"""
    return (value or "")[:19].replace("T", " ")


def list_releases(args: argparse.Namespace, client: Client) -> int:
    page = client.get("/api/releases", service=args.service, limit=args.limit)
    if args.json:
        print(json.dumps(page["results"], indent=2))
        return 0
    rows = [
        [str(r["id"]), r["service"], r["version"], short_time(r["created_at"]), r["created_by"],
         (r.get("comment") or "").splitlines()[0][:50] if r.get("comment") else ""]
        for r in page["results"]
    ]  # fmt: skip
    table(rows, ["ID", "SERVICE", "VERSION", "CREATED", "BY", "COMMENT"])
    return 0


def list_deployments(args: argparse.Namespace, client: Client) -> int:
    filters = {name: getattr(args, name) for name in ("service", "version", "cluster", "namespace")}
    page = client.get("/api/deployments", **filters, status=args.status, limit=args.limit)
    if args.json:
        print(json.dumps(page["results"], indent=2))
        return 0
    rows = [
        [str(d["id"]), d["service"], d["version"], f"{d['cluster']}/{d['namespace']}",
         d["status"], short_time(d["created_at"]), d["created_by"]]
        for d in page["results"]
    ]  # fmt: skip
    table(rows, ["ID", "SERVICE", "VERSION", "TARGET", "STATUS", "CREATED", "BY"])
    return 0


def show(args: argparse.Namespace, client: Client) -> int:
    kind = "releases" if args.release else "deployments"
    item = client.get(f"/api/{kind}/{args.id}")
    if args.json:
        print(json.dumps(item, indent=2))
        return 0
    if args.release:
        print(f"Release #{item['id']}: {item['service']} {item['version']}")
        print(f"Registered {short_time(item['created_at'])} by {item['created_by']}")
        if item.get("comment"):
            print(f"Comment: {item['comment']}")
        for name, value in sorted(item["attributes"].items()):
            print(f"  {name} = {value}")
        print("Template:")
        sys.stdout.write(
            item["template"] if item["template"].endswith("\n") else item["template"] + "\n"
        )
        return 0
    print(
        f"Deployment #{item['id']}: {item['service']} {item['version']} to "
        f"{item['cluster']}/{item['namespace']}"
    )
    print(f"Status: {item['status']}" + (f" ({item['reason']})" if item.get("reason") else ""))
    started = short_time(item["started_at"]) or "-"
    finished = short_time(item["finished_at"]) or "-"
    print(
        f"Asked {short_time(item['created_at'])} by {item['created_by']}; "
        f"started {started}; finished {finished}"
    )
    for workload in item.get("workloads") or []:
        print(
            f"  {workload['kind'].lower()}/{workload['name']}: {workload['ready']}/"
            f"{workload['desired']} ready, {workload['state']}"
        )
    for entry in item.get("log") or []:
        print(follow.format_line(entry))
    return 0
