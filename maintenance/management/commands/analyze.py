from django.core.management.base import BaseCommand

from maintenance import services
from maintenance.models import MaintenanceRun


class Command(BaseCommand):
    help = "ANALYZE Kubernaut's tables now (VACUUM (ANALYZE) those with many dead rows)."

    def handle(self, *args, **options):
        run = services.analyze(MaintenanceRun.Trigger.COMMAND)
        vacuumed = f"; vacuumed {', '.join(run.vacuumed)}" if run.vacuumed else ""
        self.stdout.write(f"Analyzed {len(run.tables)} tables in {run.duration_ms} ms{vacuumed}")
