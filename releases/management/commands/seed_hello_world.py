from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from audit.commands import AuditedCommand
from releases import services
from releases.models import Release

TEMPLATE = Path(settings.BASE_DIR) / "examples" / "hello-world" / "kubernetes.yaml"


class Command(AuditedCommand):
    help = "Register the hello-world example release (once), so there is something to deploy."

    def add_arguments(self, parser):
        parser.add_argument("--release-version", dest="version", default="1.0.0")
        parser.add_argument("--user", default="admin", help="who the release is recorded as from")

    def handle(self, *args, version: str, user: str, **options):
        if Release.all_objects.filter(service__name="hello-world", version=version).exists():
            return
        creator = get_user_model().objects.filter(username=user).first()
        if creator is None:
            raise CommandError(f"No user {user!r}: run `manage.py ensure_admin` first.")
        services.create_release(
            service="hello-world",
            version=version,
            template=TEMPLATE.read_text(),
            attributes={"image": f"hello-world:{version}", "replicas": "2"},
            comment="The example release that `make run` seeds.",
            user=creator,
        )
        self.stdout.write(f"Registered release hello-world {version}")
