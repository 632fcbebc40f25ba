"""Write generated German test invoices with their ground truth to a folder.

    python manage.py generate_invoices /tmp/rechnungen --count 20 --seed 7 --scanned --formats png,pdf

Each document gets ``<name>.<ext>`` and ``<name>.json`` (the spec's ground truth plus how it
was made); ``manifest.json`` lists them all. The same arguments always produce the same
files (encrypted samples aside, none are written here).
"""

import json
from pathlib import Path

import pypdfium2 as pdfium
from django.core.management.base import BaseCommand, CommandError

from ablage.testing.invoices import DOCUMENT_TYPES, LAYOUTS, SCAN_FORMATS, random_invoice, render_pdf
from ablage.testing.scans import encode_pages, scan_pages

_EXTENSIONS = {"pdf": "pdf", "png": "png", "jpeg": "jpg", "tiff": "tif"}


def _choices(value: str, allowed: tuple[str, ...], what: str) -> list[str]:
    chosen = [part.strip() for part in value.split(",") if part.strip()]
    unknown = [part for part in chosen if part not in allowed]
    if not chosen or unknown:
        raise CommandError(f"Ungültige {what}: {', '.join(unknown) or '(leer)'}; erlaubt sind {', '.join(allowed)}.")
    return chosen


class Command(BaseCommand):
    help = "Erzeugt deutsche Testrechnungen (PDF oder Scan) mit Ground-Truth-JSON und manifest.json."

    def add_arguments(self, parser):
        parser.add_argument("outdir", help="Zielordner (wird angelegt)")
        parser.add_argument("--count", type=int, default=10, help="Anzahl der Dokumente (Standard 10)")
        parser.add_argument("--seed", type=int, default=0, help="Startwert; gleiche Werte ergeben gleiche Dateien")
        parser.add_argument("--scanned", action="store_true", help="Gescannte Varianten statt digitaler PDFs")
        parser.add_argument(
            "--formats",
            default="pdf",
            help="Kommagetrennt aus pdf,png,jpeg,tiff; png/jpeg/tiff nur mit --scanned (Standard pdf)",
        )
        parser.add_argument("--layouts", default=",".join(LAYOUTS), help="Kommagetrennt aus A,B,C (reihum)")
        parser.add_argument(
            "--document-types",
            default="invoice",
            help=f"Kommagetrennt aus {','.join(DOCUMENT_TYPES)} (reihum, Standard invoice)",
        )
        parser.add_argument("--dpi", type=int, default=300, help="Scanauflösung (Standard 300)")

    def handle(self, *args, outdir, count, seed, scanned, formats, layouts, document_types, dpi, **options):
        if not 1 <= count <= 10_000:
            raise CommandError(f"--count muss zwischen 1 und 10000 liegen, nicht {count}.")
        formats = _choices(formats, SCAN_FORMATS, "Formate")
        layouts = _choices(layouts, LAYOUTS, "Layouts")
        document_types = _choices(document_types, DOCUMENT_TYPES, "Dokumenttypen")
        if not scanned and formats != ["pdf"]:
            raise CommandError("Bildformate (png, jpeg, tiff) gibt es nur mit --scanned; ohne --scanned nur pdf.")
        target = Path(outdir)
        if target.exists() and not target.is_dir():
            raise CommandError(f"{target} existiert und ist kein Ordner.")
        target.mkdir(parents=True, exist_ok=True)

        documents = []
        for index in range(count):
            # Spread the per-document seeds so that runs with neighbouring --seed values differ.
            doc_seed = seed * 100_000 + index
            layout = layouts[index % len(layouts)]
            document_type = document_types[index % len(document_types)]
            spec = random_invoice(doc_seed, layout=layout, document_type=document_type)
            pdf = render_pdf(spec, layout)
            pages = _page_count(pdf)
            # Degrade once and encode that same scan in every format, as one sheet through
            # one scanner saved several ways.
            scan = scan_pages(spec, layout, seed=doc_seed, dpi=dpi) if scanned else None
            stem = f"{document_type}_{index + 1:04d}_{layout}"
            for fmt in formats:
                name = f"{stem}{'_scan' if scanned else ''}.{_EXTENSIONS[fmt]}"
                content = encode_pages(scan, fmt=fmt, dpi=dpi) if scan else pdf
                (target / name).write_bytes(content)
                truth_name = Path(name).with_suffix(".json").name
                entry = {
                    "file": name,
                    "ground_truth_file": truth_name,
                    "seed": doc_seed,
                    "layout": layout,
                    "document_type": document_type,
                    "format": fmt,
                    "scanned": scanned,
                    "dpi": dpi if scanned else None,
                    "pages": pages,
                    # PNG and JPEG hold one image: the first page, as a phone scan app sends it.
                    "pages_in_file": 1 if fmt in ("png", "jpeg") else pages,
                }
                truth = {**entry, "ground_truth": spec.ground_truth()}
                (target / truth_name).write_text(json.dumps(truth, ensure_ascii=False, indent=2), encoding="utf-8")
                documents.append({**entry, "invoice_number": spec.invoice_number})

        manifest = {
            "generator": "ablage.testing.invoices",
            "seed": seed,
            "count": count,
            "scanned": scanned,
            "formats": formats,
            "layouts": layouts,
            "document_types": document_types,
            "documents": documents,
        }
        (target / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        self.stdout.write(self.style.SUCCESS(f"{len(documents)} Dateien mit Ground Truth in {target} geschrieben."))


def _page_count(pdf: bytes) -> int:
    document = pdfium.PdfDocument(pdf)
    try:
        return len(document)
    finally:
        document.close()
