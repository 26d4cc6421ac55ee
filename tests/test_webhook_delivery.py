"""Webhook deliveries: events to deliveries, the signed POST to a real receiver on loopback, the
refusal of non-public addresses, retries, the sweep, and end to end with a real qcluster."""

import ipaddress
import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from clusters.models import Cluster, Namespace
from deployments.models import Deployment
from notifications import outbound, services
from notifications.models import MAX_ATTEMPTS, Delivery, Event
from tests.webhook_receiver import Receiver, signature_is_valid

pytestmark = pytest.mark.django_db
SECRET = "receiver-secret-0123456789"
State = Delivery.State


@pytest.fixture
def receiver():
    running = Receiver(secret=SECRET).start()
    yield running
    running.stop()


@pytest.fixture
def allow_private(settings):
    settings.KUBERNAUT_WEBHOOK_ALLOW_PRIVATE = True


@pytest.fixture
def place(db) -> Namespace:
    cluster = Cluster(name="eu", timeout_seconds=60)
    cluster.set_kubeconfig("{}")
    cluster.save()
    return Namespace.objects.create(cluster=cluster, name="staging")


@pytest.fixture
def make_deployment(make_release, alice, place):
    release = None

    def make(namespace: Namespace = place, **fields) -> Deployment:
        nonlocal release
        release = release or make_release()
        return Deployment.objects.create(
            release=release, service=release.service, namespace=namespace, created_by=alice,
            manifest="", timeout_seconds=60, **fields,
        )  # fmt: skip

    return make


def add_webhook(admin_user, url: str, *, kind: str = "generic", events=None, **filters):
    return services.create_webhook(
        user=admin_user,
        kind=kind,
        url=url,
        secret=SECRET if kind == "generic" else "",
        events=events or Event.values,
        cluster=filters.get("cluster"),
        namespace=filters.get("namespace"),
        service=filters.get("service"),
    )


def deliveries(webhook) -> list[Delivery]:
    return list(Delivery.objects.filter(webhook=webhook).order_by("id"))


def test_a_succeeded_deployment_reaches_the_receiver_signed(
    receiver, allow_private, admin_user, make_deployment
):
    webhook = add_webhook(admin_user, receiver.url)
    deployment = make_deployment()
    deployment.finish(Deployment.Status.SUCCEEDED, "Rolled out.", from_status="pending")
    [delivery] = deliveries(webhook)

    assert services.deliver(delivery.pk) == State.SUCCEEDED

    [request] = receiver.received
    assert request.signature_valid is True
    assert request.path == "/hooks/kubernaut?team=web"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "Kubernaut-Webhook/1"
    assert request.headers["X-Kubernaut-Event"] == "deployment.succeeded"
    assert request.headers["Host"] == f"127.0.0.1:{receiver.port}"
    body = request.json
    assert set(body) == {"event", "id", "occurred_at", "deployment"}
    assert body["event"] == "deployment.succeeded"
    assert body["id"] == request.headers["X-Kubernaut-Delivery"] == str(delivery.event_id)
    assert body["deployment"] | {"created_at": "", "finished_at": ""} == {
        "id": deployment.pk, "url": None, "service": "hello-world", "version": "1.0.0",
        "cluster": "eu", "namespace": "staging", "status": "succeeded", "reason": "Rolled out.",
        "who": "alice", "cancelled_by": None, "created_at": "", "started_at": None,
        "finished_at": "", "redeploy_of": None, "rollback_of": None,
    }  # fmt: skip
    delivery.refresh_from_db()
    assert (delivery.state, delivery.status_code, delivery.error) == ("succeeded", 200, "")
    assert delivery.started_at is not None and delivery.duration_ms is not None


def test_the_signature_covers_timestamp_and_body(receiver, allow_private, admin_user, place):
    webhook = add_webhook(admin_user, receiver.url, events=["lock.created"])
    services.notify("lock.created", namespace=place, service_name=None, summary={"who": "bob"})
    services.deliver(deliveries(webhook)[0].pk)

    [request] = receiver.received
    header = request.headers["X-Kubernaut-Signature"]
    assert header.startswith("t=") and ",v1=" in header
    assert signature_is_valid(SECRET, header, request.body)
    assert not signature_is_valid("another-secret-0123456789", header, request.body)
    assert not signature_is_valid(SECRET, header, request.body + b" ")
    timestamp = header.split(",")[0][2:]
    forged = header.replace(f"t={timestamp}", f"t={int(timestamp) + 1}")
    assert not signature_is_valid(SECRET, forged, request.body)


