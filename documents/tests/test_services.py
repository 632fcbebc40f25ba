"""The job runner with the real pipeline (pypdfium2, Tesseract) on generated invoices."""

import hashlib

import pytest
from django.core.files.storage import default_storage

from ablage.errors import ApplicationError
from documents import services
from documents.models import Document, DocumentVersion, ExtractedField, OCRResult, ProcessingJob
from monitoring.models import AuditLog, HealthCheck
from notifications.models import Notification

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

CORE = [
    "invoice_number",
    "invoice_date",
    "supplier_vat_id",
    "iban",
    "net_amount",
    "vat_amount",
    "total_amount",
    "currency",
]


def _ingest(owner, data, name="rechnung.pdf"):
    return services.document_ingest(owner=owner, filename=name, data=data)


def _run(document):
    job = document.jobs.get()
    services.job_run(job_id=job.id)
    document.refresh_from_db()
    job.refresh_from_db()
    return job


def _fields(document):
    return {field.name: field for field in document.fields.all()}


def test_it_processes_a_born_digital_invoice_from_its_text_layer(owner, born_digital_pdf, invoice_spec):
    document = _ingest(owner, born_digital_pdf)

    job = _run(document)

    truth = invoice_spec.ground_truth()
    fields = _fields(document)
    for name in CORE:
        assert fields[name].normalized_value == truth[name], name
    assert job.status == ProcessingJob.Status.COMPLETED and job.attempts == 1
    assert set(job.timings_ms) >= {"preflight", "text", "extraction"}
    assert document.status in (Document.Status.APPROVED, Document.Status.REVIEW)
    assert document.content_source == "text_layer"
    assert document.page_count == document.pages.count() >= 1
    assert str(document.total_amount) == truth["total_amount"]
    page = document.pages.get(page_number=1)
    assert page.text_source == "text_layer" and default_storage.exists(page.image_key)
    assert all(default_storage.exists(key) for key in document.thumbnails.values())
    assert set(document.thumbnails) == {"200", "400", "800"}
    assert fields["total_amount"].page is not None and len(fields["total_amount"].bbox) == 4


def test_it_ocrs_a_scanned_invoice_with_tesseract(owner, scanned_png, invoice_spec):
    document = _ingest(owner, scanned_png, name="scan.png")

    _run(document)

    truth = invoice_spec.ground_truth()
    fields = _fields(document)
    assert document.content_source == "ocr" and document.ocr_backend == "tesseract"
    assert fields["invoice_number"].normalized_value == truth["invoice_number"]
    assert fields["total_amount"].normalized_value == truth["total_amount"]
    assert fields["iban"].normalized_value == truth["iban"]
    result = OCRResult.objects.get(document=document, is_current=True)
    assert result.word_count > 50 and 0 < result.average_confidence <= 1
    assert any(truth["invoice_number"] in line["text"] for line in result.layout_lines)
    assert all(line["page"] == 1 and len(line["bbox"]) == 4 for line in result.layout_lines)
    assert result.low_confidence_word_count == len(result.low_confidence_words)
    assert all(word["c"] < 0.6 for word in result.low_confidence_words)


def test_it_is_idempotent_for_a_finished_job(owner, born_digital_pdf):
    document = _ingest(owner, born_digital_pdf)
    job = _run(document)
    updated = document.updated_at

    services.job_run(job_id=job.id)

    job.refresh_from_db()
    document.refresh_from_db()
    assert job.attempts == 1
    assert document.updated_at == updated
    assert OCRResult.objects.filter(document=document).count() == 1


def test_it_returns_quietly_when_the_job_is_gone(owner, born_digital_pdf):
    document = _ingest(owner, born_digital_pdf)
    job_id = document.jobs.get().id
    document.jobs.all().delete()

    services.job_run(job_id=job_id)  # no exception, nothing to do


