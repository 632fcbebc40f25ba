import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from documents.results import pipeline_result
from ocr.errors import StopProcessing
from ocr.options import load_options
from ocr.pipeline import run_pipeline
from ocr.tesseract import TesseractUnavailable


class Command(BaseCommand):
    help = "Run the full processing pipeline on files synchronously and print the result as JSON."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument("--json", action="store_true", help="JSON output (the only format; kept for scripts)")

    def handle(self, *args, files, **options):
        options = load_options()  # once for all files
        results, failures = [], []
        for path in files:
            try:
                data = path.read_bytes()
            except OSError as exc:
                failures.append(f"{path}: Datei kann nicht gelesen werden ({exc.strerror}).")
                continue
            try:
                output = run_pipeline(data, options=options)
            except StopProcessing as refusal:
                failures.append(f"{path}: {refusal.message}")
                continue
            except TesseractUnavailable as exc:
                raise CommandError(str(exc)) from exc
            try:
                results.append({"file": str(path), **pipeline_result(output)})
            finally:
                output.close()
        if results:
            payload = results[0] if len(files) == 1 else results
            self.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2))
        if failures:
            raise CommandError("\n".join(failures))
