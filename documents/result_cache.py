"""Reuse the reading of content already read: same SHA-256, same pipeline version -> no OCR again.

``cached_pipeline`` stands in front of ``ocr.pipeline.run_pipeline`` in ``job_run``. A hit
rebuilds the ``PipelineOutput`` from a ``ResultCacheEntry`` (words, page images, archive,
built-in extraction, stored before any supplier was looked up); the supplier step and the
decision then run for the new document with the options in force and its own sampling key,
and everything after them (supplier rules, duplicate check, fields, review) as for any other.
E-invoices are not cached: their XML is read exactly and quickly, and their output carries the
XML itself.

The key is SHA-256 of (content hash, version); the version names the pipeline version, the OCR
engine and model versions and every option that changes what is read. Whatever changes one of
them gets another key, so an upgrade or a changed option recomputes instead of reusing.
"""

import functools
import hashlib
import io
import json
import logging
from dataclasses import asdict, dataclass
from datetime import timedelta
from importlib.metadata import PackageNotFoundError, version

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from PIL import Image

from documents.models import Document, ResultCacheEntry
from extraction.types import ExtractionResult, FieldValue, ValidationCheck
from ocr import postcorrect
from ocr.filetypes import SUPPORTED
from ocr.types import PageContent, Word

logger = logging.getLogger(__name__)

# Raise when a pipeline step changes what it produces (words, boxes, images, built-in extraction).
PIPELINE_VERSION = "2026.11.1"

# Options that change what is read; thresholds and sampling only change the decision, which
# is made again on every hit.
_READING_OPTIONS = (
    "render_dpi",
    "max_pages",
    "languages",
    "deskew",
    "contrast",
    "binarise",
    "denoise",
    "normalise_resolution",
    "retry_below_confidence",
    "searchable_pdf",
    "backend",
)
_PREFIX = "result-cache"


@functools.cache
def _tesseract_version() -> str:
    from ocr.tesseract import TesseractUnavailable, tesseract_version

    try:
        return tesseract_version()
    except TesseractUnavailable:
        return "unavailable"


def _surya_version() -> str:
    if not settings.ABLAGE_SURYA_MODEL_DIR:
        return ""
    try:
        return f"{version('surya-ocr')}@{settings.ABLAGE_SURYA_MODEL_DIR}"
    except PackageNotFoundError:  # not installed: the models cannot have read anything
        return f"absent@{settings.ABLAGE_SURYA_MODEL_DIR}"


def cache_version(options) -> str:
    return json.dumps(
        {
            "pipeline": PIPELINE_VERSION,
            "tesseract": _tesseract_version(),
            "surya": _surya_version(),
            "postcorrect": postcorrect.POSTCORRECT_VERSION if options.postcorrect else "",
            "options": {name: getattr(options, name) for name in _READING_OPTIONS},
        },
        sort_keys=True,
    )


def cache_key(sha256: str, version: str) -> str:
    return hashlib.sha256(f"{sha256}\n{version}".encode()).hexdigest()


def cached_pipeline(data: bytes, *, sha256: str, options, sample_key: str, supplier_lookup, run):
    """``run()``'s output, or the cached reading of ``data`` under the current version.

    ``run`` runs the pipeline without a supplier lookup, so that what is stored depends on the
    content alone; the supplier and decision steps then run here for this document, after a
    hit and after a miss alike (``ocr.pipeline.decide_for_document``).
    Returns ``(output, hit)``. Nothing here may fail processing: a broken entry is dropped and
    the pipeline runs; an entry that cannot be written is logged and skipped.
    """
    from ocr.pipeline import decide_for_document

    version = cache_version(options)
    key = cache_key(sha256, version)
    entry = ResultCacheEntry.objects.filter(key=key).first()
    if entry is not None:
        try:
            output = output_from_entry(entry)
        except (OSError, KeyError, ValueError, TypeError) as exc:
            logger.warning("Result cache entry %s unusable, reading again: %s", entry.key, exc)
            _drop(entry)
        else:
            ResultCacheEntry.objects.filter(id=entry.id).update(hits=F("hits") + 1, last_hit_at=timezone.now())
            decide_for_document(output, options=options, sample_key=sample_key, supplier_lookup=supplier_lookup)
            return output, True
    output = run()
    if output.content_source != "einvoice":
        try:
            _store(key=key, sha256=sha256, version=version, output=output)
        except (OSError, IntegrityError) as exc:
            logger.warning("Result cache entry %s not written: %s", key, exc)
    decide_for_document(output, options=options, sample_key=sample_key, supplier_lookup=supplier_lookup)
    return output, False


