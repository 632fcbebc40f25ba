"""Writes on documents: ingest, processing, review decisions. Keyword-only, transactional."""

import functools
import hashlib
import io
import logging
import uuid
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_date

from ablage.errors import DATABASE_UNAVAILABLE, ApplicationError
from ablage.outages import MESSAGES, outage_of
from documents import events, locks
from documents.field_labels import field_schema
from documents.file_metadata import file_metadata_read
from documents.ingest import (  # noqa: F401 - the ways in, importable from here like every other write
    MAX_BATCH_FILES,
    IngestFile,
    IngestOutcome,
    _enqueue,
    clean_filename,
    document_ingest,
    document_ingest_batch,
    images_combine,
    intake_capacity_check,
    intake_has_room,
    original_read_verified,
    read_upload,
    rendition_read_verified,
    upload_rate_check,
    upload_validate,
)
from documents.models import (
    Document,
    DocumentPage,
    DocumentVersion,
    ExtractedField,
    JobEvent,
    OCRResult,
    ProcessingJob,
)
from documents.progress import progress_text
from documents.review_queue import review_claim_check
from documents.search import search_vector_refresh
from extraction.services import extraction_finish, training_data_record_review
from monitoring.services import audit_log_record, original_integrity_alert
from notifications import services as notify
from ocr.errors import StopProcessing
from workflows.services import workflows_document_event

logger = logging.getLogger(__name__)

# --- processing ----------------------------------------------------------------------------


def job_run(*, job_id, queue: str = "ocr_cpu") -> None:
    """Process one job. Idempotent: a finished job, or one that is gone, is left alone.

    Raises ``TransientOCRError`` for the task to retry while attempts remain; everything else
    ends the job: rejected (unusable input), dead (attempts exhausted, internal error) or
    handed to another queue (``HandOff``).
    """
    with locks.exclusive(f"processing-job:{job_id}") as holder:
        if not holder:
            # Another live process runs this job (a duplicate delivery): it will finish it.
            logger.info("Job %s is already running elsewhere; this delivery is dropped", job_id)
            return
        handed_off = _job_run_locked(job_id=job_id, queue=queue)
    if handed_off is not None:
        # Only now that the lock is released: the receiving worker must be able to take it.
        _enqueue(handed_off)


def _job_run_locked(*, job_id, queue: str) -> ProcessingJob | None:
    """The run itself; returns the job when it was handed to another queue (to enqueue)."""
    from documents.result_cache import cached_pipeline
    from ocr.errors import TransientOCRError
    from ocr.options import load_options
    from ocr.pipeline import HandOff, run_pipeline

    # "running" is claimable too: with the lock held, a running job's previous runner is dead.
    claimed = ProcessingJob.objects.filter(
        id=job_id, status__in=[ProcessingJob.Status.PENDING, ProcessingJob.Status.RUNNING]
    ).update(status=ProcessingJob.Status.RUNNING, attempts=F("attempts") + 1, started_at=timezone.now())
    if claimed != 1:
        return
    job = ProcessingJob.objects.select_related("document").get(id=job_id)
    document = job.document
    if job.attempts > job.max_attempts:
        # Redelivered again and again: the document keeps killing its worker (or the worker
        # keeps dying under it). Stop here instead of taking the next worker down too.
        _job_fail(job, _attempts_exhausted_message(job), code="too_many_attempts")
        return
    Document.objects.filter(id=document.id, status__in=[Document.Status.QUEUED, Document.Status.PROCESSING]).update(
        status=Document.Status.PROCESSING
    )
    _event(job, "started", f"Verarbeitung gestartet (Versuch {job.attempts})", status=Document.Status.PROCESSING)

    def progress(stage: str, info: dict):
        state = {"stage": stage, **{key: info[key] for key in ("page", "pages") if key in info}}
        ProcessingJob.objects.filter(id=job.id).update(current_stage=stage, progress=state)
        if stage in ("ocr", "page"):
            _event(
                job,
                stage,
                progress_text(state),
                status=Document.Status.PROCESSING,
                progress=info["page"] / info["pages"] if stage == "page" else None,
                persist=False,
            )

    try:
        # The download path's reader: the same hash check (and audit entry on a mismatch).
        with original_read_verified(document) as handle:
            data = handle.read()
        Document.objects.filter(id=document.id).update(file_metadata=file_metadata_read(data))
        if document.rendition_key:
            # An e-mail or office original: the pipeline reads the PDF made from it at intake.
            data = rendition_read_verified(document)
    except ApplicationError as exc:
        problem = _ORIGINAL_PROBLEMS.get(exc.code)
        if problem is None:
            raise
        kind, message = problem
        # Not transient: the same bytes come back on every attempt, so no retry, one alarm.
        logger.error("Original of document %s is %s; job %s ends", document.id, kind, job.id)
        _job_fail(job, message, code=f"original_{kind}", alert=kind)
        return
    except Exception as exc:
        if outage_of(exc) is None:
            raise
        _job_retry_later(job, exc)
        return
    try:
        options = load_options()
        output, _hit = cached_pipeline(
            data,
            sha256=document.sha256,
            options=options,
            sample_key=str(document.id),
            supplier_lookup=_supplier_lookup(document),
            run=lambda: run_pipeline(
                data,
                options=options,
                progress=progress,
                # Without GPU workers a handed-off document would wait in ocr_gpu forever.
                allow_handoff=settings.ABLAGE_GPU_QUEUE_ENABLED and queue != "ocr_gpu",
                sample_key=str(document.id),
            ),
        )
    except StopProcessing as refusal:
        _job_reject(job, refusal)
        return
    except HandOff as handoff:
        _job_hand_off(job, handoff)
        return job
    except TransientOCRError as exc:
        _job_retry_later(job, exc)
        return
    except DATABASE_UNAVAILABLE:
        # The database went away under the pipeline: nothing is wrong with the document. The job
        # stays running; the task retries it with backoff (or the stuck-job sweep does later).
        logger.warning("Database unavailable while processing document %s; the job will be retried", document.id)
        raise
    except Exception as exc:
        if outage_of(exc) is not None:
            # A full work directory or an unreachable store (the result cache's images): not the document's fault.
            _job_retry_later(job, exc)
            return
        logger.exception("Processing document %s failed", document.id)
        _job_fail(job, f"Interner Fehler bei der Verarbeitung ({type(exc).__name__}): {exc}"[:1000], code="internal")
        return
    try:
        _persist_output(job, output)
    except Exception as exc:
        if outage_of(exc) is None:
            raise
        _job_retry_later(job, exc)
    finally:
        output.close()


