"""The simulated kubelet of the sandbox's single node, ``sandbox-node``.

Pods go Pending/ContainerCreating -> Running -> Ready, or fail on purpose (see
``docs/sandbox.md``): unpullable images, crashing containers, failing readiness, missing config
references. Its state per pod (container states, restarts, IPs) lives in ``self.kubelet``; it is a
base class of ``Controllers`` and runs on the controllers' thread, with their timers (``after``),
events and API.
"""

from __future__ import annotations

from typing import Any

from sandbox.api import ApiError, now
from sandbox.resources import BY_PLURAL

PODS = BY_PLURAL["pods"]
SECRETS = BY_PLURAL["secrets"]
CONFIGMAPS = BY_PLURAL["configmaps"]
NODE = "sandbox-node"
CRASH_ENV = "SANDBOX_CRASH"
NEVER_READY_ENV = "SANDBOX_NEVER_READY"


def _env_flag(container: dict[str, Any], name: str) -> bool:
    for env in container.get("env") or []:
        if env.get("name") == name and str(env.get("value", "")).lower() in ("1", "true", "yes"):
            return True
    return False


def pod_ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _finished(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _controller_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


class Kubelet:
    """Pod lifecycles; mixed into Controllers, which provides api, after(), event() and state."""

    def _sync_pods(self, pod: dict[str, Any]) -> None:
        uid = pod["metadata"]["uid"]
        if uid in self.kubelet or _finished(pod):
            return
        if self.volumes.unschedulable(pod):  # waits for its PersistentVolumeClaims
            return
        ip = next(self.ips)
        self.kubelet[uid] = {
            "namespace": pod["metadata"]["namespace"],
            "name": pod["metadata"]["name"],
            "podIP": "10.0.0.10"
            if pod["spec"].get("hostNetwork")
            else f"10.244.{ip // 250}.{ip % 250 + 2}",
            "startTime": now(),
            "containers": {
                c["name"]: {
                    "state": {"waiting": {"reason": "ContainerCreating"}},
                    "ready": False,
                    "restartCount": 0,
                    "started": False,
                }
                for c in pod["spec"]["containers"]
            },
            "conditions": {},
        }
        self._write_pod(uid, scheduled=True)
        self.event(
            pod,
            "Scheduled",
            f"Successfully assigned {pod['metadata']['namespace']}/"
            f"{pod['metadata']['name']} to {NODE}",
            component="default-scheduler",
        )
        self.after(self.ready_delay / 2, self._start_containers, uid)

    def _pod(self, uid: str) -> dict[str, Any] | None:
        state = self.kubelet.get(uid)
        if state is None:
            return None
        pod = self.api.find(PODS, state["namespace"], state["name"])
        if pod is None or pod["metadata"]["uid"] != uid:
            self.kubelet.pop(uid, None)
            return None
        return pod

    def _container(self, pod: dict[str, Any], name: str) -> dict[str, Any]:
        return next(c for c in pod["spec"]["containers"] if c["name"] == name)

    def logs(self, namespace: str, name: str, container: str) -> str:
        """What ``kubectl logs`` shows: a few synthetic lines, or the real server's errors."""
        _, entries = self.log_entries(namespace, name, container)
        return "".join(text + "\n" for _, text in entries)

    def log_entries(
        self, namespace: str, name: str, container: str, previous: bool = False
    ) -> tuple[str, list[tuple[str, str]]]:
        """The container's name and its log lines as (RFC 3339 time, text), or an ApiError.

        ``previous`` selects the instance that ran before the last restart, like the kubelet.
        """
        pod = self.api.get(PODS, namespace, name)
        names = [c["name"] for c in pod["spec"]["containers"]]
        if not container:
            if len(names) > 1:
                raise ApiError(
                    400,
                    "BadRequest",
                    f"a container name must be specified for pod {name}, choose one of: "
                    f"[{' '.join(names)}]",
                )
            container = names[0]
        if container not in names:
            raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {name}")
        state = next(
            (
                s
                for s in (pod.get("status") or {}).get("containerStatuses") or []
                if s["name"] == container
            ),
            {},
        )
        if previous:
            terminated = (state.get("lastState") or {}).get("terminated")
            if not terminated:
                raise ApiError(
                    400,
                    "BadRequest",
                    f'previous terminated container "{container}" in pod "{name}" not found',
                )
            started = terminated.get("startedAt") or now()
        else:
            waiting = (state.get("state") or {}).get("waiting") or {}
            if not state.get("containerID"):
                reason = waiting.get("reason", "ContainerCreating")
                raise ApiError(
                    400,
                    "BadRequest",
                    f'container "{container}" in pod "{name}" is waiting to start: {reason}',
                )
            current = state.get("state") or {}
            started = (
                (current.get("running") or current.get("terminated") or {}).get("startedAt")
                or ((state.get("lastState") or {}).get("terminated") or {}).get("startedAt")
                or now()
            )
        spec = self._container(pod, container)
        lines = [f"sandbox: container {container} started from image {spec.get('image')}"]
        if _env_flag(spec, CRASH_ENV):
            lines.append(f"sandbox: {CRASH_ENV} is set, exiting with code 1")
        elif _env_flag(spec, NEVER_READY_ENV):
            lines.append(f"sandbox: {NEVER_READY_ENV} is set, readiness probe answers 503")
        return container, [(started, line) for line in lines]

    def log_running(self, namespace: str, name: str, uid: str, container: str) -> bool:
        """Whether that pod's container still runs (a followed log ends when it stops)."""
        pod = self.api.find(PODS, namespace, name)
        if pod is None or pod["metadata"]["uid"] != uid:
            return False
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            if status["name"] == container:
                return "running" in (status.get("state") or {})
        return False

    def _config_problem(self, pod: dict[str, Any], container: dict[str, Any]) -> str | None:
        namespace = pod["metadata"]["namespace"]
        refs: list[tuple[Any, str, bool]] = []
        for source in container.get("envFrom") or []:
            for kind, resource in (("secretRef", SECRETS), ("configMapRef", CONFIGMAPS)):
                ref = source.get(kind)
                if ref:
                    refs.append((resource, ref.get("name", ""), bool(ref.get("optional"))))
        for env in container.get("env") or []:
            value_from = env.get("valueFrom") or {}
            for kind, resource in (("secretKeyRef", SECRETS), ("configMapKeyRef", CONFIGMAPS)):
                ref = value_from.get(kind)
                if ref:
                    refs.append((resource, ref.get("name", ""), bool(ref.get("optional"))))
        for resource, name, optional in refs:
            if not optional and self.api.find(resource, namespace, name) is None:
                return f'{resource.kind.lower()} "{name}" not found'
        return None

    def _start_containers(self, uid: str) -> None:
        pod = self._pod(uid)
        if pod is None:
            return
        for name, cstate in self.kubelet[uid]["containers"].items():
            if not cstate["started"]:
                self._start_container(pod, uid, name, attempt=0)
        self._write_pod(uid)

    def _start_container(self, pod: dict[str, Any], uid: str, name: str, attempt: int) -> None:
        container = self._container(pod, name)
        cstate = self.kubelet[uid]["containers"][name]
        image = container.get("image", "")
        problem = self._config_problem(pod, container)
        if problem:
            cstate["state"] = {
                "waiting": {"reason": "CreateContainerConfigError", "message": problem}
            }
            self.event(pod, "Failed", f"Error: {problem}", "Warning", "kubelet")
            self.after(self._backoff(attempt), self._retry_container, uid, name, attempt + 1)
            return
        if not cstate["started"] and image not in self.preloaded:
            self.event(pod, "Pulling", f'Pulling image "{image}"', component="kubelet")
            problem = self.images.problem(image)
            if problem:
                cstate["state"] = {"waiting": {"reason": "ErrImagePull", "message": problem}}
                self.event(
                    pod,
                    "Failed",
                    f'Failed to pull image "{image}": {problem}',
                    "Warning",
                    "kubelet",
                )
                self.event(pod, "Failed", "Error: ErrImagePull", "Warning", "kubelet")
                self.after(self.ready_delay / 2, self._image_backoff, uid, name, attempt)
                return
            self.event(
                pod,
                "Pulled",
                f'Successfully pulled image "{image}" in 1.02s '
                "(1.02s including waiting). Image size: 4242424 bytes.",
                component="kubelet",
            )
        else:
            self.event(
                pod,
                "Pulled",
                f'Container image "{image}" already present on machine',
                component="kubelet",
            )
        self.event(pod, "Created", f"Created container: {name}", component="kubelet")
        self.event(pod, "Started", f"Started container {name}", component="kubelet")
        cstate["started"] = True
        cstate["state"] = {"running": {"startedAt": now()}}
        job_pod = (_controller_of(pod) or {}).get("kind") == "Job" or pod["spec"].get(
            "restartPolicy"
        ) == "Never"
        if _env_flag(container, CRASH_ENV):
            self.after(self.ready_delay / 2, self._crash, uid, name)
        elif job_pod:
            self.after(self.ready_delay, self._complete, uid, name)
        elif _env_flag(container, NEVER_READY_ENV):
            self.after(self.ready_delay / 2, self._unready, uid, name)
        else:
            self.after(self.ready_delay / 2, self._ready, uid, name)

    def _backoff(self, attempt: int) -> float:
        return max(self.ready_delay, 0.05) * min(2**attempt, 30)

    def _retry_container(self, uid: str, name: str, attempt: int) -> None:
        pod = self._pod(uid)
        if pod is not None:
            self._start_container(pod, uid, name, attempt)
            self._write_pod(uid)

    def _image_backoff(self, uid: str, name: str, attempt: int) -> None:
        pod = self._pod(uid)
        if pod is None:
            return
        image = self._container(pod, name).get("image", "")
        self.kubelet[uid]["containers"][name]["state"] = {
            "waiting": {
                "reason": "ImagePullBackOff",
                "message": f'Back-off pulling image "{image}"',
            }
        }
        self.event(pod, "BackOff", f'Back-off pulling image "{image}"', component="kubelet")
        self.event(pod, "Failed", "Error: ImagePullBackOff", "Warning", "kubelet")
        self._write_pod(uid)
        self.after(self._backoff(attempt + 1), self._retry_container, uid, name, attempt + 1)

    def _ready(self, uid: str, name: str) -> None:
        if self._pod(uid) is not None:
            self.kubelet[uid]["containers"][name]["ready"] = True
            self._write_pod(uid)

    def _unready(self, uid: str, name: str) -> None:
        pod = self._pod(uid)
        if pod is not None:
            self.event(
                pod,
                "Unhealthy",
                "Readiness probe failed: HTTP probe failed with statuscode: 503",
                "Warning",
                "kubelet",
            )

    def _crash(self, uid: str, name: str) -> None:
        pod = self._pod(uid)
        if pod is None:
            return
        cstate = self.kubelet[uid]["containers"][name]
        started = cstate["state"].get("running", {}).get("startedAt", now())
        terminated = {
            "exitCode": 1,
            "reason": "Error",
            "startedAt": started,
            "finishedAt": now(),
            "containerID": f"containerd://{uid[:12]}",
        }
        cstate["ready"] = False
        if pod["spec"].get("restartPolicy") == "Never":
            cstate["state"] = {"terminated": terminated}
            self.kubelet[uid]["phase"] = "Failed"
            self._write_pod(uid)
            return
        cstate["restartCount"] += 1
        cstate["lastState"] = {"terminated": terminated}
        delay = self._backoff(cstate["restartCount"] - 1)
        pod_id = f"{pod['metadata']['name']}_{pod['metadata']['namespace']}({uid})"
        cstate["state"] = {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off {max(int(delay), 1) * 10}s restarting failed container={name}"
                f" pod={pod_id}",
            }
        }
        self.event(
            pod,
            "BackOff",
            f"Back-off restarting failed container {name} in pod {pod_id}",
            "Warning",
            "kubelet",
        )
        self._write_pod(uid)
        self.after(delay, self._retry_container, uid, name, 0)

    def _complete(self, uid: str, name: str) -> None:
        pod = self._pod(uid)
        if pod is None:
            return
        cstate = self.kubelet[uid]["containers"][name]
        started = cstate["state"].get("running", {}).get("startedAt", now())
        cstate["state"] = {
            "terminated": {
                "exitCode": 0,
                "reason": "Completed",
                "startedAt": started,
                "finishedAt": now(),
            }
        }
        cstate["ready"] = False
        if all("terminated" in c["state"] for c in self.kubelet[uid]["containers"].values()):
            self.kubelet[uid]["phase"] = "Succeeded"
        self._write_pod(uid)

    def _write_pod(self, uid: str, scheduled: bool = False) -> None:
        state = self.kubelet[uid]
        with self.api.lock:
            pod = self._pod(uid)
            if pod is None:
                return
            if scheduled:
                pod["spec"]["nodeName"] = NODE
            stamp = now()
            containers = state["containers"]
            all_started = all(c["started"] for c in containers.values())
            all_ready = all(c["ready"] for c in containers.values())
            phase = state.get("phase") or ("Running" if all_started else "Pending")
            old_conditions = {
                c["type"]: c for c in (pod.get("status") or {}).get("conditions") or []
            }

            def condition(type_: str, ok: bool, reason: str = "") -> dict[str, Any]:
                previous = old_conditions.get(type_)
                status = "True" if ok else "False"
                cond = {
                    "type": type_,
                    "status": status,
                    "lastProbeTime": None,
                    "lastTransitionTime": previous["lastTransitionTime"]
                    if previous and previous["status"] == status
                    else stamp,
                }
                if reason and not ok:
                    cond["reason"] = reason
                return cond

            not_ready = [n for n, c in containers.items() if not c["ready"]]
            reason = "PodCompleted" if phase in ("Succeeded", "Failed") else "ContainersNotReady"
            conditions = [
                condition("PodReadyToStartContainers", True),
                condition("Initialized", True),
                condition("Ready", all_ready, reason),
                condition("ContainersReady", all_ready, reason),
                condition("PodScheduled", True),
            ]
            for cond in conditions[2:4]:
                if cond["status"] == "False" and reason == "ContainersNotReady":
                    cond["message"] = f"containers with unready status: [{' '.join(not_ready)}]"
            statuses = []
            for container in pod["spec"]["containers"]:
                cstate = containers[container["name"]]
                entry = {
                    "name": container["name"],
                    "image": container.get("image", ""),
                    "imageID": "",
                    "ready": cstate["ready"],
                    "restartCount": cstate["restartCount"],
                    "started": "running" in cstate["state"],
                    "state": cstate["state"],
                    "lastState": cstate.get("lastState", {}),
                }
                if cstate["started"]:
                    entry["containerID"] = f"containerd://{uid.replace('-', '')}"
                    entry["imageID"] = f"docker.io/library/{container.get('image', '')}"
                statuses.append(entry)
            pod["status"] = {
                "phase": phase,
                "conditions": conditions,
                "hostIP": "10.0.0.10",
                "hostIPs": [{"ip": "10.0.0.10"}],
                "podIP": state["podIP"],
                "podIPs": [{"ip": state["podIP"]}],
                "startTime": state["startTime"],
                "containerStatuses": statuses,
                "qosClass": "BestEffort",
            }
            self.api.store.put(PODS, pod, "MODIFIED")