def _store(*, key: str, sha256: str, version: str, output) -> None:
    entry, written = entry_from_output(key=key, sha256=sha256, version=version, output=output)
    try:
        with transaction.atomic():
            entry.save(force_insert=True)
    except BaseException:
        for written_key in written:
            default_storage.delete(written_key)
        raise


def entry_from_output(*, key: str, sha256: str, version: str, output, storage=default_storage):
    """An unsaved entry for ``output`` and the storage keys of the files it wrote (page images, archive)."""
    written = []
    try:
        pages = []
        for page in output.pages:
            with page.open_image() as image:
                buffer = io.BytesIO()
                # Near-lossless: the document's own page images and thumbnails are made from it.
                image.save(buffer, format="JPEG", quality=95)
            image_key = storage.save(f"{_PREFIX}/{key}/p{page.content.number}.jpg", ContentFile(buffer.getvalue()))
            written.append(image_key)
            content = page.content
            pages.append(
                {
                    "number": content.number,
                    "source": content.source,
                    "backend": content.backend,
                    "width_px": content.width_px,
                    "height_px": content.height_px,
                    "dpi": content.dpi,
                    "timings_ms": content.timings_ms,
                    "words": [word.as_json() for word in content.words],
                    "deskew_degrees": page.deskew_degrees,
                    "attempts": page.attempts,
                    "image_key": image_key,
                }
            )
        archive_key = ""
        if output.archive_name:
            with output.open_archive() as archive:
                archive_key = storage.save(f"{_PREFIX}/{key}/archive.pdf", ContentFile(archive.read()))
            written.append(archive_key)
        extraction = output.extraction
        entry = ResultCacheEntry(
            key=key,
            sha256=sha256,
            version=version,
            pages=pages,
            extraction={
                "document_type": extraction.document_type,
                "document_type_confidence": extraction.document_type_confidence,
                "fields": {name: asdict(value) for name, value in extraction.fields.items()},
                "line_items": extraction.line_items,
                "validation": [asdict(check) for check in extraction.validation],
                "overall_confidence": extraction.overall_confidence,
            },
            summary={
                "file_type": output.file_type.extension,
                "content_source": output.content_source,
                "ocr_backend": output.ocr_backend,
                "complexity": output.complexity,
                "notes": output.notes,
                "timings_ms": output.timings_ms,
            },
            archive_key=archive_key,
        )
    except BaseException:
        for written_key in written:
            storage.delete(written_key)
        raise
    return entry, written