def _job_retry_later(job: ProcessingJob, exc: Exception) -> None:
    """Hand the job back (pending, document queued) and raise ``TransientOCRError`` for the task
    to retry it with backoff; or end it when its attempts are spent."""
    from ocr.errors import TransientOCRError

    reason = outage_of(exc)
    message = f"{MESSAGES[reason]}: {exc}"[:1000] if reason is not None else str(exc)
    if job.attempts >= job.max_attempts:
        _job_fail(job, f"Verarbeitung nach {job.attempts} Versuchen abgebrochen: {message}", code="transient_exhausted")
        return
    ProcessingJob.objects.filter(id=job.id).update(status=ProcessingJob.Status.PENDING, error_message=message)
    Document.objects.filter(id=job.document_id, status=Document.Status.PROCESSING).update(status=Document.Status.QUEUED)
    _event(job, "retry", message, status=Document.Status.QUEUED)
    if isinstance(exc, TransientOCRError):
        raise exc
    raise TransientOCRError(message) from exc


_ORIGINAL_PROBLEMS = {
    "original_missing": (
        "missing",
        "Die Originaldatei fehlt im Speicher und kann nicht verarbeitet werden. Die Administration ist informiert.",
    ),
    "rendition_missing": (
        "missing",
        "Die PDF-Fassung des Originals fehlt im Speicher. Die Administration ist informiert.",
    ),
    "rendition_tampered": (
        "mismatch",
        "Die PDF-Fassung des Originals stimmt nicht mehr mit ihrer Prüfsumme überein. "
        "Die Administration ist informiert.",
    ),
    "original_tampered": (
        "mismatch",
        "Die gespeicherte Originaldatei stimmt nicht mehr mit dem Upload überein (SHA-256 weicht ab) und wird "
        "nicht verarbeitet. Die Administration ist informiert.",
    ),
}


def _job_hand_off(job: ProcessingJob, handoff) -> None:
    with transaction.atomic():
        ProcessingJob.objects.filter(id=job.id, status=ProcessingJob.Status.RUNNING).update(
            status=ProcessingJob.Status.PENDING, queue=handoff.queue, current_stage="", progress={}
        )
        Document.objects.filter(id=job.document_id, status=Document.Status.PROCESSING).update(
            status=Document.Status.QUEUED
        )
        JobEvent.objects.create(job=job, event_type="handed_off", message=handoff.reason, data={"queue": handoff.queue})
        job.queue = handoff.queue


THUMBNAIL_WIDTHS = (200, 400, 800)
THUMBNAIL_SIZES = tuple(str(width) for width in THUMBNAIL_WIDTHS)