def test_slack_gets_text_and_blocks_with_a_link(
    receiver, allow_private, admin_user, make_deployment, settings
):
    settings.KUBERNAUT_BASE_URL = "https://kubernaut.example"
    receiver.secret = None
    webhook = add_webhook(admin_user, receiver.url, kind="slack")
    deployment = make_deployment()
    deployment.finish(Deployment.Status.FAILED, "Pods <crash> & burn.", from_status="pending")
    services.deliver(deliveries(webhook)[0].pk)

    [request] = receiver.received
    assert "X-Kubernaut-Signature" not in request.headers
    body = request.json
    assert set(body) == {"text", "blocks"}
    assert body["text"] == (
        ":x: hello-world 1.0.0 to eu/staging: failed (alice). Pods &lt;crash&gt; &amp; burn."
    )
    headline, facts, reason = body["blocks"]
    link = f"https://kubernaut.example/deployments/{deployment.pk}/"
    assert headline["text"]["type"] == "mrkdwn"
    assert f"<{link}|Deployment #{deployment.pk}>" in headline["text"]["text"]
    assert [field["text"] for field in facts["fields"]] == [
        "*Service*\nhello-world", "*Version*\n1.0.0", "*Target*\neu/staging", "*Who*\nalice",
        "*Status*\nfailed",
    ]  # fmt: skip
    # Slack's markup characters are escaped in what people wrote.
    assert reason["elements"][0]["text"] == "Pods &lt;crash&gt; &amp; burn."


def test_locking_and_unlocking_reach_the_receivers(
    receiver, allow_private, admin_user, place, make_release, settings,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    from locks import services as locks

    settings.KUBERNAUT_BASE_URL = "https://kubernaut.example"
    receiver.secret = None
    slack = add_webhook(admin_user, receiver.url, kind="slack", events=["lock.created"])
    receiver_two = Receiver(secret=SECRET).start()
    try:
        generic = add_webhook(admin_user, receiver_two.url, events=["lock.created", "lock.deleted"])
        web = make_release(service="web").service
        with django_capture_on_commit_callbacks(execute=True):
            lock = locks.create_lock(
                namespace=place, service=web, reason="Release <freeze>", until=None,
                user=admin_user,
            )  # fmt: skip
        with django_capture_on_commit_callbacks(execute=True):
            locks.delete_lock(lock, user=admin_user)
        assert [d.event for d in deliveries(generic)] == ["lock.created", "lock.deleted"]
        for delivery in [*deliveries(slack), *deliveries(generic)]:
            assert services.deliver(delivery.pk) == State.SUCCEEDED
        created, deleted = receiver_two.received
    finally:
        receiver_two.stop()

    [message] = receiver.received
    assert message.json["text"] == (
        ":lock: web in eu/staging: locked (admin). Release &lt;freeze&gt;"
    )
    headline, facts, reason = message.json["blocks"]
    assert "<https://kubernaut.example/|Lock>" in headline["text"]["text"]
    assert [field["text"] for field in facts["fields"]] == [
        "*Service*\nweb", "*Target*\neu/staging", "*Who*\nadmin", "*Status*\nlocked",
    ]  # fmt: skip
    assert created.signature_valid and deleted.signature_valid
    body = created.json["lock"]
    assert body | {"created_at": "", "summary": ""} == {
        "id": lock.pk, "url": "https://kubernaut.example/", "reason": "Release <freeze>",
        "summary": "", "who": "admin", "created_by": "admin", "created_at": "", "until": None,
        "deleted_at": None, "cluster": "eu", "namespace": "staging", "service": "web",
    }  # fmt: skip
    assert body["summary"].startswith("web in eu/staging is locked by admin since ")
    assert deleted.json["event"] == "lock.deleted"
    assert deleted.json["lock"]["deleted_at"] is not None


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "10.1.2.3", "169.254.169.254", "[::1]", "localhost", "192.168.0.1", "[::]"],
)
def test_non_public_addresses_are_refused_when_not_allowed(
    receiver, admin_user, place, host, settings
):
    settings.KUBERNAUT_WEBHOOK_ALLOW_PRIVATE = False
    # Saved as an existing webhook would be: the API refuses the literal ones at once, names
    # (localhost) only when sending, on the addresses they resolve to.
    webhook = add_webhook(admin_user, f"http://{host}:{receiver.port}/hook")
    services.notify("lock.created", namespace=place, service_name=None, summary={})
    [delivery] = deliveries(webhook)

    assert services.deliver(delivery.pk) == State.REFUSED

    delivery.refresh_from_db()
    assert delivery.status_code is None
    assert "webhooks may only reach public addresses" in delivery.error
    assert "KUBERNAUT_WEBHOOK_ALLOW_PRIVATE=true" in delivery.error
    assert deliveries(webhook) == [delivery]  # not retried
    # deliver() is synchronous and never connected: nothing can still be on its way.
    assert receiver.received == []


