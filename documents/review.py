"""Review-screen writes beyond field corrections: type, supplier, tags, notes, relations,
line items and sending a document back for reprocessing. Keyword-only, transactional.

Field corrections, approval and rejection stay in ``documents.services``; every function
here checks the review claim the same way (``review_claim_check``) and leaves an audit entry.
Also the inline validation preview, which writes nothing.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ablage.errors import ApplicationError
from documents import events
from documents.field_labels import FIELD_LABELS
from documents.models import (
    Document,
    DocumentNote,
    DocumentRelation,
    JobEvent,
    ProcessingJob,
    Tag,
)
from documents.review_queue import review_claim_check
from documents.selectors import (
    document_changes_since,
    document_etag,
    document_field_values_before,
    etag_audit_sequence,
)
from monitoring.services import audit_log_record

MAX_NOTE_LENGTH = 5000
MAX_TAG_LENGTH = 100
LINE_ITEM_KEYS = ("position", "description", "quantity", "unit", "unit_price", "vat_rate", "line_total")
LINE_ITEM_NUMBERS = ("quantity", "unit_price", "vat_rate", "line_total")
REPROCESSABLE = (Document.Status.REVIEW, Document.Status.REJECTED, Document.Status.DEAD)


def _editable(document: Document, *, user) -> None:
    if document.status not in (Document.Status.REVIEW, Document.Status.APPROVED):
        raise ApplicationError(
            _("Dieses Dokument kann im aktuellen Status nicht bearbeitet werden."),
            code="not_editable",
            status_code=409,
        )
    review_claim_check(document=document, user=user)


def document_lock_unchanged(*, document: Document, etag: str | None) -> Document:
    """Lock the document's row and refuse a write based on an older version (optimistic concurrency).

    ``etag`` is what ``document_etag`` handed out when the clerk's form or the API client read
    the document (``*`` accepts any version, RFC 9110 If-Match). Call inside the transaction that
    then writes: the row lock makes check and write one step, so a second clerk's save waits
    here and then sees the first one's change. Returns the locked, freshly read document.
    """
    if not etag:
        raise ApplicationError(
            _("Die Version, auf der diese Änderung beruht, fehlt. Bitte das Dokument neu laden."),
            code="precondition_required",
            status_code=428,
        )
    locked = Document.objects.select_for_update().get(id=document.id)
    current = document_etag(locked)
    candidates = [candidate.strip() for candidate in etag.split(",")]
    # A weak tag never matches for a write (RFC 9110 section 13.1.1: strong comparison).
    if "*" in candidates or current in candidates:
        return locked
    sequence = etag_audit_sequence(candidates[0])
    changes = document_changes_since(locked, sequence=sequence)
    raise ApplicationError(
        _(
            "Das Dokument wurde geändert, seit Sie es geöffnet haben; Ihre Änderung wurde nicht gespeichert. "
            "Bitte prüfen Sie die Änderungen und speichern Sie erneut."
        ),
        code="precondition_failed",
        status_code=412,
        extra={
            "changes": changes or [_("Das Dokument wurde durch die Verarbeitung geändert.")],
            "etag": current,
            "fields_before": document_field_values_before(locked, sequence=sequence),
        },
    )


@transaction.atomic
def document_set_type(*, document: Document, user, document_type: str, ip_address=None) -> None:
    """The clerk's choice of type; locked, so reprocessing keeps it."""
    if document_type not in Document.DocumentType.values:
        raise ApplicationError(_("Unbekannter Dokumenttyp."), code="invalid_document_type")
    _editable(document, user=user)
    before = document.document_type
    Document.objects.filter(id=document.id).update(
        document_type=document_type, document_type_confidence=1.0, document_type_locked=True
    )
    document.document_type, document.document_type_locked = document_type, True
    if before != document_type:
        audit_log_record(
            actor=user,
            action="document.type_set",
            obj=document,
            changes={"document_type": {"from": before, "to": document_type}},
            ip_address=ip_address,
        )


@transaction.atomic
def document_set_supplier(*, document: Document, user, supplier, ip_address=None) -> None:
    _editable(document, user=user)
    before = document.supplier_id
    Document.objects.filter(id=document.id).update(supplier=supplier)
    document.supplier = supplier
    audit_log_record(
        actor=user,
        action="document.supplier_set",
        obj=document,
        changes={"supplier": {"from": str(before or ""), "to": str(supplier.id if supplier else "")}},
        ip_address=ip_address,
    )