def test_it_rejects_a_document_whose_original_turns_out_unreadable(owner, born_digital_pdf):
    document = _ingest(owner, born_digital_pdf)
    garbage = b"%PDF-1.7\n garbage"
    with default_storage.open(document.storage_key, "wb") as handle:
        handle.write(garbage)
    # Stored like that (hash and bytes agree): the pipeline, not the integrity check, refuses it.
    Document.objects.filter(id=document.id).update(sha256=hashlib.sha256(garbage).hexdigest())

    job = _run(document)

    assert document.status == Document.Status.REJECTED
    assert "beschädigt" in document.status_reason
    assert job.status == ProcessingJob.Status.FAILED and job.error_code == "corrupt_pdf"


def test_it_ends_the_job_for_good_when_the_original_was_altered_and_raises_the_alarm(
    owner, born_digital_pdf, django_user_model
):
    administrator = django_user_model.objects.create_superuser("betrieb@example.com", "x")
    document = _ingest(owner, born_digital_pdf)
    stored_hash = document.sha256
    with default_storage.open(document.storage_key, "wb") as handle:
        handle.write(born_digital_pdf.replace(b"Rechnung", b"Rechnunk", 1))

    job = _run(document)

    assert job.status == ProcessingJob.Status.FAILED and job.error_code == "original_mismatch"
    assert document.status == Document.Status.DEAD
    assert document.status_reason.startswith(
        "Die gespeicherte Originaldatei stimmt nicht mehr mit dem Upload überein (SHA-256 weicht ab)"
    )
    assert not document.pages.exists()
    entry = AuditLog.objects.get(action="document.original_mismatch")
    assert entry.object_id == str(document.id) and entry.changes["expected_sha256"] == stored_hash
    health = HealthCheck.objects.get(component="archive_files")
    assert health.status == HealthCheck.Status.DOWN and health.details["document"] == str(document.id)
    alert = Notification.objects.get(user=administrator, type=Notification.Type.SYSTEM_ALERT)
    assert alert.title == f"Original beschädigt: {document.title}"
    # Terminal: a redelivered message finds nothing to claim, so no retry loop.
    services.job_run(job_id=job.id)
    job.refresh_from_db()
    assert job.attempts == 1 and job.status == ProcessingJob.Status.FAILED


def test_it_ends_the_job_for_good_when_the_original_is_missing(owner, born_digital_pdf):
    document = _ingest(owner, born_digital_pdf)
    default_storage.delete(document.storage_key)

    job = _run(document)

    assert job.error_code == "original_missing"
    assert document.status == Document.Status.DEAD
    assert document.status_reason.startswith("Die Originaldatei fehlt im Speicher")
    assert AuditLog.objects.filter(action="document.original_missing", object_id=str(document.id)).exists()


def test_it_fails_a_job_that_exceeded_its_attempts(owner, born_digital_pdf):
    document = _ingest(owner, born_digital_pdf)
    ProcessingJob.objects.filter(document=document).update(status="running", attempts=3)

    job = _run(document)

    assert job.status == ProcessingJob.Status.FAILED
    assert document.status == Document.Status.DEAD
    assert "3 Versuchen" in document.status_reason


def test_it_keeps_a_clerks_correction_when_reprocessed(owner, reviewer, born_digital_pdf):
    document = _ingest(owner, born_digital_pdf)
    _run(document)
    Document.objects.filter(id=document.id).update(status=Document.Status.REVIEW)

    services.document_update_fields(document=document, user=reviewer, values={"invoice_number": "KORR-1"})
    job = ProcessingJob.objects.create(document=document)
    Document.objects.filter(id=document.id).update(status=Document.Status.QUEUED)
    services.job_run(job_id=job.id)

    field = ExtractedField.objects.get(document=document, name="invoice_number")
    assert field.value == "KORR-1" and field.locked and field.corrected_by == reviewer
    assert OCRResult.objects.filter(document=document, is_current=True).count() == 1
    assert OCRResult.objects.filter(document=document).count() == 2


