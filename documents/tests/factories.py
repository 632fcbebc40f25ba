"""Documents straight in the database, without running the pipeline (fast list and review tests)."""

import uuid

from django.utils import timezone

from documents.models import Document, ExtractedField


def make_document(owner, *, title="Rechnung", status=Document.Status.REVIEW, fields=None, **columns) -> Document:
    defaults = {
        "document_type": Document.DocumentType.INVOICE,
        "overall_confidence": 0.9,
        "created_at": timezone.now(),
        "original_filename": f"{title}.pdf",
    }
    document = Document.objects.create(
        owner=owner,
        title=title,
        mime_type="application/pdf",
        file_size=1,
        sha256="0" * 64,
        storage_key=f"originals/{uuid.uuid4()}.pdf",
        status=status,
        **{**defaults, **columns},
    )
    for name, (value, normalized) in (fields or {}).items():
        ExtractedField.objects.create(
            document=document,
            name=name,
            value=value,
            normalized_value=normalized,
            extracted_value=normalized,
            confidence=0.7,
            rule="test",
            page=1,
            bbox=[0.1, 0.1, 0.3, 0.15],
        )
    return document