def test_a_name_is_sent_to_the_address_that_was_checked(receiver, allow_private, admin_user, place):
    webhook = add_webhook(
        admin_user, f"http://localhost:{receiver.port}/hook", events=["lock.created"]
    )
    services.notify("lock.created", namespace=place, service_name=None, summary={})
    services.deliver(deliveries(webhook)[0].pk)
    [request] = receiver.received
    assert request.headers["Host"] == f"localhost:{receiver.port}"  # connected by address


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"), ("10.0.0.1", "private"), ("172.16.5.4", "private"),
        ("192.168.1.1", "private"), ("169.254.169.254", "link-local"), ("::1", "loopback"),
        ("fe80::1", "link-local"), ("fc00::1", "private"), ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"), ("100.64.0.1", "non-public"), ("240.0.0.1", "private"),
        ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.0.0.1", "private"),
        ("2002:7f00:1::", "loopback"), ("64:ff9b::a9fe:a9fe", "link-local"),
        ("8.8.8.8", ""), ("2606:4700:4700::1111", ""), ("64:ff9b::808:808", ""),
    ],
)  # fmt: skip
def test_which_addresses_count_as_non_public(address, kind):
    assert outbound.non_public_kind(ipaddress.ip_address(address)) == kind


def test_a_500_is_retried_later_and_then_succeeds(receiver, allow_private, admin_user, place):
    receiver.answers = [500]
    webhook = add_webhook(admin_user, receiver.url, events=["lock.deleted"])
    services.notify("lock.deleted", namespace=place, service_name="web", summary={"who": "b"})
    [first] = deliveries(webhook)

    assert services.deliver(first.pk) == State.FAILED

    first.refresh_from_db()
    assert first.status_code == 500
    assert first.error == "The receiver answered 500: receiver says no <b>"
    [_, second] = deliveries(webhook)
    assert (second.state, second.attempt, second.event_id) == ("pending", 2, first.event_id)
    assert second.body == first.body and second.queued_at is None
    waited = second.next_attempt_at - timezone.now()
    assert timedelta(seconds=25) < waited <= timedelta(seconds=30)
    # Not before its time: neither a task nor the sweep makes it early.
    assert services.deliver(second.pk) == "not due, or taken by another worker"
    assert services.deliver_due() == 0

    later = timezone.now() + timedelta(seconds=31)
    queued_before = OrmQ.objects.count()
    assert services.deliver_due(now=later) == 1
    assert services.deliver_due(now=later) == 0  # queued once
    assert OrmQ.objects.count() == queued_before + 1
    Delivery.objects.filter(pk=second.pk).update(next_attempt_at=timezone.now())  # time passed
    assert services.deliver(second.pk) == State.SUCCEEDED

    one, two = receiver.received
    assert one.body == two.body and one.signature_valid and two.signature_valid
    assert one.json["id"] == two.json["id"]
    assert [d.state for d in deliveries(webhook)] == ["failed", "succeeded"]


def test_the_last_attempt_is_not_retried(receiver, allow_private, admin_user, place):
    receiver.answers = [503]
    webhook = add_webhook(admin_user, receiver.url, events=["lock.created"])
    services.notify("lock.created", namespace=place, service_name=None, summary={})
    Delivery.objects.filter(webhook=webhook).update(attempt=MAX_ATTEMPTS)

    services.deliver(deliveries(webhook)[0].pk)

    assert [(d.state, d.status_code) for d in deliveries(webhook)] == [("failed", 503)]


def test_a_redirect_is_not_followed(receiver, allow_private, admin_user, place):
    receiver.answers = [302]
    webhook = add_webhook(admin_user, receiver.url, events=["lock.created"])
    services.notify("lock.created", namespace=place, service_name=None, summary={})
    first = deliveries(webhook)[0]

    services.deliver(first.pk)

    first.refresh_from_db()
    assert first.status_code == 302
    assert "a redirect, which is not followed" in first.error
    assert len(receiver.received) == 1


