import json
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ablage.errors import ApplicationError
from documents.management.owner import resolve_owner
from documents.models import Document
from documents.results import document_result
from documents.services import document_ingest

SETTLED = {Document.Status.REVIEW, *Document.TERMINAL_STATUSES}


class Command(BaseCommand):
    help = "Create documents from files or folders (recursively) through the upload service."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--owner", help="E-mail of the owning user (default: the first superuser)")
        parser.add_argument("--wait", action="store_true", help="Wait for processing and print the results as JSON")
        parser.add_argument("--timeout", type=int, default=900, help="Seconds to wait with --wait (default 900)")

    def handle(self, *args, paths, owner, wait, timeout, **options):
        user = resolve_owner(owner)
        files = sorted(self._files(paths))
        if not files:
            raise CommandError("Keine Dateien gefunden.")
        accepted, refused = [], []
        for path in files:
            try:
                document = document_ingest(
                    owner=user,
                    filename=path.name,
                    data=path.read_bytes(),
                    source=Document.Source.CLI,
                    source_reference=str(path),
                )
            except ApplicationError as refusal:
                refused.append(f"{path}: {refusal.message}")
                continue
            accepted.append(document.id)
            self.stderr.write(f"angenommen: {path} -> {document.id}")
        if wait and accepted:
            self.stdout.write(json.dumps(self._wait(accepted, timeout), ensure_ascii=False, indent=2))
        if refused:
            raise CommandError("\n".join(refused))

    def _files(self, paths):
        for path in paths:
            if path.is_dir():
                yield from (child for child in path.rglob("*") if child.is_file() and not child.name.startswith("."))
            elif path.is_file():
                yield path
            else:
                raise CommandError(f"{path} existiert nicht.")

    def _wait(self, ids, timeout):
        deadline = time.monotonic() + timeout
        while True:
            documents = list(Document.objects.filter(id__in=ids))
            if all(document.status in SETTLED for document in documents) or time.monotonic() > deadline:
                break
            time.sleep(1)
        pending = [str(document.id) for document in documents if document.status not in SETTLED]
        if pending:
            raise CommandError(f"Zeitüberschreitung: noch nicht verarbeitet: {', '.join(pending)}. Läuft ein Worker?")
        order = {document_id: index for index, document_id in enumerate(ids)}
        return [document_result(document) for document in sorted(documents, key=lambda d: order[d.id])]