def _persist_output(job: ProcessingJob, output) -> None:
    document = job.document
    prefix = f"pages/{document.id}/{job.id}-{job.attempts}"
    page_rows = []
    written_keys = []
    try:
        # One page image at a time: long documents wait in the pipeline's spool on disk.
        thumbnails = {}
        for page in output.pages:
            with page.open_image() as image:
                image_key = _save_jpeg(f"{prefix}/p{page.content.number}.jpg", image, quality=85)
                written_keys.append(image_key)
                thumbnail_key = _save_thumbnail(f"{prefix}/p{page.content.number}-200.jpg", image, width=200)
                written_keys.append(thumbnail_key)
                if page.content.number == 1:
                    thumbnails = {
                        str(width): _save_thumbnail(f"{prefix}/thumb-{width}.jpg", image, width=width)
                        for width in THUMBNAIL_WIDTHS
                    }
                    written_keys += thumbnails.values()
            page_rows.append((page, image_key, thumbnail_key))
        einvoice_key, einvoice_format, einvoice_sha256 = "", "", ""
        if output.einvoice is not None:
            einvoice_format = f"{output.einvoice.flavour} ({output.einvoice.syntax.upper()})"
            if output.einvoice.container == "xml":
                einvoice_key = document.storage_key  # the upload itself is the XML
            else:
                name = output.einvoice.filename or "e-rechnung.xml"
                einvoice_key = default_storage.save(
                    f"einvoices/{document.id}/{clean_filename(name)}", ContentFile(output.einvoice.xml)
                )
                written_keys.append(einvoice_key)
            einvoice_sha256 = hashlib.sha256(output.einvoice.xml).hexdigest()
        supplier_match = output.supplier.match if output.supplier is not None else None
        # Supplier rules, the duplicate check and template checks need the supplier, known only now.
        extraction_finish(
            document=document,
            output=output,
            supplier_id=supplier_match.supplier.id if supplier_match is not None else document.supplier_id,
        )
        archive_key = ""
        if output.archive_name:
            with output.open_archive() as archive:
                archive_key = default_storage.save(
                    f"archive/{document.id}/{job.id}-{job.attempts}.pdf", File(archive, name="archive.pdf")
                )
            written_keys.append(archive_key)
        with transaction.atomic():
            locked_document = Document.objects.select_for_update().get(id=document.id)
            old_keys = [key for pair in locked_document.pages.values_list("image_key", "thumbnail_key") for key in pair]
            old_keys += [*locked_document.thumbnails.values(), locked_document.archive_key]
            if locked_document.einvoice_key != locked_document.storage_key:
                old_keys.append(locked_document.einvoice_key)
            locked_document.pages.all().delete()
            DocumentPage.objects.bulk_create(
                DocumentPage(
                    document=locked_document,
                    page_number=page.content.number,
                    image_key=image_key,
                    thumbnail_key=thumbnail_key,
                    width_px=page.content.width_px,
                    height_px=page.content.height_px,
                    dpi=page.content.dpi,
                    text=page.content.text,
                    text_source=page.content.source,
                    ocr_backend=page.content.backend,
                    ocr_confidence=page.content.average_confidence,
                    words=[word.as_json() for word in page.content.words],
                )
                for page, image_key, thumbnail_key in page_rows
            )
            _record_ocr_result(job, locked_document, output)
            _record_fields(locked_document, output.extraction, einvoice=output.einvoice is not None)
            search_vector_refresh(document_ids=[document.id])
            new_status = _apply_extraction(
                locked_document,
                output,
                supplier_match=supplier_match,
                thumbnails=thumbnails,
                archive_key=archive_key,
                einvoice_key=einvoice_key,
                einvoice_format=einvoice_format,
                einvoice_sha256=einvoice_sha256,
            )
            ProcessingJob.objects.filter(id=job.id).update(
                status=ProcessingJob.Status.COMPLETED,
                backend=output.ocr_backend,
                timings_ms=output.timings_ms,
                finished_at=timezone.now(),
                current_stage="done",
                progress={"stage": "done", "page": len(output.pages), "pages": len(output.pages)},
                error_message="",
            )
            JobEvent.objects.create(
                job=job,
                event_type="completed",
                message=_completion_message(new_status),
                data={"timings_ms": output.timings_ms, "decision": output.decision, "notes": output.notes},
            )
            if new_status == Document.Status.REVIEW:
                from documents.review_queue import review_queue_refresh_priorities
                from extraction.llm.services import model_assist_after_processing

                review_queue_refresh_priorities(document_ids=[document.id])
                # Below its type's threshold and configured so: the model is asked in the background.
                model_assist_after_processing(document=Document.objects.get(id=document.id))
            if new_status == Document.Status.APPROVED:
                audit_log_record(
                    actor=None,
                    action="document.auto_approved",
                    obj=locked_document,
                    changes={"overall_confidence": locked_document.overall_confidence},
                )
            occurrence = f"{job.id}-{job.attempts}"
            workflows_document_event(document=locked_document, event="processed", dedup=occurrence)
            if new_status == Document.Status.APPROVED:
                workflows_document_event(document=locked_document, event="approved", dedup=occurrence)
            if new_status in (Document.Status.REVIEW, Document.Status.APPROVED):
                notify.notify_document_processed(document=Document.objects.get(id=document.id))
            transaction.on_commit(lambda: _delete_files(old_keys))
            transaction.on_commit(
                lambda: events.publish(
                    events.DocumentEvent(
                        str(document.id),
                        str(document.owner_id),
                        new_status,
                        stage="done",
                        message=_completion_message(new_status),
                        progress=1.0,
                    )
                )
            )
    except Exception:
        _delete_files(written_keys)
        raise


