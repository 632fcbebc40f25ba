"""Nothing lost: a pool process killed mid-OCR leads to the document completing exactly once."""

import os
import signal

import pytest
from django.core.files.storage import default_storage

from documents import services
from documents.models import Document, DocumentPage, ExtractedField, JobEvent, OCRResult, ProcessingJob
from tests.helpers import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.embedded]


@pytest.fixture(scope="module")
def three_page_scan():
    from ablage.testing.invoices import random_invoice
    from ablage.testing.scans import render_scan

    spec = random_invoice(21, layout="A", item_count=60)
    return render_scan(spec, "A", seed=21, dpi=200, noise=2.0, fmt="tiff")


def test_it_completes_a_document_once_after_its_worker_process_is_killed(celery_worker, owner, three_page_scan):
    document = services.document_ingest(owner=owner, filename="lang.tif", data=three_page_scan)
    job = document.jobs.get()

    wait_for(
        lambda: ProcessingJob.objects.filter(id=job.id, current_stage="ocr").exists(),
        timeout=60,
        interval=0.05,
        message="the job to reach OCR",
    )
    children = celery_worker.children()
    assert children, "no pool process to kill"
    for pid in children:
        os.kill(pid, signal.SIGKILL)

    def finished():
        job.refresh_from_db()
        return job.status in ("completed", "failed")

    wait_for(finished, timeout=180, message="the redelivered job to finish")
    document.refresh_from_db()
    assert job.status == ProcessingJob.Status.COMPLETED, job.error_message
    assert job.attempts == 2
    assert document.status in (Document.Status.REVIEW, Document.Status.APPROVED)
    assert JobEvent.objects.filter(job=job, event_type="started").count() == 2
    assert OCRResult.objects.filter(document=document).count() == 1
    pages = DocumentPage.objects.filter(document=document)
    assert pages.count() == document.page_count >= 2
    assert all(default_storage.exists(page.image_key) for page in pages)
    assert ExtractedField.objects.filter(document=document, name="total_amount").count() == 1
