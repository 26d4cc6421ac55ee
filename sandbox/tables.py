"""Server-side printing (``as=Table``) so ``kubectl get`` shows the familiar columns.

The columns, their types, priorities and cell formats follow kube-apiserver's printers
(``pkg/printers/internalversion/printers.go``). Like the real server, every column is always
sent, including the ``-o wide`` ones (priority 1): kubectl hides those unless asked. Column
descriptions come from the official OpenAPI schemas, as the real server's come from the same
Go doc comments.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from typing import Any

from sandbox.resources import Resource

Obj = dict[str, Any]
Row = list[Any]

_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
TEMPLATE_NAMES = "Names of each container in the template."
TEMPLATE_IMAGES = "Images referenced by each container in the template."


# --- time ------------------------------------------------------------------------------------


def _parse(stamp: str | None) -> datetime.datetime | None:
    if not stamp:
        return None
    try:
        then = datetime.datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    return then.replace(tzinfo=datetime.UTC)


def human_duration(seconds: float) -> str:
    """apimachinery's ``duration.HumanDuration``: 59s, 3m20s, 15m, 2h30m, 3d4h, 2y10d ..."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def age(stamp: str | None) -> str:
    """``translateTimestampSince``: time since ``stamp``, or ``<unknown>`` when unset."""
    then = _parse(stamp)
    if then is None:
        return "<unknown>"
    return human_duration((datetime.datetime.now(datetime.UTC) - then).total_seconds())


# --- column definitions ----------------------------------------------------------------------


@functools.cache
def _doc(definition: str, field: str) -> str:
    from sandbox import schema  # the schemas are large: load them on first use only

    name = definition if definition.startswith("io.k8s.") else f"io.k8s.api.{definition}"
    node = schema.defs().get(name) or {}
    return str(((node.get("properties") or {}).get(field) or {}).get("description", ""))


def _col(
    name: str, doc: str = "", type_: str = "string", priority: int = 0, fmt: str = ""
) -> dict[str, Any]:
    return {"name": name, "type": type_, "format": fmt, "description": doc, "priority": priority}


def _name_col() -> dict[str, Any]:
    return _col("Name", _doc(_META, "name"), fmt="name")


def _age_col() -> dict[str, Any]:
    return _col("Age", _doc(_META, "creationTimestamp"))


def _template_cols(selector_doc: str | None) -> list[dict[str, Any]]:
    cols = [
        _col("Containers", TEMPLATE_NAMES, priority=1),
        _col("Images", TEMPLATE_IMAGES, priority=1),
    ]
    if selector_doc is not None:
        cols.append(_col("Selector", selector_doc, priority=1))
    return cols


# --- formatting helpers ----------------------------------------------------------------------


def _spec(o: Obj) -> Obj:
    return o.get("spec") or {}


def _status(o: Obj) -> Obj:
    return o.get("status") or {}


def _meta(o: Obj) -> Obj:
    return o.get("metadata") or {}


def _created(o: Obj) -> str:
    return age(_meta(o).get("creationTimestamp"))


def format_labels(labels: dict[str, str] | None) -> str:
    """``labels.FormatLabels``: sorted ``k=v`` pairs, ``<none>`` when empty."""
    text = ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items()))
    return text or "<none>"


def selector_string(selector: Obj | None) -> str:
    """``metav1.LabelSelectorAsSelector(s).String()`` (empty for nil or empty selectors)."""
    if not selector:
        return ""
    reqs: list[tuple[str, str]] = [
        (k, f"{k}={v}") for k, v in (selector.get("matchLabels") or {}).items()
    ]
    for expr in selector.get("matchExpressions") or []:
        key, op = expr.get("key", ""), expr.get("operator", "")
        values = ",".join(sorted(set(expr.get("values") or [])))
        text = {
            "In": f"{key} in ({values})",
            "NotIn": f"{key} notin ({values})",
            "Exists": key,
            "DoesNotExist": f"!{key}",
        }.get(op, "<error>")
        reqs.append((key, text))
    return ",".join(text for _, text in sorted(reqs, key=lambda r: r[0]))


def format_selector(selector: Obj | None) -> str:
    """``metav1.FormatLabelSelector``: like :func:`selector_string` but ``<none>`` when empty."""
    return selector_string(selector) or "<none>"


def _containers(template_spec: Obj) -> tuple[str, str]:
    containers = template_spec.get("containers") or []
    return (
        ",".join(c.get("name", "") for c in containers),
        ",".join(c.get("image", "") for c in containers),
    )


def _pod_template(o: Obj) -> Obj:
    return (_spec(o).get("template") or {}).get("spec") or {}


def _int_or_string(value: Any) -> str:
    return "N/A" if value is None else str(value)


def _bool_ptr(value: Any) -> str:
    return "<unset>" if value is None else ("True" if value else "False")


def _list_with_more(items: list[str], total: int, maximum: int = 3, empty: str = "") -> str:
    text = ",".join(items[:maximum])
    if total > maximum:
        return f"{text} + {total - maximum} more..."
    return text or empty


def _condition_true(conditions: list[Obj] | None, type_: str) -> bool:
    for cond in conditions or []:
        if cond.get("type") == type_:
            return cond.get("status") == "True"
    return False


