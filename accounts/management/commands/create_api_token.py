import getpass

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import ApiToken, service_name_validator
from accounts.services import MAX_EXPIRES_IN_DAYS, create_token
from audit.context import Actor, Door, acting_as


def operator() -> str:
    """Who ran the command, as the operating system knows them."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container's uid may have no passwd entry
        return "unknown"


class Command(BaseCommand):
    help = (
        "Create an API token for a user and print its key (shown only this once) on stdout; "
        "a summary of its scope goes to stderr. The scope only narrows what the user may do."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="what the token is for, e.g. jenkins")
        parser.add_argument(
            "--namespace",
            action="append",
            default=[],
            metavar="CLUSTER/NAMESPACE",
            help="only this namespace (repeat for more); default: every namespace the user may use",
        )
        parser.add_argument(
            "--service",
            action="append",
            default=[],
            metavar="SERVICE",
            help="only this service (repeat for more; it need not exist yet); default: every one",
        )
        parser.add_argument(
            "--read-only", action="store_true", help="only reads (GET), never changes"
        )
        parser.add_argument(
            "--expires-in",
            type=int,
            metavar="DAYS",
            help=f"expire after DAYS days (1-{MAX_EXPIRES_IN_DAYS}); default: never",
        )

    def handle(self, *args, username: str, name: str, **options):
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {username!r}; create it in the admin first.")
        namespaces = [self.find_namespace(given) for given in options["namespace"]]
        services = [self.check_service(given) for given in options["service"]]
        days = options["expires_in"]
        if days is not None and not 1 <= days <= MAX_EXPIRES_IN_DAYS:
            raise CommandError(
                f"--expires-in must be a number of days from 1 to {MAX_EXPIRES_IN_DAYS}, "
                f"not {days}."
            )
        # The actor is the person at the shell, not the token's user: the trail must not say
        # that alice made a token an operator made for her. The OS user is all we know of them.
        with acting_as(Actor(user=None, door=Door.COMMAND)):
            token, key = create_token(
                user,
                name=name,
                namespaces=namespaces,
                services=services,
                read_only=options["read_only"],
                expires_in_days=days,
                actor_name=f"manage.py ({operator()})",
            )
        self.stdout.write(key)  # alone on stdout, so that TOKEN=$(manage.py create_api_token ...)
        self.stderr.write(
            f"Token {token.label} for {user.get_username()}: {token.scope_summary()}. "
            "Copy the key now: it is not shown again."
        )

    def find_namespace(self, given: str):
        Namespace = ApiToken.namespaces.field.related_model
        cluster, slash, name = given.partition("/")
        if not slash or not cluster or not name or "/" in name:
            raise CommandError(
                f"--namespace {given!r}: give it as CLUSTER/NAMESPACE, e.g. sandbox/staging."
            )
        found = (
            Namespace.objects.filter(cluster__name=cluster, name=name, cluster__deleted_at=None)
            .select_related("cluster")
            .first()
        )
        if found is None:
            raise CommandError(
                f"--namespace {given!r}: there is no namespace {name!r} in cluster {cluster!r}; "
                "an admin adds clusters and namespaces in the admin."
            )
        return found

    def check_service(self, given: str) -> str:
        try:
            service_name_validator(given)
        except ValidationError as error:
            raise CommandError(f"--service {given!r}: {error.messages[0]}") from None
        return given
