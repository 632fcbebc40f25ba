"""Benchmarks: how fast is the pipeline on this machine, and what each preprocessing step is worth.

    python manage.py bench pipeline [--quick] [--pages N] [--throughput-pages N] [--seed S] [--json]
    python manage.py bench preprocessing [--count N] [--seed S] [--jobs J] [--json]
    python manage.py bench extraction [--count 200] [--seed S] [--jobs N] [--json] [--misses N]
    python manage.py bench learning [--suppliers N] [--documents D] [--seed S] [--json]
    python manage.py bench pages [--documents N] [--repeat R] [--seed S] [--json]
    python manage.py bench postcorrect [--count N] [--seed S] [--json]
    python manage.py bench load [--quick] [--uploads 50] [--concurrency 50] [--clients 20] [--reads 400]
                                [--documents 10000] [--ws-clients 200] [--ws-documents 50] [--ws-outsiders 6]
                                [--sustained 600] [--overload 300] [--capacity DOCS_PER_MIN]
                                [--web-processes N] [--drain-timeout 600] [--url URL --api-key KEY] [--json]

Generates its own documents, so it needs neither the database nor any files. A full run takes
a few minutes on two cores, most of it the 50-page memory run; ``--quick`` takes about one.
A missed target is reported, not an error: the exit code is 0 whenever the figures were taken.
``preprocessing`` reads N generated scans once per preprocessing variant (about 5 minutes for
18 scans on two cores) and reads the defaults in force from SystemConfig when it can.
``learning`` prints the learning curve of supplier rules on unseen layouts
(``extraction.learning.curve``; about 2 minutes for 6 suppliers x 11 documents on two cores).
``pages`` (documents.benchmarks) renders the main screens with 10,000 generated documents in
the database, inside a transaction it rolls back; it needs a migrated database.
``load`` (documents.load_benchmark) uploads over HTTP to the multi-process web server
(ablage.serve) it starts on loopback, waits for a running worker to drain the queue, reads the
document list API and the review screen with 10,000 generated documents, fans out websocket
events, and uploads at 70 % and 150 % of the measured capacity; ``--quick`` runs every phase
small (about 3 minutes). Its uploads stay in the database under a bench user.
"""

import dataclasses
import functools
import json

from django.core.management.base import BaseCommand, CommandError

from extraction.benchmarks import BenchmarkError as ExtractionBenchmarkError
from extraction.benchmarks import ExtractionBenchConfig, format_extraction_report, run_extraction_benchmark
from ocr.benchmarks import FULL, QUICK, BenchmarkError, format_report, run_benchmark
from ocr.benchmarks.preprocessing import PreprocessingConfig, format_preprocessing_report, run_preprocessing_benchmark
from ocr.tesseract import TesseractUnavailable

SUBJECTS = ("pipeline", "preprocessing", "extraction", "learning", "pages", "postcorrect", "load")