def test_it_records_corrections_in_versions_and_audit_log(owner, reviewer, born_digital_pdf):
    document = _ingest(owner, born_digital_pdf)
    _run(document)
    Document.objects.filter(id=document.id).update(status=Document.Status.REVIEW)

    changed = services.document_update_fields(
        document=document, user=reviewer, values={"total_amount": "1.234,56 €", "invoice_date": "03.11.2026"}
    )

    assert changed == ["invoice_date", "total_amount"]
    fields = _fields(document)
    assert fields["total_amount"].normalized_value == "1234.56"
    assert fields["invoice_date"].normalized_value == "2026-11-03"
    document.refresh_from_db()
    assert str(document.total_amount) == "1234.56"
    version = DocumentVersion.objects.get(document=document)
    assert version.changed_fields == ["invoice_date", "total_amount"] and version.created_by == reviewer
    entry = AuditLog.objects.get(action="document.fields_corrected")
    assert entry.actor == reviewer and entry.changes["total_amount"]["to"] == "1.234,56 €"


def test_it_refuses_an_invalid_correction(owner, reviewer, born_digital_pdf):
    document = _ingest(owner, born_digital_pdf)
    _run(document)
    Document.objects.filter(id=document.id).update(status=Document.Status.REVIEW)

    with pytest.raises(ApplicationError) as refused:
        services.document_update_fields(document=document, user=reviewer, values={"invoice_date": "32.13.2026"})

    assert refused.value.extra["field"] == "invoice_date"
    assert not DocumentVersion.objects.filter(document=document).exists()


def test_it_approves_and_rejects_only_from_review(owner, reviewer, born_digital_pdf):
    document = _ingest(owner, born_digital_pdf)
    _run(document)
    Document.objects.filter(id=document.id).update(status=Document.Status.REVIEW)

    services.document_approve(document=document, user=reviewer)
    document.refresh_from_db()
    assert document.status == Document.Status.APPROVED and document.reviewed_by == reviewer
    with pytest.raises(ApplicationError):
        services.document_reject(document=document, user=reviewer, reason="doppelt")
    assert AuditLog.objects.filter(action="document.approved", actor=reviewer).count() == 1


def test_it_requires_a_reason_to_reject(owner, reviewer, born_digital_pdf):
    document = _ingest(owner, born_digital_pdf)
    _run(document)
    Document.objects.filter(id=document.id).update(status=Document.Status.REVIEW)

    with pytest.raises(ApplicationError):
        services.document_reject(document=document, user=reviewer, reason="  ")
    services.document_reject(document=document, user=reviewer, reason="Nicht an uns adressiert")

    document.refresh_from_db()
    assert document.status == Document.Status.REJECTED
    assert document.status_reason == "Nicht an uns adressiert"


def test_it_stores_page_progress_on_the_job(owner, scanned_png):
    document = _ingest(owner, scanned_png, name="scan.png")

    job = _run(document)

    assert job.progress == {"stage": "done", "page": 1, "pages": 1}
    assert set(job.events.values_list("event_type", flat=True)) >= {"queued", "started", "completed"}


def test_it_hands_a_document_needing_the_gpu_to_the_gpu_queue(owner, scanned_png, monkeypatch, settings):
    from system.services import config_set

    settings.ABLAGE_GPU_QUEUE_ENABLED = True
    config_set(key="ocr.backend", value="surya", user=None)
    document = _ingest(owner, scanned_png, name="scan.png")
    enqueued = []
    monkeypatch.setattr(services, "_enqueue", lambda job: enqueued.append((job.id, job.queue)))

    job = _run(document)

    assert job.status == ProcessingJob.Status.PENDING and job.queue == "ocr_gpu"
    assert document.status == Document.Status.QUEUED
    assert job.events.filter(event_type="handed_off").exists()
    assert enqueued == [(job.id, "ocr_gpu")]  # once, after the run let go of the job


def test_it_reads_with_tesseract_when_surya_is_wanted_but_there_is_no_gpu_queue(owner, scanned_png, settings):
    from system.services import config_set

    settings.ABLAGE_GPU_QUEUE_ENABLED = False
    config_set(key="ocr.backend", value="surya", user=None)
    document = _ingest(owner, scanned_png, name="scan.png")

    job = _run(document)

    assert job.status == ProcessingJob.Status.COMPLETED and job.queue == "ocr_cpu"
    assert job.backend == "tesseract"
    completed = job.events.get(event_type="completed")
    assert any("surya nicht verfügbar" in note for note in completed.data["notes"])


