from django.core.management.base import BaseCommand

from system.scheduling import scheduled_tasks_sync


class Command(BaseCommand):
    help = "Geplante Aufgaben anlegen (Vorgaben) und mit django-celery-beat abgleichen."

    def handle(self, *args, **options):
        count = scheduled_tasks_sync()
        self.stdout.write(f"{count} geplante Aufgaben aktiv.")
