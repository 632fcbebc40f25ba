import signal
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from ablage.env import env_str
from documents.consume import FolderConsumer
from documents.management.owner import resolve_owner


class Command(BaseCommand):
    help = (
        "Watch a folder and turn the files dropped into it into documents. Finished files move to done/, "
        "refused ones to failed/ (with <name>.reason.txt); the first sub-folder names a tag."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--folder", type=Path, help="Folder to watch (default: ABLAGE_CONSUME_DIR, else <ABLAGE_DATA_DIR>/consume)"
        )
        parser.add_argument("--owner", help="E-mail of the owning user (default: the first superuser)")
        parser.add_argument("--once", action="store_true", help="Take what is there (two looks) and exit")
        parser.add_argument(
            "--interval", type=float, default=5.0, help="Seconds between two looks at the folder (default 5)"
        )

    def handle(self, *args, folder, owner, once, interval, **options):
        if interval <= 0:
            raise CommandError("--interval muss größer als 0 sein.")
        consumer = FolderConsumer(folder=self._folder(folder), owner=resolve_owner(owner))
        if once:
            # A file counts as written once it looks the same twice: one look now, one after the interval.
            consumer.poll()
            time.sleep(interval)
            self._report(consumer.poll())
            if consumer.waiting:
                self.stderr.write(
                    f"{consumer.waiting} Datei(en) noch in Bearbeitung oder gesperrt; beim nächsten Lauf."
                )
            if consumer.errors:
                raise CommandError(f"{consumer.errors} Datei(en) konnten nicht übernommen werden; sie bleiben liegen.")
            return
        self._watch(consumer, interval)

    def _watch(self, consumer, interval):
        stop = threading.Event()

        def request_stop(signum, frame):
            # Finish the file in hand, then leave: a half-moved file would be ingested twice.
            stop.set()

        previous = {number: signal.signal(number, request_stop) for number in (signal.SIGTERM, signal.SIGINT)}
        self.stderr.write(f"Überwache {consumer.folder} (alle {interval:g} s).")
        try:
            while not stop.is_set():
                # A long-lived process: drop a connection the database closed (restart, idle timeout).
                close_old_connections()
                self._report(consumer.poll())
                stop.wait(interval)
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
            close_old_connections()
        self.stderr.write("Beendet.")

    def _report(self, consumed):
        for item in consumed:
            if item.document is not None:
                self.stdout.write(f"angenommen: {item.relative_path} -> {item.document.id}")
            else:
                self.stdout.write(self.style.WARNING(f"abgelehnt: {item.relative_path}: {item.reason}"))

    def _folder(self, folder):
        if folder is None:
            folder = Path(env_str("ABLAGE_CONSUME_DIR") or Path(settings.DATA_DIR) / "consume")
            folder.mkdir(parents=True, exist_ok=True)
        if not folder.is_dir():
            raise CommandError(f"Der Ordner {folder} existiert nicht.")
        return folder.resolve()
