"""Benchmark: how fast is the pipeline on this machine, next to its targets.

    python manage.py bench pipeline [--quick] [--pages N] [--seed S] [--json]

Generates its own documents, so it needs neither the database nor any files. A full run takes
a few minutes on two cores, most of it the 50-page memory run; ``--quick`` takes about one.
A missed target is reported, not an error: the exit code is 0 whenever the figures were taken.
"""

import dataclasses
import json

from django.core.management.base import BaseCommand, CommandError

from ocr.benchmarks import FULL, QUICK, BenchmarkError, format_report, run_benchmark
from ocr.tesseract import TesseractUnavailable

SUBJECTS = ("pipeline",)


class Command(BaseCommand):
    help = "Misst die Verarbeitung auf diesem Rechner (gescannte und digitale Seiten, Durchsatz, Speicher)."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("subject", choices=SUBJECTS, help="Was gemessen wird (derzeit nur: pipeline)")
        parser.add_argument("--quick", action="store_true", help="Weniger Seiten, Speicherlauf mit 10 statt 50 Seiten")
        parser.add_argument("--pages", type=int, help="Gescannte Einzelseiten (Standard 6, --quick 2)")
        parser.add_argument("--born-digital", type=int, help="Digitale PDFs (Standard 20, --quick 6)")
        parser.add_argument("--rss-pages", type=int, help="Seiten des Speicherlaufs (Standard 50, --quick 10)")
        parser.add_argument("--seed", type=int, help="Erster Startwert der erzeugten Dokumente (Standard 1)")
        parser.add_argument("--json", dest="as_json", action="store_true", help="Ergebnisse als JSON statt als Tabelle")

    def handle(self, *args, subject, quick, pages, born_digital, rss_pages, seed, as_json, **options):
        base = QUICK if quick else FULL
        chosen = {"scanned_pages": pages, "born_digital": born_digital, "rss_pages": rss_pages, "seed": seed}
        try:
            config = dataclasses.replace(base, **{name: value for name, value in chosen.items() if value is not None})
        except ValueError as exc:
            raise CommandError(str(exc)) from exc

        # Progress goes to stderr so that --json output stays parseable.
        # (plain, not in the error colour stderr gets by default).
        def log(line: str) -> None:
            if options["verbosity"] > 0:
                self.stderr.write(line, style_func=str)

        try:
            figures = run_benchmark(config, log=log)
        except (BenchmarkError, TesseractUnavailable) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(figures, ensure_ascii=False, indent=2) if as_json else format_report(figures))
