from django.core.management.base import BaseCommand, CommandError

from monitoring.audit import audit_chain_verify


class Command(BaseCommand):
    help = "Prüft die Hash-Kette des Audit-Protokolls (GoBD): verändert, gelöscht oder eingefügt?"

    def handle(self, *args, **options):
        checked, problems = audit_chain_verify()
        for problem in problems:
            where = f"Eintrag {problem.sequence}" if problem.sequence is not None else "Protokoll"
            self.stderr.write(f"{where}: {problem.detail} ({problem.kind})")
        if problems:
            raise CommandError(f"Audit-Protokoll beschädigt: {len(problems)} Befund(e) in {checked} Einträgen.")
        self.stdout.write(f"Audit-Protokoll in Ordnung: {checked} Einträge, Kette vollständig.")