def test_it_leaves_a_job_to_the_live_process_already_running_it(owner, born_digital_pdf):
    import threading

    from documents import locks

    document = _ingest(owner, born_digital_pdf)
    job = document.jobs.get()
    held, release = threading.Event(), threading.Event()

    def other_worker():
        from django.db import connection

        with locks.exclusive(f"processing-job:{job.id}") as holder:
            assert holder
            held.set()
            release.wait(30)
        connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    held.wait(10)
    try:
        services.job_run(job_id=job.id)  # a duplicate delivery while the other run is alive
        job.refresh_from_db()
        assert job.status == ProcessingJob.Status.PENDING and job.attempts == 0
    finally:
        release.set()
        thread.join()

    services.job_run(job_id=job.id)  # the lock is free again: this delivery runs the job
    job.refresh_from_db()
    assert job.status == ProcessingJob.Status.COMPLETED and job.attempts == 1


def test_it_gives_up_after_transient_errors_exhaust_the_attempts(owner, born_digital_pdf, monkeypatch):
    from ocr import pipeline
    from ocr.errors import TransientOCRError

    def flaky(*args, **kwargs):
        raise TransientOCRError("Tesseract wurde beendet (Signal 9).")

    monkeypatch.setattr(pipeline, "run_pipeline", flaky)
    document = _ingest(owner, born_digital_pdf)
    job = document.jobs.get()

    for _ in range(job.max_attempts - 1):
        with pytest.raises(TransientOCRError):
            services.job_run(job_id=job.id)
        job.refresh_from_db()
        assert job.status == ProcessingJob.Status.PENDING
    services.job_run(job_id=job.id)

    job.refresh_from_db()
    document.refresh_from_db()
    assert job.status == ProcessingJob.Status.FAILED and job.error_code == "transient_exhausted"
    assert document.status == Document.Status.DEAD and "Signal 9" in document.status_reason


def test_it_leaves_the_job_to_the_retry_when_the_database_connection_is_lost(owner, born_digital_pdf, monkeypatch):
    import psycopg
    from django.db import OperationalError

    from ocr import pipeline

    real_run = pipeline.run_pipeline

    def connection_lost(*args, **kwargs):
        error = OperationalError("server closed the connection unexpectedly")
        error.__cause__ = psycopg.OperationalError("server closed the connection unexpectedly")
        raise error

    monkeypatch.setattr(pipeline, "run_pipeline", connection_lost)
    document = _ingest(owner, born_digital_pdf)
    job = document.jobs.get()
    with pytest.raises(OperationalError):
        services.job_run(job_id=job.id)
    job.refresh_from_db()
    assert job.status == ProcessingJob.Status.RUNNING and job.error_code == ""  # not marked dead

    monkeypatch.setattr(pipeline, "run_pipeline", real_run)
    services.job_run(job_id=job.id)  # the task's retry
    job.refresh_from_db()
    assert job.status == ProcessingJob.Status.COMPLETED and job.attempts == 2


def test_it_links_the_supplier_found_in_master_data(owner, born_digital_pdf, invoice_spec):
    from suppliers.models import Supplier

    truth = invoice_spec.ground_truth()
    supplier = Supplier.objects.create(name="Irgendein Name", vat_id=truth["supplier_vat_id"])
    document = _ingest(owner, born_digital_pdf)

    _run(document)

    assert document.supplier == supplier
    check = next(check for check in document.validation if check["rule"] == "supplier_known")
    assert check["ok"] and supplier.name in check["message"]