def output_from_entry(entry: ResultCacheEntry, *, storage=default_storage):
    """The ``PipelineOutput`` the entry was made from, not yet decided; the caller closes it."""
    from ocr.pipeline import PipelineOutput, ProcessedPage, Timer
    from ocr.spool import PageSpool

    timer = Timer()
    spool = PageSpool()
    try:
        with timer.stage("result_cache"):
            pages = []
            for stored in entry.pages:
                with storage.open(stored["image_key"], "rb") as handle:
                    image = Image.open(io.BytesIO(handle.read()))
                    image.load()
                name = f"page-{stored['number']}"
                spool.put_image(name, image)
                content = PageContent(
                    number=stored["number"],
                    words=[Word.from_json(word) for word in stored["words"]],
                    source=stored["source"],
                    backend=stored["backend"],
                    width_px=stored["width_px"],
                    height_px=stored["height_px"],
                    dpi=stored["dpi"],
                    timings_ms=stored["timings_ms"],
                )
                pages.append(
                    ProcessedPage(
                        content=content,
                        spool=spool,
                        image_name=name,
                        deskew_degrees=stored["deskew_degrees"],
                        attempts=stored["attempts"],
                    )
                )
            archive_name = None
            if entry.archive_key:
                with storage.open(entry.archive_key, "rb") as handle:
                    spool.put_bytes("archive.pdf", handle.read())
                archive_name = "archive.pdf"
            stored_extraction = entry.extraction
            extraction = ExtractionResult(
                document_type=stored_extraction["document_type"],
                document_type_confidence=stored_extraction["document_type_confidence"],
                fields={
                    name: FieldValue(**{**value, "bbox": tuple(value["bbox"]) if value["bbox"] else None})
                    for name, value in stored_extraction["fields"].items()
                },
                line_items=stored_extraction["line_items"],
                validation=[
                    ValidationCheck(**{**check, "fields": tuple(check["fields"])})
                    for check in stored_extraction["validation"]
                ],
                overall_confidence=stored_extraction["overall_confidence"],
            )
    except BaseException:
        spool.close()
        raise
    summary = entry.summary
    file_type = next(kind for kind in SUPPORTED if kind.extension == summary["file_type"])
    return PipelineOutput(
        file_type=file_type,
        pages=pages,
        extraction=extraction,
        decision="",
        content_source=summary["content_source"],
        ocr_backend=summary["ocr_backend"],
        complexity=summary["complexity"],
        archive_name=archive_name,
        notes=[*summary["notes"], "Lesung aus dem Ergebnis-Cache übernommen (gleicher Inhalt, gleiche Version)"],
        timings_ms=timer.timings_ms,
        spool=spool,
    )


def _drop(entry: ResultCacheEntry) -> None:
    keys = [page.get("image_key") for page in entry.pages] + [entry.archive_key]
    entry.delete()
    for key in keys:
        if key:
            default_storage.delete(key)


@dataclass(frozen=True)
class PruneResult:
    superseded: int
    orphaned: int
    unused: int

    @property
    def total(self) -> int:
        return self.superseded + self.orphaned + self.unused


def result_cache_prune(*, now=None, options=None) -> PruneResult:
    """Drop the entries no upload can use, or may use: read under another version (an upgrade
    or a changed OCR option made them unreachable), of content no document holds any more (a
    purged or erased document's pages must not live on here), or not used for
    ``ABLAGE_RESULT_CACHE_MAX_AGE_DAYS``. Files go with their rows."""
    now = now or timezone.now()
    version = cache_version(options or _load_options())
    superseded = ResultCacheEntry.objects.exclude(version=version)
    held = Document.all_objects.values("sha256")
    orphaned = ResultCacheEntry.objects.filter(version=version).exclude(sha256__in=held)
    cutoff = now - timedelta(days=settings.ABLAGE_RESULT_CACHE_MAX_AGE_DAYS)
    unused = ResultCacheEntry.objects.filter(version=version, sha256__in=held).filter(
        Q(last_hit_at__lt=cutoff) | Q(last_hit_at__isnull=True, created_at__lt=cutoff)
    )
    counts = [_drop_all(queryset) for queryset in (superseded, orphaned, unused)]
    return PruneResult(*counts)


def result_cache_forget(sha256: str) -> int:
    """Drop the readings of ``sha256`` once no document (trash included) holds that content."""
    if Document.all_objects.filter(sha256=sha256).exists():
        return 0
    return _drop_all(ResultCacheEntry.objects.filter(sha256=sha256))


def _load_options():
    from ocr.options import load_options

    return load_options()


def _drop_all(queryset) -> int:
    dropped = 0
    for entry in queryset.iterator():
        _drop(entry)
        dropped += 1
    return dropped
