"""Retention (GoBD, §147 AO; §257 HGB): how long a document must be kept, and who may delete it.

Periods per document type come from ``archive.retention_years`` (defaults: invoices, credit
notes and receipts — Buchungsbelege — 8 years since 2025; contracts and other records 10;
business letters, orders, delivery notes and reminders 6). The period runs from the end of
the calendar year of the document date (the receipt date when there is none). A document
under retention or under legal hold can be moved to the trash, never removed; after expiry
an administrator confirms the deletion (``documents.services_retention.document_purge``).
"""

from __future__ import annotations

from datetime import date

from django.utils import timezone

from ablage.errors import ApplicationError

DEFAULT_YEARS = {
    "invoice": 8,
    "credit_note": 8,
    "receipt": 8,
    "contract": 10,
    "form": 10,
    "unknown": 10,
    "letter": 6,
    "order": 6,
    "delivery_note": 6,
    "reminder": 6,
}


def retention_years(document_type: str) -> int:
    from system.selectors import config_get

    configured = config_get("archive.retention_years", {}) or {}
    return int(configured.get(document_type, DEFAULT_YEARS.get(document_type, 10)))


def retention_until(document) -> date:
    """The last day the document must be kept."""
    basis = document.document_date or timezone.localdate(document.created_at)
    return date(basis.year + retention_years(document.document_type), 12, 31)


def deletion_refusal(document, *, today: date | None = None) -> str | None:
    """Why ``document`` may not be removed for good, or None when it may."""
    today = today or timezone.localdate()
    if document.legal_hold:
        return (
            f"Dokument „{document.title}“ unterliegt einer Aufbewahrungssperre (Legal Hold): "
            f"{document.legal_hold_reason}"
        )
    until = retention_until(document)
    if today <= until:
        return (
            f"Dokument „{document.title}“ ist bis {until:%d.%m.%Y} aufzubewahren "
            f"({retention_years(document.document_type)} Jahre, §147 AO); löschen erst danach."
        )
    return None


def guard_deletion(documents) -> None:
    """Raise if any of ``documents`` may not be removed (model-level protection)."""
    for document in documents:
        refusal = deletion_refusal(document)
        if refusal:
            raise ApplicationError(refusal, code="retention_protected", status_code=409)