class Command(BaseCommand):
    help = "Misst die Verarbeitung auf diesem Rechner (gescannte und digitale Seiten, Durchsatz, Speicher)."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "subject",
            choices=SUBJECTS,
            help="Was gemessen wird: pipeline, preprocessing, extraction, learning, pages, load",
        )
        parser.add_argument(
            "--quick",
            action="store_true",
            help="Weniger Seiten, Speicherlauf mit 10 statt 50 Seiten; load: jede Phase klein (Minuten)",
        )
        parser.add_argument("--pages", type=int, help="Gescannte Einzelseiten (Standard 6, --quick 2)")
        parser.add_argument("--born-digital", type=int, help="Digitale PDFs (Standard 20, --quick 6)")
        parser.add_argument("--rss-pages", type=int, help="Seiten des Speicherlaufs (Standard 50, --quick 10)")
        parser.add_argument(
            "--throughput-pages",
            type=int,
            help="Seiten je Durchsatzlauf, reihum aus den gescannten Seiten (Standard 12, --quick 4)",
        )
        parser.add_argument("--seed", type=int, help="Erster Startwert der erzeugten Dokumente (Standard 1)")
        parser.add_argument(
            "--count",
            type=int,
            help="preprocessing: gescannte Rechnungen (Standard 18), postcorrect: (12); extraction: Dokumente (200)",
        )
        parser.add_argument("--jobs", type=int, help="preprocessing, extraction: parallele Prozesse (Standard 2)")
        parser.add_argument("--misses", type=int, default=0, help="extraction: so viele Abweichungen je Gruppe zeigen")
        parser.add_argument("--suppliers", type=int, help="learning: Lieferanten mit ungesehenem Layout (Standard 6)")
        parser.add_argument(
            "--documents",
            type=int,
            help="learning: Rechnungen je Lieferant (Standard 11); pages, load: Dokumente in der Datenbank "
            "(Standard 10000; load: 0 lässt sie aus)",
        )
        parser.add_argument("--repeat", type=int, help="pages: Aufrufe je Ansicht (Standard 30)")
        parser.add_argument("--uploads", type=int, help="load: Uploads (Standard 50)")
        parser.add_argument("--concurrency", type=int, help="load: gleichzeitige Uploads (Standard 50)")
        parser.add_argument("--clients", type=int, help="load: gleichzeitige lesende Clients (Standard 20)")
        parser.add_argument("--reads", type=int, help="load: Abrufe der Dokumentliste insgesamt (Standard 400)")
        parser.add_argument("--drain-timeout", type=float, help="load: höchstens so viele Sekunden warten (600)")
        parser.add_argument("--url", help="load: einen laufenden Server auf diesem Rechner messen (mit --api-key)")
        parser.add_argument("--api-key", help="load: API-Schlüssel (Schreiben, Lesen) für --url")
        parser.add_argument("--web-processes", type=int, help="load: daphne-Prozesse (Standard wie ablage.serve)")
        parser.add_argument("--ws-clients", type=int, help="load: Websockets des Eigentümers (Standard 200, 0 aus)")
        parser.add_argument("--ws-documents", type=int, help="load: beobachtete Dokumente (Standard 50)")
        parser.add_argument("--ws-outsiders", type=int, help="load: Websockets anderer Nutzer (Standard 6)")
        parser.add_argument("--sustained", type=float, help="load: Sekunden bei 70 %% der Kapazität (600, 0 aus)")
        parser.add_argument("--overload", type=float, help="load: Sekunden bei 150 %% der Kapazität (300, 0 aus)")
        parser.add_argument("--capacity", type=float, help="load: Kapazität in Dokumenten/min statt gemessen")
        parser.add_argument("--json", dest="as_json", action="store_true", help="Ergebnisse als JSON statt als Tabelle")

    def handle(self, *args, subject, quick, pages, born_digital, rss_pages, seed, count, jobs, as_json, **options):
        expected_errors = ()
        if subject == "extraction":
            base = ExtractionBenchConfig()
            chosen = {"count": count, "seed": seed, "jobs": jobs}
            misses = options["misses"]
            run = run_extraction_benchmark
            report = functools.partial(format_extraction_report, misses=misses)
        elif subject == "learning":
            from extraction.learning.curve import CurveConfig, format_curve, run_curve

            base = CurveConfig()
            chosen = {"suppliers": options["suppliers"], "documents": options["documents"], "seed": seed}
            run, report = run_curve, format_curve
        elif subject == "pages":
            from documents.benchmarks import PagesConfig, format_pages_report, run_pages_benchmark

            base = PagesConfig()
            chosen = {"documents": options["documents"], "repeat": options["repeat"], "seed": seed}
            run, report = run_pages_benchmark, format_pages_report
        elif subject == "postcorrect":
            from ocr.benchmarks.postcorrect import (
                BenchmarkError as PostcorrectBenchmarkError,
            )
            from ocr.benchmarks.postcorrect import (
                PostcorrectConfig,
                format_postcorrect_report,
                run_postcorrect_benchmark,
            )

            base = PostcorrectConfig()
            chosen = {"count": count, "seed": seed}
            run, report = run_postcorrect_benchmark, format_postcorrect_report
            expected_errors = (PostcorrectBenchmarkError,)
        elif subject == "load":
            from documents.load_benchmark import (
                QUICK_LOAD,
                LoadBenchmarkError,
                LoadConfig,
                format_load_report,
                run_load_benchmark,
            )

            base = LoadConfig(**QUICK_LOAD) if quick else LoadConfig()
            names = ("uploads", "concurrency", "clients", "reads", "url", "api_key", "documents", "web_processes")
            names += ("ws_clients", "ws_documents", "ws_outsiders", "sustained", "overload", "capacity")
            chosen = {name: options[name] for name in names}
            chosen |= {"drain_timeout": options["drain_timeout"], "seed": seed}
            run, report = run_load_benchmark, format_load_report
            expected_errors = (LoadBenchmarkError,)
        elif subject == "preprocessing":
            base = PreprocessingConfig()
            chosen = {"count": count, "seed": seed, "jobs": jobs}
            run, report = run_preprocessing_benchmark, format_preprocessing_report
        else:
            base = QUICK if quick else FULL
            chosen = {
                "scanned_pages": pages,
                "born_digital": born_digital,
                "rss_pages": rss_pages,
                "throughput_pages": options["throughput_pages"],
                "seed": seed,
            }
            run, report = run_benchmark, format_report
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
            figures = run(config, log=log)
        except (BenchmarkError, ExtractionBenchmarkError, TesseractUnavailable, *expected_errors) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(figures, ensure_ascii=False, indent=2) if as_json else report(figures))