def _completion_message(status: str) -> str:
    return "Automatisch freigegeben" if status == Document.Status.APPROVED else "Bereit zur Prüfung"


LOW_CONFIDENCE = 0.6
MAX_LOW_CONFIDENCE_WORDS = 500


def _layout_lines(page) -> list[dict]:
    """Words grouped into the backend's lines (reading order); the text layer has none, so none."""
    lines: dict[int, list] = {}
    for word in page.content.words:
        if word.line >= 0:
            lines.setdefault(word.line, []).append(word)
    result = []
    for words in lines.values():
        boxes = [word.bbox for word in words]
        result.append(
            {
                "page": page.content.number,
                "text": " ".join(word.text for word in words),
                "bbox": [
                    round(min(b[0] for b in boxes), 5),
                    round(min(b[1] for b in boxes), 5),
                    round(max(b[2] for b in boxes), 5),
                    round(max(b[3] for b in boxes), 5),
                ],
                "confidence": round(sum(word.confidence for word in words) / len(words), 3),
            }
        )
    return result


def _record_ocr_result(job, document, output) -> None:
    words = [(page.content.number, word) for page in output.pages for word in page.content.words]
    confidences = [word.confidence for _, word in words]
    low = [(number, word) for number, word in words if word.confidence < LOW_CONFIDENCE]
    OCRResult.objects.filter(document=document, is_current=True).update(is_current=False)
    OCRResult.objects.create(
        document=document,
        job=job,
        backend=output.ocr_backend,
        content_source=output.content_source,
        text="\n\n".join(page.content.text for page in output.pages),
        average_confidence=sum(confidences) / len(confidences) if confidences else None,
        min_confidence=min(confidences) if confidences else None,
        word_count=len(words),
        low_confidence_word_count=len(low),
        layout_lines=[line for page in output.pages for line in _layout_lines(page)],
        low_confidence_words=[{"page": number, **word.as_json()} for number, word in low[:MAX_LOW_CONFIDENCE_WORDS]],
    )


def _record_fields(document, extraction, *, einvoice: bool) -> None:
    existing = {field.name: field for field in document.fields.all()}
    for name, value in extraction.fields.items():
        current = existing.pop(name, None)
        if current is not None and current.locked:
            continue  # a clerk's correction survives re-processing
        attributes = {
            "value": value.value,
            "normalized_value": value.normalized,
            "extracted_value": value.normalized,
            "confidence": max(0.0, min(1.0, value.confidence)),
            "page": value.page,
            "bbox": list(value.bbox) if value.bbox else None,
            "source": ExtractedField.Source.EINVOICE if einvoice else ExtractedField.Source.RULE,
            "rule": value.rule[:100],
        }
        ExtractedField.objects.update_or_create(document=document, name=name, defaults=attributes)
    stale = [field.id for field in existing.values() if not field.locked]
    ExtractedField.objects.filter(id__in=stale).delete()


def _supplier_lookup(document):
    """The sender from master data (USt-IdNr., IBAN, Steuernummer, sender e-mail, then name)."""
    from suppliers.matching import supplier_evidence

    sender = document.source_reference if document.source == Document.Source.EMAIL else ""
    return functools.partial(supplier_evidence, sender_email=sender)


def _supplier_checks(match) -> list[dict]:
    """An unknown supplier is no failure (the review screen offers to create it); a conflict is."""
    if match is None:
        return []
    if match.conflicts:
        return [
            {
                "rule": "supplier_known",
                "ok": False,
                "fields": ["supplier_vat_id", "iban"],
                "message": f"Lieferant {match.supplier.name}: " + " ".join(match.evidence),
            }
        ]
    return [
        {
            "rule": "supplier_known",
            "ok": True,
            "fields": ["supplier_name"],
            "message": f"Lieferant erkannt: {match.supplier.name} ({' '.join(match.evidence)})",
        }
    ]


