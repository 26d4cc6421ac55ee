"""Turning a release into the objects to apply to one namespace.

Variables: namespace attributes, then release attributes, then the request's attributes (later ones
win), then the deploy-time variables. Objects are checked against the official Kubernetes schemas
(offline, kubernetes-validate) and sorted so that what others depend on is applied first.
"""

from dataclasses import dataclass

import kubernetes_validate
from django.conf import settings

from releases import templating
from releases.templating import TemplateProblem

# Applied first to last, so that what an object needs exists before it (docs/deployments.md):
# namespaces, CRDs, the policies pods are admitted against, identities and RBAC, configuration,
# storage, Services, then workloads. Kinds not listed (custom resources) go after the workloads
# that usually run their controllers, just before Ingresses. Pre-deploy hooks go before all of
# these (deployments/apply.py), in this order among themselves.
APPLY_ORDER = [
    "Namespace",
    "CustomResourceDefinition",
    "PriorityClass",
    "StorageClass",
    "ResourceQuota",
    "LimitRange",
    # Before the pods it restricts, so none of them runs unrestricted even for a moment.
    "NetworkPolicy",
    "ServiceAccount",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Service",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "Pod",
    "ReplicaSet",
    None,  # anything else
    "Ingress",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
]
CLUSTER_SCOPED_KINDS = {
    "Namespace", "CustomResourceDefinition", "PriorityClass", "StorageClass", "ClusterRole",
    "ClusterRoleBinding", "PersistentVolume",
}  # fmt: skip


@dataclass(frozen=True)
class RenderedManifest:
    variables: dict[str, str]
    text: str
    objects: list[dict]  # in apply order, namespaced ones set to the target namespace


def variables_for(*, release, namespace, extra: dict[str, str], deployment_id: int | str) -> dict:
    variables = {**namespace.attributes, **release.attributes, **extra}
    variables.update(
        service=release.service.name,
        version=release.version,
        namespace=namespace.name,
        cluster=namespace.cluster.name,
        release_id=str(release.pk),
        deployment_id=str(deployment_id),
    )
    return variables


def render_for(*, release, namespace, extra: dict[str, str], deployment_id="0") -> RenderedManifest:
    """Render and check the release for a namespace. Raises TemplateProblem saying what is wrong."""
    variables = variables_for(
        release=release, namespace=namespace, extra=extra, deployment_id=deployment_id
    )
    try:
        manifest = templating.render(release.template, variables, known=set(variables))
    except templating.MissingVariables as missing:
        raise TemplateProblem(
            f"No value for {', '.join(missing.names)}: give "
            f"{'it' if len(missing.names) == 1 else 'them'} as attributes of the deployment, or "
            "set them on the namespace."
        ) from None
    objects = [
        place(obj, namespace.name, number) for number, obj in enumerate(manifest.documents, 1)
    ]
    for number, obj in enumerate(objects, 1):
        check_schema(obj, number)
    return RenderedManifest(
        variables=variables, text=manifest.text, objects=sort_for_apply(objects)
    )


def objects_to_apply(text: str, namespace: str) -> list[dict]:
    """The objects of a stored, already checked manifest, placed and in apply order."""
    documents = templating.parse_documents(text)
    return sort_for_apply([place(obj, namespace, n) for n, obj in enumerate(documents, 1)])


def checked_objects_to_apply(deployment) -> list[dict]:
    """The worker's last line of defence, for deployments queued before today's checks existed
    or rows written by other means: render the release again with the deployment's variables
    (every check, in the child process) and make sure the stored manifest has the structure it
    gives (same documents, keys and list lengths; only values may differ). Raises TemplateProblem.
    """
    fresh = templating.render(deployment.release.template, deployment.attributes)
    objects = objects_to_apply(deployment.manifest, deployment.namespace.name)
    stored = templating.parse_documents(deployment.manifest)
    if [shape(doc) for doc in stored] != [shape(doc) for doc in fresh.documents]:
        raise TemplateProblem(
            "The stored manifest does not have the structure the release's template gives with "
            "this deployment's attributes, so it was not applied. Deploy the release again."
        )
    return objects


def shape(value):
    """The structure of a YAML value without its scalars: keys, nesting and list lengths."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return None


def place(obj: dict, namespace: str, number: int) -> dict:
    """Put a namespaced object in the target namespace; one aimed elsewhere is a mistake."""
    if obj["kind"] in CLUSTER_SCOPED_KINDS:
        return obj
    metadata = obj["metadata"]
    given = metadata.get("namespace")
    if given not in (None, "", namespace):
        raise TemplateProblem(
            f"Document {number} ({describe(obj)}) sets namespace {given!r}, but this deployment "
            f"goes to {namespace!r}. Leave metadata.namespace out, or use {{{{ namespace }}}}."
        )
    return {**obj, "metadata": {**metadata, "namespace": namespace}}


def check_schema(obj: dict, number: int) -> None:
    try:
        kubernetes_validate.validate(obj, settings.KUBERNAUT_SCHEMA_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return  # a custom resource: the cluster checks it when it is applied
    except kubernetes_validate.ValidationError as error:
        where = ".".join(str(part) for part in error.path) or "(top level)"
        raise TemplateProblem(
            f"Document {number} ({describe(obj)}) is not a valid {obj['kind']}: "
            f"{where}: {error.message}"
        ) from None


def describe(obj: dict) -> str:
    group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""
    kind = obj["kind"].lower() + (f".{group}" if group else "")
    return f"{kind}/{obj['metadata']['name']}"


def sort_for_apply(objects: list[dict]) -> list[dict]:
    other = APPLY_ORDER.index(None)

    def rank(obj: dict) -> int:
        return APPLY_ORDER.index(obj["kind"]) if obj["kind"] in APPLY_ORDER else other

    return sorted(objects, key=rank)  # stable: the template's order within a kind