def _access_modes(modes: list[str] | None) -> str:
    short = [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    return ",".join(abbr for mode, abbr in short if mode in (modes or []))


def _lb_ingress(status: Obj) -> str:
    seen: list[str] = []
    for ing in (status.get("loadBalancer") or {}).get("ingress") or []:
        value = ing.get("ip") or ing.get("hostname")
        if value and value not in seen:
            seen.append(value)
    return ",".join(seen)


# --- rows, one function per kind ---------------------------------------------------------------


def _restartable_init(container: Obj | None) -> bool:
    return bool(container) and (container or {}).get("restartPolicy") == "Always"


def _pod_cells(o: Obj) -> tuple[Row, list[Obj]]:
    spec, status = _spec(o), _status(o)
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    row_conditions: list[Obj] = []
    if phase == "Succeeded":
        row_conditions = [
            {
                "type": "Completed",
                "status": "True",
                "reason": "Succeeded",
                "message": "The pod has completed successfully.",
            }
        ]
    elif phase == "Failed":
        row_conditions = [
            {
                "type": "Completed",
                "status": "True",
                "reason": "Failed",
                "message": "The pod failed.",
            }
        ]
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}
    total = len(spec.get("containers") or []) + sum(
        1 for c in init_specs.values() if _restartable_init(c)
    )
    ready = restarts = sidecar_restarts = 0
    last_restart: str = ""
    last_sidecar_restart: str = ""

    def finished_at(cs: Obj) -> str:
        return str(((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt") or "")

    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += cs.get("restartCount", 0)
        last_restart = max(last_restart, finished_at(cs))
        sidecar = _restartable_init(init_specs.get(cs.get("name")))
        if sidecar:
            sidecar_restarts += cs.get("restartCount", 0)
            last_sidecar_restart = max(last_sidecar_restart, finished_at(cs))
        state = cs.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated and terminated.get("exitCode", 0) == 0:
            continue
        if sidecar and cs.get("started"):
            ready += 1 if cs.get("ready") else 0
            continue
        if terminated:
            if terminated.get("reason"):
                reason = "Init:" + terminated["reason"]
            elif terminated.get("signal"):
                reason = f"Init:Signal:{terminated['signal']}"
            else:
                reason = f"Init:ExitCode:{terminated.get('exitCode', 0)}"
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break
    if not initializing or _condition_true(status.get("conditions"), "Initialized"):
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += cs.get("restartCount", 0)
            last_restart = max(last_restart, finished_at(cs))
            state = cs.get("state") or {}
            terminated, waiting = state.get("terminated"), state.get("waiting")
            if waiting and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated and terminated.get("reason"):
                reason = terminated["reason"]
            elif terminated:
                if terminated.get("signal"):
                    reason = f"Signal:{terminated['signal']}"
                else:
                    reason = f"ExitCode:{terminated.get('exitCode', 0)}"
            elif cs.get("ready") and "running" in state:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            ready_cond = _condition_true(status.get("conditions"), "Ready")
            reason = "Running" if ready_cond else "NotReady"
    deleting = bool(_meta(o).get("deletionTimestamp"))
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    restarts_text = str(restarts)
    if restarts and last_restart:
        restarts_text = f"{restarts} ({age(last_restart)} ago)"
    ips = status.get("podIPs") or []
    gates = spec.get("readinessGates") or []
    gates_text = "<none>"
    if gates:
        by_type: dict[str, Obj] = {}
        for cond in status.get("conditions") or []:
            by_type.setdefault(cond.get("type", ""), cond)
        true = sum(
            1
            for g in gates
            if (by_type.get(g.get("conditionType", "")) or {}).get("status") == "True"
        )
        gates_text = f"{true}/{len(gates)}"
    cells = [
        _meta(o).get("name", ""),
        f"{ready}/{total}",
        reason,
        restarts_text,
        _created(o),
        (ips[0].get("ip") if ips else "") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gates_text,
    ]
    return cells, row_conditions


def _job_status(o: Obj) -> str:
    conditions = _status(o).get("conditions")
    if _condition_true(conditions, "Complete"):
        return "Complete"
    if _condition_true(conditions, "Failed"):
        return "Failed"
    if _meta(o).get("deletionTimestamp"):
        return "Terminating"
    if _condition_true(conditions, "Suspended"):
        return "Suspended"
    if _condition_true(conditions, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def _job_row(o: Obj) -> Row:
    spec, status = _spec(o), _status(o)
    succeeded = status.get("succeeded", 0)
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    elif (spec.get("parallelism") or 0) > 1:
        completions = f"{succeeded}/1 of {spec['parallelism']}"
    else:
        completions = f"{succeeded}/1"
    start, end = _parse(status.get("startTime")), _parse(status.get("completionTime"))
    duration = ""
    if start and end:
        duration = human_duration((end - start).total_seconds())
    elif start:
        duration = human_duration((datetime.datetime.now(datetime.UTC) - start).total_seconds())
    names, images = _containers(_pod_template(o))
    return [
        _meta(o).get("name", ""),
        _job_status(o),
        completions,
        duration,
        _created(o),
        names,
        images,
        format_selector(spec.get("selector")),
    ]


def _service_external_ip(o: Obj) -> str:
    spec = _spec(o)
    external = spec.get("externalIPs") or []
    kind = spec.get("type", "")
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if kind == "LoadBalancer":
        lb = _lb_ingress(_status(o))
        if external:
            return ",".join(([*lb.split(",")] if lb else []) + external)
        return lb or "<pending>"
    if kind == "ExternalName":
        return str(spec.get("externalName", ""))
    return "<unknown>"


def _service_row(o: Obj) -> Row:
    spec = _spec(o)
    ports = ",".join(
        f"{p.get('port')}:{p['nodePort']}/{p.get('protocol', 'TCP')}"
        if p.get("nodePort")
        else f"{p.get('port')}/{p.get('protocol', 'TCP')}"
        for p in spec.get("ports") or []
    )
    return [
        _meta(o).get("name", ""),
        spec.get("type", ""),
        (spec.get("clusterIPs") or ["<none>"])[0],
        _service_external_ip(o),
        ports or "<none>",
        _created(o),
        format_labels(spec.get("selector")),
    ]


def _ingress_row(o: Obj) -> Row:
    spec = _spec(o)
    rules = spec.get("rules") or []
    hosts: list[str] = []
    more = False
    for rule in rules:  # formatHosts: the first three hosts, "+ N more..." counts rules
        more = more or len(hosts) == 3
        if not more and rule.get("host"):
            hosts.append(rule["host"])
    hosts_text = ",".join(hosts) or "*"
    if more and hosts:
        hosts_text = f"{hosts_text} + {len(rules) - 3} more..."
    return [
        _meta(o).get("name", ""),
        spec.get("ingressClassName") or "<none>",
        hosts_text,
        _lb_ingress(_status(o)),
        "80, 443" if spec.get("tls") else "80",
        _created(o),
    ]


def _node_row(o: Obj) -> Row:
    status, labels = _status(o), _meta(o).get("labels") or {}
    states = []
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Ready":
            states = ["Ready" if cond.get("status") == "True" else "NotReady"]
    states = states or ["Unknown"]
    if _spec(o).get("unschedulable"):
        states.append("SchedulingDisabled")
    roles = {
        k[len("node-role.kubernetes.io/") :]
        for k in labels
        if k.startswith("node-role.kubernetes.io/")
    }
    if labels.get("kubernetes.io/role"):
        roles.add(labels["kubernetes.io/role"])
    roles.discard("")
    info = status.get("nodeInfo") or {}

    def address(kind: str) -> str:
        for a in status.get("addresses") or []:
            if a.get("type") == kind:
                return str(a.get("address", ""))
        return "<none>"

    return [
        _meta(o).get("name", ""),
        ",".join(states),
        ",".join(sorted(roles)) or "<none>",
        _created(o),
        info.get("kubeletVersion", ""),
        address("InternalIP"),
        address("ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _event_row(o: Obj) -> Row:
    first = age(o["firstTimestamp"]) if o.get("firstTimestamp") else age(o.get("eventTime"))
    last = age(o["lastTimestamp"]) if o.get("lastTimestamp") else first
    count = o.get("count") or 1
    series = o.get("series")
    if series:
        last = age(series.get("lastObservedTime"))
        count = series.get("count", 0)
    involved = o.get("involvedObject") or {}
    kind = str(involved.get("kind", "")).lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = o.get("source") or {}
    component = source.get("component") or o.get("reportingComponent") or ""
    host = source.get("host") or o.get("reportingInstance") or ""
    return [
        last,
        o.get("type", ""),
        o.get("reason", ""),
        target,
        involved.get("fieldPath", ""),
        f"{component}, {host}" if host else component,
        str(o.get("message", "")).strip(),
        first,
        count,
        _meta(o).get("name", ""),
    ]


def _endpoints_text(o: Obj) -> str:
    subsets = o.get("subsets") or []
    if not subsets:
        return "<none>"
    found: list[str] = []
    count = 0
    for ss in subsets:
        addresses = [a.get("ip", "") for a in ss.get("addresses") or []]
        ports = ss.get("ports") or []
        if not ports:
            count += len(addresses)
            found += addresses
            continue
        for port in ports:
            count += len(addresses)
            for ip in addresses:
                found.append(
                    f"[{ip}]:{port.get('port')}" if ":" in ip else f"{ip}:{port.get('port')}"
                )
    return _list_with_more(found, count)


def _endpoint_slice_row(o: Obj) -> Row:
    ports = []
    for p in o.get("ports") or []:
        ports.append(str(p["port"]) if p.get("port") is not None else p.get("name") or "*")
    addresses = [a for e in o.get("endpoints") or [] for a in e.get("addresses") or []]
    return [
        _meta(o).get("name", ""),
        o.get("addressType", ""),
        _list_with_more(ports, len(ports), empty="<unset>"),
        _list_with_more(addresses, len(addresses), empty="<unset>"),
        _created(o),
    ]


def _storage_class(o: Obj, spec: Obj) -> str:
    annotations = _meta(o).get("annotations") or {}
    beta = annotations.get("volume.beta.kubernetes.io/storage-class")
    if beta is not None:
        return str(beta)
    return str(spec.get("storageClassName") or "")


def _pv_row(o: Obj) -> Row:
    spec, status = _spec(o), _status(o)
    claim = spec.get("claimRef")
    return [
        _meta(o).get("name", ""),
        str((spec.get("capacity") or {}).get("storage", "0")),
        _access_modes(spec.get("accessModes")),
        spec.get("persistentVolumeReclaimPolicy", ""),
        "Terminating" if _meta(o).get("deletionTimestamp") else status.get("phase", ""),
        f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim else "",
        _storage_class(o, spec),
        spec.get("volumeAttributesClassName") or "<unset>",
        status.get("reason", ""),
        _created(o),
        spec.get("volumeMode") or "<unset>",
    ]


def _pvc_row(o: Obj) -> Row:
    spec, status = _spec(o), _status(o)
    capacity = modes = ""
    if spec.get("volumeName"):
        modes = _access_modes(status.get("accessModes"))
        capacity = str((status.get("capacity") or {}).get("storage", "0"))
    return [
        _meta(o).get("name", ""),
        "Terminating" if _meta(o).get("deletionTimestamp") else status.get("phase", ""),
        spec.get("volumeName", ""),
        capacity,
        modes,
        _storage_class(o, spec),
        spec.get("volumeAttributesClassName") or "<unset>",
        _created(o),
        spec.get("volumeMode") or "<unset>",
    ]


def _hpa_metrics(o: Obj) -> str:
    specs = _spec(o).get("metrics") or []
    statuses = _status(o).get("currentMetrics") or []
    if not specs:
        return "<none>"
    out = []
    for i, metric in enumerate(specs):
        kind = metric.get("type", "")
        current_status = statuses[i] if i < len(statuses) else {}
        key = {
            "Resource": "resource",
            "ContainerResource": "containerResource",
            "Pods": "pods",
            "Object": "object",
            "External": "external",
        }.get(kind)
        if key is None:
            out.append("<unknown type>")
            continue
        source = metric.get(key) or {}
        target = source.get("target") or {}
        current = (current_status.get(key) or {}).get("current") or {}
        if kind in ("Resource", "ContainerResource"):
            if target.get("averageValue") is not None:
                now_ = current.get("averageValue", "<unknown>")
                out.append(f"{source.get('name', '')}: {now_}/{target['averageValue']}")
            else:
                util = current.get("averageUtilization")
                now_ = f"{util}%" if util is not None else "<unknown>"
                want = target.get("averageUtilization")
                want_text = f"{want}%" if want is not None else "<auto>"
                out.append(f"{source.get('name', '')}: {now_}/{want_text}")
        elif kind == "Pods":
            out.append(f"{current.get('averageValue', '<unknown>')}/{target.get('averageValue')}")
        elif target.get("averageValue") is not None:
            now_ = current.get("averageValue", "<unknown>")
            out.append(f"{now_}/{target['averageValue']} (avg)")
        else:
            out.append(f"{current.get('value', '<unknown>')}/{target.get('value')}")
    text = ", ".join(out[:2])
    return f"{text} + {len(out) - 2} more..." if len(out) > 2 else text


def _subjects(o: Obj) -> list[str]:
    users, groups, sas = [], [], []
    for s in o.get("subjects") or []:
        if s.get("kind") == "ServiceAccount":
            sas.append(f"{s.get('namespace', '')}/{s.get('name', '')}")
        elif s.get("kind") == "User":
            users.append(s.get("name", ""))
        elif s.get("kind") == "Group":
            groups.append(s.get("name", ""))
    return [", ".join(users), ", ".join(groups), ", ".join(sas)]


def _binding_row(o: Obj) -> Row:
    ref = o.get("roleRef") or {}
    return [
        _meta(o).get("name", ""),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        _created(o),
        *_subjects(o),
    ]


def _controller_revision_row(o: Obj) -> Row:
    controller = "<none>"
    for ref in _meta(o).get("ownerReferences") or []:
        if ref.get("controller"):
            group = str(ref.get("apiVersion", "")).rpartition("/")[0]
            kind = ref.get("kind", "") + (f".{group}" if group else "")
            controller = f"{kind.lower()}/{ref.get('name', '')}"
    return [_meta(o).get("name", ""), controller, o.get("revision", 0), _created(o)]


def _resource_quota_row(o: Obj) -> Row:
    status = _status(o)
    hard, used = status.get("hard") or {}, status.get("used") or {}
    request, limit = [], []
    for resource in sorted(hard):
        column = limit if resource.split(".")[0] == "limits" and "." in resource else request
        column.append(f"{resource}: {used.get(resource, '0')}/{hard[resource]}")
    return [_meta(o).get("name", ""), _created(o), ", ".join(request), ", ".join(limit)]


def _storage_class_row(o: Obj) -> Row:
    annotations = _meta(o).get("annotations") or {}
    default = "true" in (
        annotations.get("storageclass.kubernetes.io/is-default-class"),
        annotations.get("storageclass.beta.kubernetes.io/is-default-class"),
    )
    return [
        _meta(o).get("name", "") + (" (default)" if default else ""),
        o.get("provisioner", ""),
        o.get("reclaimPolicy") or "Delete",
        o.get("volumeBindingMode") or "Immediate",
        bool(o.get("allowVolumeExpansion")),
        _created(o),
    ]


def _name_age(extra: Callable[[Obj], Row]) -> Callable[[Obj], Row]:
    """Rows shaped ``name, <extra cells>, age``."""
    return lambda o: [_meta(o).get("name", ""), *extra(o), _created(o)]


# --- the table of printers -------------------------------------------------------------------

Printer = tuple[Callable[[], list[dict[str, Any]]], Callable[[Obj], Row]]


def _core(kind: str, field: str) -> str:
    return _doc(f"core.v1.{kind}", field)


def _apps(kind: str, field: str) -> str:
    return _doc(f"apps.v1.{kind}", field)


def _batch(kind: str, field: str) -> str:
    return _doc(f"batch.v1.{kind}", field)


def _workload_cells(o: Obj, selector: bool = True) -> Row:
    names, images = _containers(_pod_template(o))
    return (
        [names, images, format_selector(_spec(o).get("selector"))]
        if selector
        else [
            names,
            images,
        ]
    )


PRINTERS: dict[str, Printer] = {
    "pods": (
        lambda: [
            _name_col(),
            _col("Ready", "The aggregate readiness state of this pod for accepting traffic."),
            _col("Status", "The aggregate status of the containers in this pod."),
            _col(
                "Restarts",
                "The number of times the containers in this pod have been restarted and when "
                "the last container in this pod has restarted.",
            ),
            _age_col(),
            _col("IP", _core("PodStatus", "podIP"), priority=1),
            _col("Node", _core("PodSpec", "nodeName"), priority=1),
            _col("Nominated Node", _core("PodStatus", "nominatedNodeName"), priority=1),
            _col("Readiness Gates", _core("PodSpec", "readinessGates"), priority=1),
        ],
        lambda o: _pod_cells(o)[0],
    ),
    "poddisruptionbudgets": (
        lambda: [
            _name_col(),
            _col("Min Available", "The minimum number of pods that must be available."),
            _col("Max Unavailable", "The maximum number of pods that may be unavailable."),
            _col(
                "Allowed Disruptions",
                "Calculated number of pods that may be disrupted at this time.",
                "integer",
            ),
            _age_col(),
        ],
        _name_age(
            lambda o: [
                _int_or_string(_spec(o).get("minAvailable")),
                _int_or_string(_spec(o).get("maxUnavailable")),
                _status(o).get("disruptionsAllowed", 0),
            ]
        ),
    ),
    "replicasets": (
        lambda: [
            _name_col(),
            _col("Desired", _apps("ReplicaSetSpec", "replicas"), "integer"),
            _col("Current", _apps("ReplicaSetStatus", "replicas"), "integer"),
            _col("Ready", _apps("ReplicaSetStatus", "readyReplicas"), "integer"),
            _age_col(),
            *_template_cols(_apps("ReplicaSetSpec", "selector")),
        ],
        lambda o: [
            _meta(o).get("name", ""),
            _spec(o).get("replicas", 0),
            _status(o).get("replicas", 0),
            _status(o).get("readyReplicas", 0),
            _created(o),
            *_workload_cells(o),
        ],
    ),
    "replicationcontrollers": (
        lambda: [
            _name_col(),
            _col("Desired", _core("ReplicationControllerSpec", "replicas"), "integer"),
            _col("Current", _core("ReplicationControllerStatus", "replicas"), "integer"),
            _col("Ready", _core("ReplicationControllerStatus", "readyReplicas"), "integer"),
            _age_col(),
            *_template_cols(_core("ReplicationControllerSpec", "selector")),
        ],
        lambda o: [
            _meta(o).get("name", ""),
            _spec(o).get("replicas", 0),
            _status(o).get("replicas", 0),
            _status(o).get("readyReplicas", 0),
            _created(o),
            *_workload_cells(o, selector=False),
            format_labels(_spec(o).get("selector")),
        ],
    ),
    "daemonsets": (
        lambda: [
            _name_col(),
            _col("Desired", _apps("DaemonSetStatus", "desiredNumberScheduled"), "integer"),
            _col("Current", _apps("DaemonSetStatus", "currentNumberScheduled"), "integer"),
            _col("Ready", _apps("DaemonSetStatus", "numberReady"), "integer"),
            _col("Up-to-date", _apps("DaemonSetStatus", "updatedNumberScheduled"), "integer"),
            _col("Available", _apps("DaemonSetStatus", "numberAvailable"), "integer"),
            _col("Node Selector", _core("PodSpec", "nodeSelector")),
            _age_col(),
            *_template_cols(_apps("DaemonSetSpec", "selector")),
        ],
        lambda o: [
            _meta(o).get("name", ""),
            _status(o).get("desiredNumberScheduled", 0),
            _status(o).get("currentNumberScheduled", 0),
            _status(o).get("numberReady", 0),
            _status(o).get("updatedNumberScheduled", 0),
            _status(o).get("numberAvailable", 0),
            format_labels(_pod_template(o).get("nodeSelector")),
            _created(o),
            *_workload_cells(o),
        ],
    ),
    "jobs": (
        lambda: [
            _name_col(),
            _col("Status", "Status of the job."),
            _col("Completions", _batch("JobStatus", "succeeded")),
            _col("Duration", "Time required to complete the job."),
            _age_col(),
            *_template_cols(_batch("JobSpec", "selector")),
        ],
        _job_row,
    ),
    "cronjobs": (
        lambda: [
            _name_col(),
            _col("Schedule", _batch("CronJobSpec", "schedule")),
            _col("Timezone", _batch("CronJobSpec", "timeZone")),
            _col("Suspend", _batch("CronJobSpec", "suspend"), "boolean"),
            _col("Active", _batch("CronJobStatus", "active"), "integer"),
            _col("Last Schedule", _batch("CronJobStatus", "lastScheduleTime")),
            _age_col(),
            *_template_cols(_batch("JobSpec", "selector")),
        ],
        lambda o: [
            _meta(o).get("name", ""),
            _spec(o).get("schedule", ""),
            _spec(o).get("timeZone") or "<none>",
            _bool_ptr(_spec(o).get("suspend")),
            len(_status(o).get("active") or []),
            age(_status(o)["lastScheduleTime"]) if _status(o).get("lastScheduleTime") else "<none>",
            _created(o),
            *_containers(
                ((_spec(o).get("jobTemplate") or {}).get("spec") or {})
                .get("template", {})
                .get("spec")
                or {}
            ),
            format_selector(
                ((_spec(o).get("jobTemplate") or {}).get("spec") or {}).get("selector")
            ),
        ],
    ),
    "services": (
        lambda: [
            _name_col(),
            _col("Type", _core("ServiceSpec", "type")),
            _col("Cluster-IP", _core("ServiceSpec", "clusterIP")),
            _col("External-IP", _core("ServiceSpec", "externalIPs")),
            _col("Port(s)", _core("ServiceSpec", "ports")),
            _age_col(),
            _col("Selector", _core("ServiceSpec", "selector"), priority=1),
        ],
        _service_row,
    ),
    "ingresses": (
        lambda: [
            _name_col(),
            _col(
                "Class",
                "The name of the IngressClass resource that should be used for additional "
                "configuration",
            ),
            _col(
                "Hosts", "Hosts that incoming requests are matched against before the ingress rule"
            ),
            _col("Address", "Address is a list containing ingress points for the load-balancer"),
            _col("Ports", "Ports of TLS configurations that open"),
            _age_col(),
        ],
        _ingress_row,
    ),
    "ingressclasses": (
        lambda: [
            _name_col(),
            _col("Controller", "Controller that is responsible for handling this class"),
            _col("Parameters", "A reference to a resource with additional parameters"),
            _age_col(),
        ],
        _name_age(
            lambda o: [
                _spec(o).get("controller", ""),
                (
                    lambda p: (
                        f"{p.get('kind', '')}"
                        f"{'.' + p['apiGroup'] if p.get('apiGroup') else ''}/{p.get('name', '')}"
                        if p
                        else "<none>"
                    )
                )(_spec(o).get("parameters")),
            ]
        ),
    ),
    "statefulsets": (
        lambda: [
            _name_col(),
            _col("Ready", "Number of the pod with ready state"),
            _age_col(),
            *_template_cols(None),
        ],
        lambda o: [
            _meta(o).get("name", ""),
            f"{_status(o).get('readyReplicas', 0)}/{_spec(o).get('replicas', 0)}",
            _created(o),
            *_workload_cells(o, selector=False),
        ],
    ),
    "endpoints": (
        lambda: [_name_col(), _col("Endpoints", _core("Endpoints", "subsets")), _age_col()],
        _name_age(lambda o: [_endpoints_text(o)]),
    ),
    "nodes": (
        lambda: [
            _name_col(),
            _col("Status", "The status of the node"),
            _col("Roles", "The roles of the node"),
            _age_col(),
            _col("Version", _core("NodeSystemInfo", "kubeletVersion")),
            _col("Internal-IP", _core("NodeStatus", "addresses"), priority=1),
            _col("External-IP", _core("NodeStatus", "addresses"), priority=1),
            _col("OS-Image", _core("NodeSystemInfo", "osImage"), priority=1),
            _col("Kernel-Version", _core("NodeSystemInfo", "kernelVersion"), priority=1),
            _col(
                "Container-Runtime", _core("NodeSystemInfo", "containerRuntimeVersion"), priority=1
            ),
        ],
        _node_row,
    ),
    "events": (
        lambda: [
            _col("Last Seen", _core("Event", "lastTimestamp")),
            _col("Type", _core("Event", "type")),
            _col("Reason", _core("Event", "reason")),
            _col("Object", _core("Event", "involvedObject")),
            _col("Subobject", _core("ObjectReference", "fieldPath"), priority=1),
            _col("Source", _core("Event", "source"), priority=1),
            _col("Message", _core("Event", "message")),
            _col("First Seen", _core("Event", "firstTimestamp"), priority=1),
            _col("Count", _core("Event", "count"), priority=1),
            _col("Name", _doc(_META, "name"), priority=1, fmt="name"),
        ],
        _event_row,
    ),
    "namespaces": (
        lambda: [_name_col(), _col("Status", "The status of the namespace"), _age_col()],
        _name_age(lambda o: [_status(o).get("phase", "")]),
    ),
    "secrets": (
        lambda: [
            _name_col(),
            _col("Type", _core("Secret", "type")),
            _col("Data", _core("Secret", "data")),
            _age_col(),
        ],
        _name_age(lambda o: [o.get("type", ""), len(o.get("data") or {})]),
    ),
    "serviceaccounts": (
        lambda: [_name_col(), _col("Secrets", _core("ServiceAccount", "secrets")), _age_col()],
        _name_age(lambda o: [len(o.get("secrets") or [])]),
    ),
    "persistentvolumes": (
        lambda: [
            _name_col(),
            _col("Capacity", _core("PersistentVolumeSpec", "capacity")),
            _col("Access Modes", _core("PersistentVolumeSpec", "accessModes")),
            _col("Reclaim Policy", _core("PersistentVolumeSpec", "persistentVolumeReclaimPolicy")),
            _col("Status", _core("PersistentVolumeStatus", "phase")),
            _col("Claim", _core("PersistentVolumeSpec", "claimRef")),
            _col("StorageClass", "StorageClass of the pv"),
            _col("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
            _col("Reason", _core("PersistentVolumeStatus", "reason")),
            _age_col(),
            _col("VolumeMode", _core("PersistentVolumeSpec", "volumeMode"), priority=1),
        ],
        _pv_row,
    ),
    "persistentvolumeclaims": (
        lambda: [
            _name_col(),
            _col("Status", _core("PersistentVolumeClaimStatus", "phase")),
            _col("Volume", _core("PersistentVolumeClaimSpec", "volumeName")),
            _col("Capacity", _core("PersistentVolumeClaimStatus", "capacity")),
            _col("Access Modes", _core("PersistentVolumeClaimStatus", "accessModes")),
            _col("StorageClass", "StorageClass of the pvc"),
            _col("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
            _age_col(),
            _col("VolumeMode", _core("PersistentVolumeClaimSpec", "volumeMode"), priority=1),
        ],
        _pvc_row,
    ),
    "deployments": (
        lambda: [
            _name_col(),
            _col("Ready", "Number of the pod with ready state"),
            _col("Up-to-date", _apps("DeploymentStatus", "updatedReplicas")),
            _col("Available", _apps("DeploymentStatus", "availableReplicas")),
            _age_col(),
            *_template_cols(_apps("DeploymentSpec", "selector")),
        ],
        lambda o: [
            _meta(o).get("name", ""),
            f"{_status(o).get('readyReplicas', 0)}/{_spec(o).get('replicas', 0)}",
            _status(o).get("updatedReplicas", 0),
            _status(o).get("availableReplicas", 0),
            _created(o),
            *_containers(_pod_template(o)),
            selector_string(_spec(o).get("selector")),
        ],
    ),
    "horizontalpodautoscalers": (
        lambda: [
            _name_col(),
            _col("Reference", _doc("autoscaling.v2.HorizontalPodAutoscalerSpec", "scaleTargetRef")),
            _col("Targets", _doc("autoscaling.v2.HorizontalPodAutoscalerSpec", "metrics")),
            _col("MinPods", _doc("autoscaling.v2.HorizontalPodAutoscalerSpec", "minReplicas")),
            _col("MaxPods", _doc("autoscaling.v2.HorizontalPodAutoscalerSpec", "maxReplicas")),
            _col(
                "Replicas", _doc("autoscaling.v2.HorizontalPodAutoscalerStatus", "currentReplicas")
            ),
            _age_col(),
        ],
        _name_age(
            lambda o: [
                f"{(_spec(o).get('scaleTargetRef') or {}).get('kind', '')}/"
                f"{(_spec(o).get('scaleTargetRef') or {}).get('name', '')}",
                _hpa_metrics(o),
                str(_spec(o)["minReplicas"])
                if _spec(o).get("minReplicas") is not None
                else "<unset>",
                _spec(o).get("maxReplicas", 0),
                _status(o).get("currentReplicas", 0),
            ]
        ),
    ),
    "configmaps": (
        lambda: [_name_col(), _col("Data", _core("ConfigMap", "data")), _age_col()],
        _name_age(lambda o: [len(o.get("data") or {}) + len(o.get("binaryData") or {})]),
    ),
    "networkpolicies": (
        lambda: [
            _name_col(),
            _col("Pod-Selector", _doc("networking.v1.NetworkPolicySpec", "podSelector")),
            _age_col(),
        ],
        _name_age(lambda o: [format_selector(_spec(o).get("podSelector") or {})]),
    ),
    "rolebindings": (
        lambda: [
            _name_col(),
            _col("Role", _doc("rbac.v1.RoleBinding", "roleRef")),
            _age_col(),
            _col("Users", "Users in the roleBinding", priority=1),
            _col("Groups", "Groups in the roleBinding", priority=1),
            _col("ServiceAccounts", "ServiceAccounts in the roleBinding", priority=1),
        ],
        _binding_row,
    ),
    "clusterrolebindings": (
        lambda: [
            _name_col(),
            _col("Role", _doc("rbac.v1.ClusterRoleBinding", "roleRef")),
            _age_col(),
            _col("Users", "Users in the clusterRoleBinding", priority=1),
            _col("Groups", "Groups in the clusterRoleBinding", priority=1),
            _col("ServiceAccounts", "ServiceAccounts in the clusterRoleBinding", priority=1),
        ],
        _binding_row,
    ),
    "leases": (
        lambda: [
            _name_col(),
            _col("Holder", _doc("coordination.v1.LeaseSpec", "holderIdentity")),
            _age_col(),
        ],
        _name_age(lambda o: [_spec(o).get("holderIdentity") or ""]),
    ),
    "storageclasses": (
        lambda: [
            _name_col(),
            _col("Provisioner", _doc("storage.v1.StorageClass", "provisioner")),
            _col("ReclaimPolicy", _doc("storage.v1.StorageClass", "reclaimPolicy")),
            _col("VolumeBindingMode", _doc("storage.v1.StorageClass", "volumeBindingMode")),
            _col("AllowVolumeExpansion", _doc("storage.v1.StorageClass", "allowVolumeExpansion")),
            _age_col(),
        ],
        _storage_class_row,
    ),
    "controllerrevisions": (
        lambda: [
            _name_col(),
            _col("Controller", "Controller of the object"),
            _col("Revision", _apps("ControllerRevision", "revision")),
            _age_col(),
        ],
        _controller_revision_row,
    ),
    "resourcequotas": (
        lambda: [
            _name_col(),
            _age_col(),
            _col(
                "Request",
                "Request represents a minimum amount of cpu/memory that a container may consume.",
            ),
            _col(
                "Limit",
                "Limits control the maximum amount of cpu/memory that a container may use "
                "independent of contention on the node.",
            ),
        ],
        _resource_quota_row,
    ),
    "priorityclasses": (
        lambda: [
            _name_col(),
            _col("Value", _doc("scheduling.v1.PriorityClass", "value"), "integer"),
            _col("Global-Default", _doc("scheduling.v1.PriorityClass", "globalDefault"), "boolean"),
            _age_col(),
            _col("PreemptionPolicy", _doc("scheduling.v1.PriorityClass", "preemptionPolicy")),
        ],
        lambda o: [
            _meta(o).get("name", ""),
            o.get("value", 0),
            bool(o.get("globalDefault")),
            _created(o),
            o.get("preemptionPolicy") or "",
        ],
    ),
    "endpointslices": (
        lambda: [
            _name_col(),
            _col("AddressType", _doc("discovery.v1.EndpointSlice", "addressType")),
            _col("Ports", _doc("discovery.v1.EndpointSlice", "ports")),
            _col("Endpoints", _doc("discovery.v1.EndpointSlice", "endpoints")),
            _age_col(),
        ],
        _endpoint_slice_row,
    ),
}

# Built-in kinds that kube-apiserver serves without a printer: its default table convertor
# shows the name and the creation time as an RFC 3339 date ("NAME  CREATED AT").
DEFAULT_CONVERTOR = {"roles", "clusterroles", "limitranges"}


def _generic(resource: Resource) -> Printer:
    if resource.plural in DEFAULT_CONVERTOR:
        return (
            lambda: [_name_col(), _col("Created At", _doc(_META, "creationTimestamp"), "date")],
            lambda o: [_meta(o).get("name", ""), _meta(o).get("creationTimestamp", "")],
        )
    # What a CustomResourceDefinition without additionalPrinterColumns gets.
    return (
        lambda: [
            _name_col(),
            _col(
                "Age",
                "Custom resource definition column (in JSONPath format): "
                ".metadata.creationTimestamp",
                "date",
            ),
        ],
        lambda o: [_meta(o).get("name", ""), _created(o)],
    )


@functools.cache
def column_definitions(plural: str) -> list[dict[str, Any]]:
    printer = PRINTERS.get(plural)
    return printer[0]() if printer else []


def _row_object(resource: Resource, obj: Obj, include: str) -> Obj | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def table(
    resource: Resource,
    objects: list[Obj],
    list_meta: dict[str, Any],
    include_object: str | None = None,
) -> dict[str, Any]:
    """A ``meta.k8s.io/v1`` Table of ``objects``; ``include_object`` is the query parameter
    ``includeObject`` (``None``, ``Object`` or, by default, ``Metadata``)."""
    printer = PRINTERS.get(resource.plural) or _generic(resource)
    definitions = (
        list(column_definitions(resource.plural)) if resource.plural in PRINTERS else printer[0]()
    )
    rows = []
    for obj in objects:
        if resource.plural == "pods":
            cells, conditions = _pod_cells(obj)
        else:
            cells, conditions = printer[1](obj), []
        row: dict[str, Any] = {"cells": cells}
        if conditions:
            row["conditions"] = conditions  # kubectl hides finished pods' rows by these
        row["object"] = _row_object(resource, obj, include_object or "Metadata")
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": definitions,
        "rows": rows,
    }