def _apply_extraction(
    document,
    output,
    *,
    supplier_match,
    thumbnails: dict,
    archive_key: str,
    einvoice_key: str,
    einvoice_format: str,
    einvoice_sha256: str = "",
) -> str:
    extraction = output.extraction
    fields = {field.name: field for field in document.fields.all()}
    decision, reason = output.decision, output.decision_reason
    if supplier_match is not None and supplier_match.conflicts:
        # Identifiers of two different suppliers on one invoice (e.g. a foreign IBAN): a person decides.
        decision = Document.Decision.REVIEW
        reason = "Kennungen verschiedener Lieferanten auf einem Beleg: " + " ".join(supplier_match.evidence)
    approved = decision == "auto_approve"
    new_status = Document.Status.APPROVED if approved else Document.Status.REVIEW
    supplier = supplier_match.supplier if supplier_match is not None else document.supplier
    changed = Document.objects.filter(id=document.id, status=Document.Status.PROCESSING).update(
        status=new_status,
        status_reason="",
        **(
            {}
            if document.document_type_locked
            else {
                "document_type": extraction.document_type,
                "document_type_confidence": extraction.document_type_confidence,
            }
        ),
        content_source=output.content_source,
        ocr_backend=output.ocr_backend,
        page_count=len(output.pages),
        overall_confidence=max(0.0, min(1.0, extraction.overall_confidence)),
        decision=decision,
        decision_reason=reason[:2000],
        supplier=supplier,
        line_items=extraction.line_items,
        validation=[*(_check_json(check) for check in extraction.validation), *_supplier_checks(supplier_match)],
        timings_ms=output.timings_ms,
        thumbnails=thumbnails,
        archive_key=archive_key,
        einvoice_key=einvoice_key,
        einvoice_format=einvoice_format,
        einvoice_sha256=einvoice_sha256,
        complexity=output.complexity,
        processed_at=timezone.now(),
        **_summary_columns(fields),
    )
    if changed != 1:
        # Someone moved the document on (e.g. rejected it) while it was processing: keep their decision.
        return Document.objects.get(id=document.id).status
    return new_status


def _check_json(check) -> dict:
    return {"rule": check.rule, "ok": check.ok, "message": check.message, "fields": list(check.fields)}


def _summary_columns(fields: dict) -> dict:
    """Denormalised list columns (number, date, total, currency, supplier) from the current fields."""

    def normalized(name):
        field = fields.get(name)
        return field.normalized_value if field else ""

    total = None
    if normalized("total_amount"):
        try:
            total = Decimal(normalized("total_amount"))
        except InvalidOperation:
            total = None
    return {
        "document_number": normalized("invoice_number")[:100],
        "document_date": parse_date(normalized("invoice_date")) if normalized("invoice_date") else None,
        "total_amount": total,
        "currency": normalized("currency")[:3],
    }


def _job_reject(job: ProcessingJob, refusal: StopProcessing) -> None:
    with transaction.atomic():
        ProcessingJob.objects.filter(id=job.id).update(
            status=ProcessingJob.Status.FAILED,
            error_code=refusal.code,
            error_message=refusal.message,
            finished_at=timezone.now(),
        )
        Document.objects.filter(
            id=job.document_id, status__in=[Document.Status.QUEUED, Document.Status.PROCESSING]
        ).update(status=Document.Status.REJECTED, status_reason=refusal.message)
        JobEvent.objects.create(job=job, event_type="rejected", message=refusal.message, data={"code": refusal.code})
        notify.notify_document_rejected(
            document=Document.objects.get(id=job.document_id), reason=refusal.message, occurrence=str(job.id)
        )
    events.publish(
        events.DocumentEvent(
            str(job.document_id),
            str(job.document.owner_id),
            Document.Status.REJECTED,
            stage="rejected",
            message=refusal.message,
        )
    )


def _attempts_exhausted_message(job: ProcessingJob) -> str:
    """Why a redelivered job is given up: the worker process ended under it each time (a crash,
    the out-of-memory killer, a hard time limit) or the last error, with the stage it reached."""
    stage = f" (zuletzt im Schritt „{job.current_stage}“)" if job.current_stage else ""
    cause = job.error_message or (
        "Der Verarbeitungsprozess wurde bei jedem Versuch beendet, bevor er fertig war "
        "(Absturz, Speichermangel oder Zeitlimit)"
    )
    return f"Verarbeitung nach {job.max_attempts} Versuchen abgebrochen{stage}: {cause}"[:1000]