def tags_from_text(text: str) -> list[str]:
    """ "Strom, 2025 ,Strom" -> ["Strom", "2025"]: comma-separated, trimmed, first spelling wins."""
    names = []
    for name in (part.strip() for part in (text or "").split(",")):
        if not name:
            continue
        if len(name) > MAX_TAG_LENGTH:
            raise ApplicationError(
                _("Das Schlagwort „%(name)s…“ ist zu lang; erlaubt sind %(max)s Zeichen.")
                % {"name": name[:40], "max": MAX_TAG_LENGTH},
                code="invalid_tag",
            )
        if name.casefold() not in (known.casefold() for known in names):
            names.append(name)
    return names


def tags_get_or_create(names: list[str]) -> list[Tag]:
    # Matched case-insensitively, as at ingest: "strom" does not become a second "Strom".
    return [Tag.objects.filter(name__iexact=name).first() or Tag.objects.create(name=name) for name in names]


@transaction.atomic
def document_set_tags(*, document: Document, user, names: list[str], ip_address=None) -> None:
    """Replace the document's tags by ``names`` (created when missing)."""
    before = sorted(document.tags.values_list("name", flat=True))
    tags = tags_get_or_create(names)
    document.tags.set(tags)
    after = sorted(tag.name for tag in tags)
    if before != after:
        audit_log_record(
            actor=user,
            action="document.tags_set",
            obj=document,
            changes={"tags": {"from": before, "to": after}},
            ip_address=ip_address,
        )


@transaction.atomic
def document_add_note(*, document: Document, user, text: str, ip_address=None) -> DocumentNote:
    text = (text or "").strip()
    if not text:
        raise ApplicationError(_("Die Notiz ist leer."), code="note_empty", extra={"field": "note"})
    if len(text) > MAX_NOTE_LENGTH:
        raise ApplicationError(
            _("Die Notiz ist zu lang; erlaubt sind %(max)s Zeichen.") % {"max": MAX_NOTE_LENGTH},
            code="note_too_long",
            extra={"field": "note"},
        )
    note = DocumentNote.objects.create(document=document, author=user, text=text)
    audit_log_record(
        actor=user, action="document.note_added", obj=document, changes={"note": text[:200]}, ip_address=ip_address
    )
    return note


@transaction.atomic
def document_relate(*, document: Document, user, target: Document, relation_type: str, ip_address=None):
    """Link ``document`` to ``target`` ("Gutschrift zu Rechnung ..."). ``target`` comes from the user's visible set."""
    if relation_type not in DocumentRelation.RelationType.values:
        raise ApplicationError(_("Unbekannte Beziehungsart."), code="invalid_relation_type")
    if target.id == document.id:
        raise ApplicationError(_("Ein Dokument kann nicht auf sich selbst verweisen."), code="relation_self")
    relation, created = DocumentRelation.objects.get_or_create(
        source=document, target=target, relation_type=relation_type, defaults={"created_by": user, "confidence": 1.0}
    )
    if not created:
        raise ApplicationError(_("Diese Beziehung besteht bereits."), code="relation_exists", status_code=409)
    audit_log_record(
        actor=user,
        action="document.related",
        obj=document,
        changes={"relation": relation_type, "target": str(target.id)},
        ip_address=ip_address,
    )
    return relation


def _line_item_number(text: str, *, position: int, key: str) -> str:
    from extraction.normalize import format_amount, parse_amount

    if not text:
        return ""
    amount = parse_amount(text)
    if amount is None:
        raise ApplicationError(
            _("Position %(n)s: „%(value)s“ ist keine Zahl.") % {"n": position, "value": text[:40]},
            code="invalid_line_item",
            extra={"field": f"line_{position - 1}_{key}"},
        )
    return format_amount(amount) if key != "quantity" else format(amount.normalize(), "f")


@transaction.atomic
def document_update_line_items(*, document: Document, user, items: list[dict], ip_address=None) -> bool:
    """Replace the positions table by the clerk's version (numbers in German or canonical form).

    Rows left entirely empty are dropped. Returns whether anything changed.
    """
    document = Document.objects.select_for_update().get(id=document.id)
    _editable(document, user=user)
    cleaned = []
    for index, item in enumerate(items, start=1):
        row = {key: str(item.get(key, "") or "").strip()[:500] for key in LINE_ITEM_KEYS}
        if not any(row.values()):
            continue
        for key in LINE_ITEM_NUMBERS:
            row[key] = _line_item_number(row[key], position=index, key=key)
        cleaned.append(row)
    before = document.line_items if isinstance(document.line_items, list) else []
    comparable_before = [{key: str(item.get(key, "") or "") for key in LINE_ITEM_KEYS} for item in before]
    if cleaned == comparable_before:
        return False
    Document.objects.filter(id=document.id).update(line_items=cleaned)
    audit_log_record(
        actor=user,
        action="document.line_items_corrected",
        obj=document,
        changes={"line_items": {"from": before, "to": cleaned}},
        ip_address=ip_address,
    )
    return True