def test_nobody_listening_fails_and_is_retried(receiver, allow_private, admin_user, place):
    port = receiver.port
    receiver.stop()
    webhook = add_webhook(admin_user, f"http://127.0.0.1:{port}/", events=["lock.created"])
    services.notify("lock.created", namespace=place, service_name=None, summary={})

    services.deliver(deliveries(webhook)[0].pk)

    first, second = deliveries(webhook)
    assert first.state == "failed" and first.status_code is None
    assert first.error.startswith(f"Could not connect to 127.0.0.1 port {port}")
    assert second.state == "pending"
    receiver.start()  # the fixture stops it again


def test_a_slow_receiver_is_cut_off_at_the_deadline(
    receiver, allow_private, admin_user, place, monkeypatch
):
    monkeypatch.setattr(outbound, "TOTAL_TIMEOUT", 1)
    receiver.delay = 3
    webhook = add_webhook(admin_user, receiver.url, events=["lock.created"])
    services.notify("lock.created", namespace=place, service_name=None, summary={})
    started = time.monotonic()

    services.deliver(deliveries(webhook)[0].pk)

    assert time.monotonic() - started < 2.5
    first, second = deliveries(webhook)
    assert first.error == "127.0.0.1 did not answer within 1 s."
    assert second.state == "pending"


def test_a_deleted_webhooks_waiting_attempts_are_not_sent(
    receiver, allow_private, admin_user, place
):
    webhook = add_webhook(admin_user, receiver.url, events=["lock.created"])
    services.notify("lock.created", namespace=place, service_name=None, summary={})
    [delivery] = deliveries(webhook)

    assert services.delete_webhook(webhook, user=admin_user)
    services.deliver(delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.state, delivery.error) == ("failed", "Not sent: the webhook was deleted.")
    assert receiver.received == []
    assert services.notify("lock.created", namespace=place, service_name=None, summary={}) == 0


def test_an_attempt_whose_worker_was_lost_is_failed_and_retried(admin_user, place):
    webhook = add_webhook(admin_user, "https://hooks.example/x", events=["lock.created"])
    services.notify("lock.created", namespace=place, service_name=None, summary={})
    [delivery] = deliveries(webhook)
    assert delivery.claim()  # a worker took it, then died
    Delivery.objects.filter(pk=delivery.pk).update(started_at=timezone.now() - timedelta(minutes=3))

    services.deliver_due()

    lost, retry = deliveries(webhook)
    assert lost.state == "failed" and "stopped before it recorded the answer" in lost.error
    assert (retry.state, retry.attempt) == ("pending", 2)
    # A late answer from the lost worker changes nothing any more.
    assert lost.settle(State.SUCCEEDED, status_code=200) is None


def test_a_task_runs_an_attempt_once(receiver, allow_private, admin_user, place):
    webhook = add_webhook(admin_user, receiver.url, events=["lock.created"])
    services.notify("lock.created", namespace=place, service_name=None, summary={})
    [delivery] = deliveries(webhook)

    assert services.deliver(delivery.pk) == State.SUCCEEDED
    assert services.deliver(delivery.pk) == "not due, or taken by another worker"
    assert len(receiver.received) == 1


def test_deliveries_are_queued_when_the_change_commits(
    admin_user, place, django_capture_on_commit_callbacks
):
    add_webhook(admin_user, "https://hooks.example/a", events=["lock.created"])
    add_webhook(admin_user, "https://hooks.example/b", kind="slack", events=["lock.created"])
    queued_before = OrmQ.objects.count()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        count = services.notify("lock.created", namespace=place, service_name=None, summary={})
        assert OrmQ.objects.count() == queued_before  # nothing before the commit

    assert count == 2 and len(callbacks) == 1
    assert OrmQ.objects.count() == queued_before + 2


def test_filters_choose_the_webhooks(admin_user, make_release):
    clusters = {}
    for name in ("eu", "us"):
        clusters[name] = Cluster(name=name)
        clusters[name].set_kubeconfig("{}")
        clusters[name].save()
    eu_staging = Namespace.objects.create(cluster=clusters["eu"], name="staging")
    eu_prod = Namespace.objects.create(cluster=clusters["eu"], name="production")
    us_staging = Namespace.objects.create(cluster=clusters["us"], name="staging")
    web = make_release(service="web").service
    hooks = {
        "everything": add_webhook(admin_user, "https://a.example/"),
        "eu": add_webhook(admin_user, "https://a.example/", cluster=clusters["eu"]),
        "eu/staging": add_webhook(
            admin_user, "https://a.example/", cluster=clusters["eu"], namespace=eu_staging
        ),
        "web": add_webhook(admin_user, "https://a.example/", service=web),
        "locks only": add_webhook(admin_user, "https://a.example/", events=["lock.created"]),
    }

    def told(event, namespace, service_name) -> set[str]:
        Delivery.objects.update(state=State.SUCCEEDED)
        services.notify(event, namespace=namespace, service_name=service_name, summary={})
        pending = Delivery.objects.filter(state=State.PENDING).values_list("webhook", flat=True)
        return {name for name, hook in hooks.items() if hook.pk in set(pending)}

    assert told("lock.created", eu_staging, None) == {"everything", "eu", "eu/staging",
                                                       "locks only"}  # fmt: skip
    assert told("lock.created", eu_prod, "web") == {"everything", "eu", "web", "locks only"}
    assert told("deployment.succeeded", us_staging, "api") == {"everything"}
    assert told("deployment.failed", us_staging, "web") == {"everything", "web"}
    with pytest.raises(ValueError, match="not an event"):
        services.notify("deployment.exploded", namespace=eu_prod, service_name=None, summary={})