def _job_fail(job: ProcessingJob, message: str, *, code: str, alert: str = "") -> None:
    """End the job for good (document dead); ``alert`` ("missing"/"mismatch") also raises the
    operations alarm for an original that failed its integrity check."""
    with transaction.atomic():
        if alert:
            original_integrity_alert(document=job.document, kind=alert, detail=message)
        ProcessingJob.objects.filter(id=job.id).update(
            status=ProcessingJob.Status.FAILED, error_code=code, error_message=message, finished_at=timezone.now()
        )
        Document.objects.filter(
            id=job.document_id, status__in=[Document.Status.QUEUED, Document.Status.PROCESSING]
        ).update(status=Document.Status.DEAD, status_reason=message)
        JobEvent.objects.create(job=job, event_type="failed", message=message, data={"code": code})
        notify.notify_processing_failed(
            document=Document.objects.get(id=job.document_id), error=message, occurrence=str(job.id)
        )
    events.publish(
        events.DocumentEvent(
            str(job.document_id), str(job.document.owner_id), Document.Status.DEAD, stage="dead", message=message
        )
    )


def _event(job, event_type: str, message: str, *, status: str, progress: float | None = None, persist=True):
    if persist:
        JobEvent.objects.create(job=job, event_type=event_type, message=message)
    events.publish(
        events.DocumentEvent(
            str(job.document_id),
            str(job.document.owner_id),
            status,
            stage=event_type,
            message=message,
            progress=progress,
        )
    )


def _save_jpeg(key: str, image, *, quality: int) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, optimize=True)
    return default_storage.save(key, ContentFile(buffer.getvalue()))


def _save_thumbnail(key: str, image, *, width: int) -> str:
    thumbnail = image.copy()
    thumbnail.thumbnail((width, width * 2))
    try:
        return _save_jpeg(key, thumbnail, quality=80)
    finally:
        thumbnail.close()


def _delete_files(keys) -> None:
    for key in keys:
        if key:
            try:
                default_storage.delete(key)
            except Exception as exc:
                # Best effort: the store being down must not hide the error that led here.
                if not isinstance(exc, OSError) and outage_of(exc) is None:
                    raise
                logger.warning("Could not delete %s", key, exc_info=True)


# --- review ----------------------------------------------------------------------------------


def _snapshot(document: Document) -> dict:
    return {
        "status": document.status,
        "document_type": document.document_type,
        "fields": {
            f.name: {"value": f.value, "normalized": f.normalized_value, "locked": f.locked}
            for f in document.fields.all()
        },
    }


def _record_version(document: Document, *, user, change_type: str, changed: list[str], description: str = ""):
    number = (document.versions.order_by("-version_number").values_list("version_number", flat=True).first() or 0) + 1
    DocumentVersion.objects.create(
        document=document,
        version_number=number,
        change_type=change_type,
        snapshot=_snapshot(document),
        changed_fields=changed,
        description=description,
        created_by=user,
    )


@transaction.atomic
def document_update_fields(*, document: Document, user, values: dict[str, str], ip_address=None) -> list[str]:
    """Apply a clerk's corrections. Changed fields become manual, locked and attributed. Returns changed names."""
    from extraction.normalize import normalize_field

    document = Document.objects.select_for_update().get(id=document.id)
    if document.status not in (Document.Status.REVIEW, Document.Status.APPROVED):
        raise ApplicationError(
            "Dieses Dokument kann im aktuellen Status nicht bearbeitet werden.", code="not_editable", status_code=409
        )
    review_claim_check(document=document, user=user)
    existing = {field.name: field for field in document.fields.all()}
    # The type's schema, plus what extraction itself reported (e.g. the Leitweg-ID of an XRechnung).
    allowed = set(field_schema(document.document_type)) | set(existing)
    unknown = sorted(name for name in values if name not in allowed)
    if unknown:
        raise ApplicationError(
            f"Unbekannte Felder für {document.get_document_type_display()}: {', '.join(unknown)}.",
            code="unknown_field",
            # No single "field": there is no form row to show it at, the review screen shows it on top.
            extra={"fields": {name: ["Unbekanntes Feld."] for name in unknown}},
        )
    changes = {}
    for name, raw in values.items():
        raw = (raw or "").strip()
        field = existing.get(name)
        if field is not None and raw == field.value:
            continue
        if field is None and not raw:
            continue
        try:
            normalized = normalize_field(name, raw) if raw else ""
        except ValueError as exc:
            raise ApplicationError(f"{name}: {exc}", code="invalid_field_value", extra={"field": name}) from exc
        before = field.value if field else ""
        _record_training_example(document, field, name=name, expected=normalized, user=user)
        ExtractedField.objects.update_or_create(
            document=document,
            name=name,
            defaults={
                "value": raw,
                "normalized_value": normalized,
                "confidence": 1.0,
                "source": ExtractedField.Source.MANUAL,
                "locked": True,
                "corrected_by": user,
                "corrected_at": timezone.now(),
            },
        )
        changes[name] = {"from": before, "to": raw}
    if changes:
        fields = {field.name: field for field in document.fields.all()}
        Document.objects.filter(id=document.id).update(**_summary_columns(fields))
        search_vector_refresh(document_ids=[document.id])
        _record_version(document, user=user, change_type="fields_corrected", changed=sorted(changes))
        audit_log_record(
            actor=user, action="document.fields_corrected", obj=document, changes=changes, ip_address=ip_address
        )
        notify.notify_document_event(
            event="document.updated", document=document, occurrence=str(uuid.uuid4()), data={"changed": sorted(changes)}
        )
    return sorted(changes)