@transaction.atomic
def document_reprocess(*, document: Document, user, ip_address=None) -> ProcessingJob:
    """Send the document through the pipeline again; clerk-locked fields and type survive it."""
    from documents.services import _enqueue

    changed = Document.objects.filter(id=document.id, status__in=REPROCESSABLE).update(
        status=Document.Status.QUEUED, status_reason="", claimed_by=None, claimed_until=None
    )
    if changed != 1:
        raise ApplicationError(
            _("Nur Dokumente in Prüfung, abgelehnte oder abgebrochene können neu verarbeitet werden."),
            code="invalid_status",
            status_code=409,
        )
    job = ProcessingJob.objects.create(document=document, queue="ocr_cpu", created_by=user)
    JobEvent.objects.create(
        job=job, event_type="queued", message=_("Erneute Verarbeitung angestoßen von %(user)s") % {"user": user}
    )
    audit_log_record(
        actor=user,
        action="document.reprocess_requested",
        obj=document,
        changes={"status": {"from": document.status, "to": Document.Status.QUEUED}},
        ip_address=ip_address,
    )
    document.status = Document.Status.QUEUED
    transaction.on_commit(lambda: _enqueue(job))
    transaction.on_commit(
        lambda: events.publish(
            events.DocumentEvent(str(document.id), str(document.owner_id), Document.Status.QUEUED, stage="queued")
        )
    )
    return job


# --- inline validation (no writes) ---------------------------------------------------------


@dataclass
class ReviewPreview:
    """What the review form would mean if saved now: per-field input errors and the cross-field checks."""

    field_errors: dict[str, str] = field(default_factory=dict)
    normalized: dict[str, str] = field(default_factory=dict)
    checks: list[dict] = field(default_factory=list)

    @property
    def failed_checks(self) -> list[dict]:
        return [check for check in self.checks if not check["ok"]]


def review_preview(*, document: Document, values: dict[str, str], today: date | None = None) -> ReviewPreview:
    """Normalise the typed values as saving would, then run the extraction's cross-field checks on them.

    Unchanged fields keep their stored normalised value; a field the clerk emptied counts as absent.
    """
    from extraction.normalize import normalize_field
    from extraction.types import FieldValue
    from extraction.validation import SUM_TOLERANCE, german_amount, validate

    preview = ReviewPreview()
    stored = {f.name: f for f in document.fields.all()}
    current: dict[str, FieldValue] = {}
    for name in set(stored) | set(values):
        raw = (values[name] if name in values else stored[name].value).strip()
        if not raw:
            continue
        if name in stored and raw == stored[name].value and stored[name].normalized_value:
            normalized = stored[name].normalized_value
        else:
            try:
                normalized = normalize_field(name, raw)
            except ValueError as exc:
                preview.field_errors[name] = str(exc)
                continue
        preview.normalized[name] = normalized
        current[name] = FieldValue(name=name, value=raw, normalized=normalized, confidence=1.0)
    try:
        checks = validate(
            current,
            document.document_type,
            vat_rates=[],
            today=today or timezone.localdate(),
            line_items=document.line_items if isinstance(document.line_items, list) else None,
        )
    except (ValueError, InvalidOperation):
        # A stored value of an unexpected shape (older extraction); the field errors say enough.
        checks = []
    for check in checks:
        message = check.message
        if check.rule == "amounts_sum" and not check.ok:
            net, vat, total = (Decimal(current[name].normalized) for name in check.fields)
            difference = abs(net + vat - total)
            if difference > SUM_TOLERANCE:
                message = _("Netto + USt ≠ Brutto (Differenz %(diff)s €)") % {"diff": german_amount(difference)}
        preview.checks.append(
            {
                "rule": check.rule,
                "ok": check.ok,
                "message": message,
                "fields": list(check.fields),
                "labels": [str(FIELD_LABELS.get(name, name)) for name in check.fields],
            }
        )
    return preview
