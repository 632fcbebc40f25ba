"""Small, fully stored documents for tests that need pages, files and fields but not the pipeline."""

import io
import uuid

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from documents.models import Document, DocumentPage, ExtractedField, ProcessingJob

TINY_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _jpeg(width: int = 40, height: int = 56) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, "JPEG")
    return buffer.getvalue()


def stored_document(
    owner,
    *,
    team=None,
    status=Document.Status.REVIEW,
    title="Rechnung 4711",
    fields=None,
    job_status=ProcessingJob.Status.COMPLETED,
) -> Document:
    """A document as the pipeline leaves it: original, one page image, thumbnails, fields and a job."""
    document_id = uuid.uuid4()
    original = default_storage.save(f"originals/test/{document_id}.pdf", ContentFile(TINY_PDF))
    page_key = default_storage.save(f"pages/{document_id}/p1.jpg", ContentFile(_jpeg()))
    thumbnail = default_storage.save(f"pages/{document_id}/thumb-400.jpg", ContentFile(_jpeg(20, 28)))
    document = Document.objects.create(
        id=document_id,
        owner=owner,
        team=team,
        title=title,
        original_filename=f"{title}.pdf",
        mime_type="application/pdf",
        file_size=len(TINY_PDF),
        sha256="0" * 64,
        storage_key=original,
        status=status,
        status_reason="Verarbeitung abgebrochen" if status in (Document.Status.DEAD, Document.Status.REJECTED) else "",
        page_count=1,
        thumbnails={"200": thumbnail, "400": thumbnail, "800": thumbnail},
    )
    DocumentPage.objects.create(
        document=document,
        page_number=1,
        image_key=page_key,
        width_px=40,
        height_px=56,
        dpi=300,
        text="Rechnung 4711",
        text_source=DocumentPage.TextSource.TEXT_LAYER,
    )
    for name, value in (fields or {"invoice_number": "4711", "total_gross": "119,00"}).items():
        ExtractedField.objects.create(document=document, name=name, value=value, normalized_value=value, confidence=0.9)
    ProcessingJob.objects.create(
        document=document,
        status=job_status,
        error_message="Absturz" if job_status == ProcessingJob.Status.FAILED else "",
    )
    return document
