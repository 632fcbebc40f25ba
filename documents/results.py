"""The processing result in the command-line contract shape (``manage.py extract`` / ``ingest --wait``).

Normalised values throughout: dates ``YYYY-MM-DD``, amounts ``"1234.56"``, IBAN and VAT ID
upper-case without spaces, currency ISO 4217.
"""

from documents.models import Document


def _bbox(bbox):
    return [round(coordinate, 4) for coordinate in bbox] if bbox else None


def pipeline_result(output) -> dict:
    extraction = output.extraction
    return {
        "document_type": extraction.document_type,
        "source": output.content_source,
        "pages": len(output.pages),
        "ocr_backend": output.ocr_backend,
        "overall_confidence": round(extraction.overall_confidence, 4),
        "decision": output.decision,
        "decision_reason": output.decision_reason,
        "fields": {
            name: {
                "value": value.normalized,
                "text": value.value,
                "confidence": round(value.confidence, 4),
                "page": value.page,
                "bbox": _bbox(value.bbox),
            }
            for name, value in sorted(extraction.fields.items())
        },
        "line_items": extraction.line_items,
        "validation": [
            {"rule": check.rule, "ok": check.ok, "message": check.message} for check in extraction.validation
        ],
        "timings_ms": output.timings_ms,
    }


def document_result(document: Document) -> dict:
    result = {
        "id": str(document.id),
        "file": document.original_filename,
        "status": document.status,
        "status_reason": document.status_reason,
    }
    if document.processed_at is None:
        return result
    result.update(
        {
            "document_type": document.document_type,
            "source": document.content_source,
            "pages": document.page_count,
            "ocr_backend": document.ocr_backend,
            "overall_confidence": round(document.overall_confidence or 0.0, 4),
            "decision": document.decision,
            "decision_reason": document.decision_reason,
            "fields": {
                field.name: {
                    "value": field.normalized_value,
                    "text": field.value,
                    "confidence": round(field.confidence, 4),
                    "page": field.page,
                    "bbox": _bbox(field.bbox),
                }
                for field in document.fields.order_by("name")
            },
            "line_items": document.line_items,
            "validation": [
                {"rule": check["rule"], "ok": check["ok"], "message": check["message"]} for check in document.validation
            ],
            "timings_ms": document.timings_ms,
        }
    )
    return result
