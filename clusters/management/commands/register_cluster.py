from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db import transaction

from audit import services as audit
from audit.commands import AuditedCommand
from clusters.admin import kubeconfig_problem
from clusters.kube import ClusterClient, ClusterError
from clusters.models import Cluster, Namespace


class Command(AuditedCommand):
    help = (
        "Create or update a cluster from a kubeconfig file, with namespaces to deploy to "
        "(`make run` registers the sandbox this way)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--kubeconfig", required=True, type=Path)
        parser.add_argument("--context", default="")
        parser.add_argument("--namespace", action="append", default=[], dest="namespaces")
        parser.add_argument("--registry-url", default=None, help="where the cluster pulls from")
        parser.add_argument("--registry-username", default=None)
        parser.add_argument(
            "--registry-password-file", type=Path, default=None,
            help="a file holding the registry password (not an argument: ps would show it)",
        )  # fmt: skip
        parser.add_argument(
            "--create-namespaces",
            action="store_true",
            help="also create the namespaces in the cluster if they are missing",
        )

    def handle(self, *args, name, kubeconfig: Path, context, namespaces, create_namespaces,
               registry_url, registry_username, registry_password_file, **options):  # fmt: skip
        try:
            text = kubeconfig.read_text()
        except OSError as error:
            raise CommandError(f"Cannot read {kubeconfig}: {error.strerror}") from None
        problem = kubeconfig_problem(text, context)
        if problem:
            raise CommandError(f"{kubeconfig}: {problem}")
        cluster = Cluster.objects.filter(name=name).first() or Cluster(name=name)
        before = Cluster.objects.filter(pk=cluster.pk).first() if cluster.pk else None
        cluster.context = context
        cluster.set_kubeconfig(text)
        if registry_url is not None:
            cluster.registry_url = registry_url
        if registry_username is not None:
            cluster.registry_username = registry_username
        if registry_password_file is not None:
            try:
                cluster.set_registry_password(registry_password_file.read_text().strip())
            except OSError as error:
                raise CommandError(
                    f"Cannot read {registry_password_file}: {error.strerror}"
                ) from None
        try:
            cluster.full_clean()
        except ValidationError as error:
            problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
            raise CommandError(problems) from None
        with transaction.atomic():
            cluster.save()
            if before is None:
                audit.record("cluster.created", cluster, changes=audit.created_summary(cluster))
            else:
                audit.record(
                    "cluster.changed", cluster, changes=audit.changes_between(before, cluster)
                )
            for namespace in namespaces:
                row, created = Namespace.objects.get_or_create(cluster=cluster, name=namespace)
                if created:
                    audit.record("namespace.created", row, changes=audit.created_summary(row))
        if create_namespaces:
            client = ClusterClient.for_cluster(cluster)
            try:
                for namespace in namespaces:
                    client.apply(
                        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
                    )
            except ClusterError as error:
                raise CommandError(f"Cluster {name}: {error}") from None
            finally:
                client.close()
        self.stdout.write(f"Cluster {name} registered with namespaces {', '.join(namespaces)}")