def _record_training_example(document: Document, field: ExtractedField | None, *, name: str, expected: str, user):
    """Ground truth for the learning loop: what the clerk says the field is vs. what we read.

    A field never touched by extraction (``extracted_value`` empty) was missed, which is a
    mistake too. The row is overwritten by a later correction of the same field.
    """
    from extraction.models import TrainingData

    extracted = field.extracted_value if field else ""
    TrainingData.objects.update_or_create(
        document=document,
        field_name=name,
        defaults={
            "expected_value": expected,
            "extracted_value": extracted,
            "extraction_method": (field.rule if field else "")[:100],
            "was_correct": extracted == expected,
            "bounding_box": field.bbox if field else None,
            "validated_by": user,
            "validated_at": timezone.now(),
        },
    )


@transaction.atomic
def document_approve(*, document: Document, user, ip_address=None) -> None:
    review_claim_check(document=document, user=user)
    changed = Document.objects.filter(id=document.id, status=Document.Status.REVIEW).update(
        status=Document.Status.APPROVED,
        reviewed_by=user,
        reviewed_at=timezone.now(),
        status_reason="",
        claimed_by=None,
        claimed_until=None,
    )
    if changed != 1:
        raise ApplicationError(
            "Nur Dokumente in Prüfung können freigegeben werden.", code="invalid_status", status_code=409
        )
    document.refresh_from_db()
    _record_version(document, user=user, change_type="approved", changed=[])
    audit_log_record(actor=user, action="document.approved", obj=document, ip_address=ip_address)
    workflows_document_event(document=document, event="approved", user=user)
    from suppliers.services import supplier_document_reviewed  # suppliers imports documents

    supplier_document_reviewed(document=document, user=user)
    notify.notify_review_completed(document=document, reviewer=user, approved=True)
    training_data_record_review(document=document, user=user)
    transaction.on_commit(
        lambda: events.publish(
            events.DocumentEvent(str(document.id), str(document.owner_id), Document.Status.APPROVED, stage="approved")
        )
    )


@transaction.atomic
def document_reject(*, document: Document, user, reason: str, ip_address=None) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("Bitte einen Grund für die Ablehnung angeben.", code="reason_required")
    review_claim_check(document=document, user=user)
    changed = Document.objects.filter(id=document.id, status=Document.Status.REVIEW).update(
        status=Document.Status.REJECTED,
        status_reason=reason[:2000],
        reviewed_by=user,
        reviewed_at=timezone.now(),
        claimed_by=None,
        claimed_until=None,
    )
    if changed != 1:
        raise ApplicationError(
            "Nur Dokumente in Prüfung können abgelehnt werden.", code="invalid_status", status_code=409
        )
    document.refresh_from_db()
    _record_version(document, user=user, change_type="rejected", changed=[], description=reason)
    audit_log_record(
        actor=user, action="document.rejected", obj=document, changes={"reason": reason}, ip_address=ip_address
    )
    workflows_document_event(document=document, event="rejected", user=user)
    notify.notify_review_completed(document=document, reviewer=user, approved=False, reason=reason)
    training_data_record_review(document=document, user=user)
    transaction.on_commit(
        lambda: events.publish(
            events.DocumentEvent(
                str(document.id), str(document.owner_id), Document.Status.REJECTED, stage="rejected", message=reason
            )
        )
    )