def test_it_sends_an_invoice_with_another_suppliers_iban_to_review(owner, born_digital_pdf, invoice_spec):
    from suppliers.models import Supplier

    truth = invoice_spec.ground_truth()
    Supplier.objects.create(name="Echter Lieferant GmbH", vat_id=truth["supplier_vat_id"])
    Supplier.objects.create(name="Ganz Anderer GmbH", iban=truth["iban"])
    document = _ingest(owner, born_digital_pdf)

    _run(document)

    assert document.status == Document.Status.REVIEW and document.decision == "review"
    check = next(check for check in document.validation if check["rule"] == "supplier_known")
    assert not check["ok"]


def test_it_scores_a_document_for_the_review_queue_when_it_enters_review(owner, scanned_png):
    from system.services import config_set

    config_set(key="extraction.quality_sample_rate", value=1.0, user=None)  # whatever it reads: review
    document = _ingest(owner, scanned_png, name="scan.png")

    _run(document)

    assert document.status == Document.Status.REVIEW
    assert document.review_priority is not None and 0 <= document.review_priority <= 1
    assert document.sla_due_at > document.created_at


def test_it_sends_sampled_documents_to_review_with_the_reason(owner, born_digital_pdf):
    from system.services import config_set

    config_set(key="extraction.quality_sample_rate", value=1.0, user=None)
    document = _ingest(owner, born_digital_pdf)

    _run(document)

    assert document.status == Document.Status.REVIEW
    assert "Stichprobe" in document.decision_reason


def test_it_applies_the_threshold_of_the_document_type(owner, born_digital_pdf):
    from system.services import config_set

    config_set(key="extraction.threshold.invoice", value=1.0, user=None)
    document = _ingest(owner, born_digital_pdf)

    _run(document)

    assert document.document_type == "invoice" and document.status == Document.Status.REVIEW
    assert "Schwelle" in document.decision_reason


def test_it_resends_jobs_whose_worker_or_message_was_lost(owner, born_digital_pdf, monkeypatch):
    import threading
    from datetime import timedelta

    from django.utils import timezone

    from documents import locks

    now = timezone.now()
    dead_run, live_run, waiting, forgotten = (_ingest(owner, born_digital_pdf).jobs.get() for _ in range(4))
    ProcessingJob.objects.filter(id__in=[dead_run.id, live_run.id]).update(status="running", attempts=1)
    ProcessingJob.objects.filter(id=waiting.id).update(enqueued_at=now - timedelta(minutes=5))
    ProcessingJob.objects.filter(id=forgotten.id).update(enqueued_at=now - timedelta(hours=2))
    resent = []
    monkeypatch.setattr(services, "_enqueue", lambda job: resent.append(job.id))
    held, release = threading.Event(), threading.Event()

    def live_worker():
        from django.db import connection

        with locks.exclusive(f"processing-job:{live_run.id}"):
            held.set()
            release.wait(30)
        connection.close()

    thread = threading.Thread(target=live_worker)
    thread.start()
    held.wait(10)
    try:
        count = services.jobs_recover_stale(now=now)
    finally:
        release.set()
        thread.join()

    assert sorted(resent) == sorted([dead_run.id, forgotten.id])
    assert count == 2


def test_it_gives_up_a_job_whose_worker_died_under_it_each_time_and_says_so(owner, born_digital_pdf):
    document = _ingest(owner, born_digital_pdf)
    job = document.jobs.get()
    # Three deliveries claimed it and never came back: the pool process died each time in OCR.
    ProcessingJob.objects.filter(id=job.id).update(
        status=ProcessingJob.Status.RUNNING, attempts=job.max_attempts, current_stage="ocr"
    )

    services.job_run(job_id=job.id)

    job.refresh_from_db()
    document.refresh_from_db()
    assert job.status == ProcessingJob.Status.FAILED and job.error_code == "too_many_attempts"
    assert document.status == Document.Status.DEAD
    assert document.status_reason == (
        "Verarbeitung nach 3 Versuchen abgebrochen (zuletzt im Schritt „ocr“): Der Verarbeitungsprozess "
        "wurde bei jedem Versuch beendet, bevor er fertig war (Absturz, Speichermangel oder Zeitlimit)"
    )
    assert not document.pages.exists()
