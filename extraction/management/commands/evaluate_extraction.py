"""Benchmark: generate documents, run the real pipeline, print per-field accuracy.

    python manage.py evaluate_extraction --count 30 --seed 1 --scanned --layouts A,B,C

Born-digital PDFs are always measured; ``--scanned`` adds degraded scans of the same documents
read by Tesseract. The figures are the ones ``extraction/tests/test_accuracy.py`` puts floors under.
"""

import time

from django.core.management.base import BaseCommand, CommandError

from ablage.testing.invoices import LAYOUTS
from ablage.testing.suppliers import master_data_lookup
from extraction.evaluation import DEFAULT_THRESHOLD, evaluate, format_report, plan, run_cases


class Command(BaseCommand):
    # A benchmark reads no database and no admin: it must run while other apps are mid-change.
    requires_system_checks = []
    help = "Misst die Extraktion an erzeugten Dokumenten (digital und optional gescannt) und druckt die Trefferquoten."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=12, help="Anzahl der Dokumente (Standard 12)")
        parser.add_argument("--seed", type=int, default=1, help="Erster Startwert (Standard 1)")
        parser.add_argument("--scanned", action="store_true", help="Zusätzlich gescannte Varianten per Tesseract lesen")
        parser.add_argument("--layouts", default=",".join(LAYOUTS), help="Layouts, kommagetrennt (Standard A,B,C)")
        parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, help="Freigabeschwelle")
        parser.add_argument("--misses", type=int, default=0, help="So viele Abweichungen einzeln ausgeben")

    def handle(self, *args, count, seed, scanned, layouts, threshold, misses, **options):
        chosen = tuple(part.strip() for part in layouts.split(",") if part.strip())
        unknown = [layout for layout in chosen if layout not in LAYOUTS]
        if not chosen or unknown:
            raise CommandError(
                f"Ungültige Layouts: {', '.join(unknown) or '(leer)'}; erlaubt sind {', '.join(LAYOUTS)}."
            )
        if count < 1:
            raise CommandError(f"--count muss mindestens 1 sein, nicht {count}.")
        if not 0.0 <= threshold <= 1.0:
            raise CommandError(f"--threshold muss zwischen 0 und 1 liegen, nicht {threshold}.")
        planned = plan(count, seed=seed, layouts=chosen)
        for scanned_variant in (False, True) if scanned else (False,):
            started = time.perf_counter()
            cases = run_cases(planned, scanned=scanned_variant, threshold=threshold, supplier_lookup=master_data_lookup)
            elapsed = time.perf_counter() - started
            title = (
                f"== {'Scans (Tesseract)' if scanned_variant else 'Digitale PDFs'}: {count} Dokumente, "
                f"Layouts {','.join(chosen)}, Seeds {seed}-{seed + count - 1}, Schwelle {threshold}, {elapsed:.1f} s"
            )
            self.stdout.write(format_report(evaluate(cases), title=title, show_misses=misses))
            self.stdout.write("")