@transaction.atomic
def document_fields_set_extracted(
    *, document: Document, values: dict, rule: str, source: str = ExtractedField.Source.RULE
) -> list[str]:
    """Store machine-extracted values (``extraction.types.FieldValue``) from a later pass, e.g.
    a workflow step or a model's suggestions (``source`` "model"). A clerk's correction (locked
    field) is never overwritten, nor a value extracted with higher confidence. Returns the names written."""
    document = Document.objects.select_for_update().get(id=document.id)
    existing = {field.name: field for field in document.fields.all()}
    written = []
    for name, value in values.items():
        field = existing.get(name)
        if field is not None and (field.locked or field.confidence >= value.confidence):
            continue
        ExtractedField.objects.update_or_create(
            document=document,
            name=name,
            defaults={
                "value": value.value,
                "normalized_value": value.normalized,
                "extracted_value": value.value,
                "confidence": value.confidence,
                "page": value.page,
                "bbox": list(value.bbox) if value.bbox else None,
                "source": source,
                "rule": rule[:100],
            },
        )
        written.append(name)
    if written:
        fields = {field.name: field for field in document.fields.all()}
        Document.objects.filter(id=document.id).update(**_summary_columns(fields))
        search_vector_refresh(document_ids=[document.id])
        _record_version(document, user=None, change_type="fields_extracted", changed=sorted(written), description=rule)
        audit_log_record(actor=None, action="document.fields_extracted", obj=document, changes={"fields": written})
    return sorted(written)


# --- recovery ----------------------------------------------------------------------------------

STALE_PENDING_AFTER = timedelta(minutes=30)


def jobs_recover_stale(*, now=None) -> int:
    """Re-send jobs whose message was lost; returns how many.

    A running job nobody holds the lock of has lost its worker (e.g. the main process was
    killed: the file broker of the embedded install then loses the message). A pending job
    whose message went out long ago may have lost it the same way. Sending again is safe:
    the job lock and the guarded claim make a surplus delivery a no-op.
    """
    now = now or timezone.now()
    recovered = 0
    stale_pending = Q(status=ProcessingJob.Status.PENDING) & (
        Q(enqueued_at__lt=now - STALE_PENDING_AFTER)
        | Q(enqueued_at__isnull=True, created_at__lt=now - STALE_PENDING_AFTER)
    )
    candidates = ProcessingJob.objects.filter(Q(status=ProcessingJob.Status.RUNNING) | stale_pending).select_related(
        "document"
    )
    for job in candidates:
        with locks.exclusive(f"processing-job:{job.id}") as free:
            if not free:
                continue  # a live worker is on it
        logger.warning("Re-sending job %s (%s) of document %s", job.id, job.status, job.document_id)
        _enqueue(job)
        recovered += 1
    return recovered


# --- reprocessing ------------------------------------------------------------------------------

REPROCESSABLE_STATUSES = (Document.Status.DEAD, Document.Status.REJECTED)


@transaction.atomic
def document_reprocess(*, document: Document, user, ip_address=None) -> ProcessingJob:
    """Run the pipeline again over the stored original (dead | rejected -> queued) as a new job.

    Locked (manually corrected) fields survive: the pipeline never overwrites them.
    """
    if ProcessingJob.objects.filter(
        document=document, status__in=[ProcessingJob.Status.PENDING, ProcessingJob.Status.RUNNING]
    ).exists():
        raise ApplicationError("Das Dokument wird bereits verarbeitet.", code="already_processing", status_code=409)
    changed = Document.objects.filter(id=document.id, status__in=REPROCESSABLE_STATUSES).update(
        status=Document.Status.QUEUED, status_reason=""
    )
    if changed != 1:
        raise ApplicationError(
            "Nur abgebrochene oder abgelehnte Dokumente können neu verarbeitet werden.",
            code="not_reprocessable",
            status_code=409,
        )
    job = ProcessingJob.objects.create(document=document, queue="ocr_cpu", created_by=user)
    JobEvent.objects.create(job=job, event_type="queued", message="Neue Verarbeitung angefordert")
    audit_log_record(
        actor=user, action="document.reprocess", obj=document, changes={"job": str(job.id)}, ip_address=ip_address
    )
    transaction.on_commit(lambda: _enqueue(job))
    document.status = Document.Status.QUEUED
    return job


@transaction.atomic
def job_retry(*, job: ProcessingJob, user, ip_address=None) -> ProcessingJob:
    """Retry a failed job: only the document's latest job, and only when it failed."""
    latest = ProcessingJob.objects.filter(document_id=job.document_id).order_by("-created_at").first()
    if job.status != ProcessingJob.Status.FAILED or latest is None or latest.id != job.id:
        raise ApplicationError(
            "Nur der letzte, fehlgeschlagene Auftrag eines Dokuments kann wiederholt werden.",
            code="not_retryable",
            status_code=409,
        )
    return document_reprocess(document=job.document, user=user, ip_address=ip_address)
