from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from accounts.models import ApiToken
from audit.commands import AuditedCommand


class Command(AuditedCommand):
    help = "Create an API token for a user and print its key (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="what the token is for, e.g. jenkins")

    def handle(self, *args, username: str, name: str, **options):
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {username!r}; create it in the admin first.")
        _, key = ApiToken.issue(user, name=name)
        self.stdout.write(key)
