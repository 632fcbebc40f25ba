from django.core.management.base import BaseCommand, CommandError

from documents.integrity import archive_integrity_check


class Command(BaseCommand):
    help = "Prüft die SHA-256 aller gespeicherten Originale und E-Rechnungs-XML (GoBD)."

    def handle(self, *args, **options):
        checked, problems = archive_integrity_check()
        for problem in problems:
            self.stderr.write(
                f"{problem.document_id} „{problem.title}“ ({problem.what}, {problem.kind}): {problem.detail}"
            )
        if problems:
            raise CommandError(f"{len(problems)} Befund(e) bei {checked} Dokumenten.")
        self.stdout.write(f"Archiv in Ordnung: {checked} Dokumente geprüft.")