def events_of(webhook) -> list[str]:
    return list(Delivery.objects.filter(webhook=webhook).order_by("id").values_list(
        "event", flat=True))  # fmt: skip


def test_deployment_transitions_become_events(admin_user, make_deployment, alice):
    webhook = add_webhook(admin_user, "https://a.example/")
    started = make_deployment()
    assert started.claim()
    assert started.finish(Deployment.Status.TIMED_OUT, "Too slow.")
    assert events_of(webhook) == ["deployment.started", "deployment.failed"]

    assert started.claim() is False  # finished: nothing more
    make_deployment().cancel(by=alice)
    rollback = make_deployment(rollback_of=started)
    rollback.finish(Deployment.Status.SUCCEEDED, "Back.", from_status="pending")
    plain = make_deployment()
    plain.finish(Deployment.Status.SUCCEEDED, "Done.", from_status="pending")

    assert events_of(webhook)[2:] == [
        "deployment.cancelled", "deployment.rolled_back", "deployment.succeeded",
    ]  # fmt: skip
    cancelled = json.loads(Delivery.objects.get(event="deployment.cancelled").body)
    assert cancelled["deployment"]["cancelled_by"] == "alice"


def test_a_failing_notification_never_fails_the_deployment(
    admin_user, make_deployment, monkeypatch, caplog
):
    add_webhook(admin_user, "https://a.example/")

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "notify", broken)
    deployment = make_deployment()

    assert deployment.finish(Deployment.Status.SUCCEEDED, "Done.", from_status="pending")

    deployment.refresh_from_db()
    assert deployment.status == "succeeded"
    assert "could not queue the deployment.succeeded webhooks" in caplog.text
    assert not Delivery.objects.exists()


def test_a_deployment_noone_listens_to_costs_one_query(make_deployment, django_assert_num_queries):
    deployment = make_deployment()
    with django_assert_num_queries(1):
        services.on_deployment_finished(
            Deployment, deployment=deployment, status=Deployment.Status.SUCCEEDED
        )


# --- end to end -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_receiver_gets_a_signed_post_within_seconds_of_a_deployment_succeeding(
    alice_api, admin_user, target, receiver
):
    from tests.test_deployment_e2e import deploy, follow, register, start_qcluster, stop

    webhook = add_webhook(
        admin_user, receiver.url, events=["deployment.started", "deployment.succeeded"],
        namespace=target, cluster=target.cluster,
    )  # fmt: skip
    register(alice_api, "1", image="registry.example/hello:1", replicas="2", deadline="600",
             crash="0", never_ready="0")  # fmt: skip
    worker = start_qcluster(KUBERNAUT_WEBHOOK_ALLOW_PRIVATE="true")
    try:
        deployment_id = deploy(alice_api, target, "1")
        body, _ = follow(alice_api, deployment_id)
        assert body["status"] == "succeeded"
        received = receiver.wait_for(lambda seen: len(seen) == 2, seconds=30)
    finally:
        stop(worker)

    # Two workers deliver them, so they may arrive in either order.
    by_event = {r.json["event"]: r for r in received}
    assert sorted(by_event) == ["deployment.started", "deployment.succeeded"]
    started, succeeded = by_event["deployment.started"], by_event["deployment.succeeded"]
    assert started.signature_valid and succeeded.signature_valid
    assert succeeded.json["deployment"]["id"] == deployment_id
    finished_at = Deployment.objects.get(pk=deployment_id).finished_at.timestamp()
    seconds = succeeded.at - finished_at
    print(f"signed POST received {seconds:.2f} s after the deployment succeeded")
    assert seconds < 5
    assert [d.state for d in Delivery.objects.filter(webhook=webhook)] == ["succeeded"] * 2
