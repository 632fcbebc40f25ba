from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ablage.errors import ApplicationError
from documents.management.owner import resolve_owner
from suppliers.csv_exchange import supplier_import_csv


class Command(BaseCommand):
    help = (
        "Import supplier master data from a CSV file (semicolons, UTF-8 with or without BOM, or Windows-1252, "
        "German headers as written by suppliers_export). Prints one line per refused row; exit status 1 when "
        "any row was refused."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="The CSV file")
        parser.add_argument("--user", help="E-mail of the user the changes are audited for (default: first superuser)")
        parser.add_argument("--dry-run", action="store_true", help="Only check the file; change nothing")

    def handle(self, *args, file, user, dry_run, **options):
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"Datei nicht lesbar: {exc}") from exc
        try:
            report = supplier_import_csv(data=data, user=resolve_owner(user), dry_run=dry_run)
        except ApplicationError as refusal:
            raise CommandError(refusal.message) from refusal
        for row in report.rows:
            if not row.ok:
                self.stdout.write(f"Zeile {row.line} ({row.name or '-'}): {' '.join(row.errors)}")
        prefix = "Probelauf: " if dry_run else ""
        self.stdout.write(
            f"{prefix}{report.created} angelegt, {report.updated} aktualisiert, {report.refused} abgelehnt "
            f"(Kodierung {report.encoding})."
        )
        if report.refused:
            raise CommandError(f"{report.refused} Zeile(n) abgelehnt.")
