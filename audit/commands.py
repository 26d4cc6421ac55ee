"""Management commands as a door of the audit trail."""

from django.core.management.base import BaseCommand

from audit.context import acting_as, command_actor


class AuditedCommand(BaseCommand):
    """A BaseCommand whose changes are recorded as made through the `command` door, by the
    operating-system account that ran it (actor_name "<account> (shell)"). Every command that
    changes something derives from it; a command acting for a named user passes `actor=` to
    `audit.services.record` (or the service it calls does)."""

    def execute(self, *args, **options):
        with acting_as(command_actor()):
            return super().execute(*args, **options)
