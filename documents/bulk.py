"""Inbox bulk actions: one change applied to many selected documents.

All or nothing: the ids are resolved through the user's own document set first, and a single
id outside it (foreign, deleted or mistyped) refuses the whole action before anything changes.
"Approve valid ones" is the exception by design: it approves what passes and reports the rest.
"""

import csv
import io
import uuid
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from ablage.errors import ApplicationError
from documents import review, services
from documents.models import Document
from documents.selectors import reviewable_documents, visible_documents
from monitoring.services import audit_log_record

MAX_BULK = 500


def bulk_select(*, user, ids: list[str], for_review: bool = True) -> list[Document]:
    """The documents behind ``ids``, every one of them the user's to act on, or an error."""
    try:
        ids = list(dict.fromkeys(str(uuid.UUID(str(value))) for value in ids if str(value).strip()))
    except ValueError as exc:
        raise ApplicationError(_("Ungültige Dokumentauswahl."), code="invalid_selection") from exc
    if not ids:
        raise ApplicationError(_("Bitte mindestens ein Dokument auswählen."), code="nothing_selected")
    if len(ids) > MAX_BULK:
        raise ApplicationError(
            _("Höchstens %(max)s Dokumente auf einmal.") % {"max": MAX_BULK}, code="too_many_selected"
        )
    queryset: QuerySet[Document] = reviewable_documents(user) if for_review else visible_documents(user)
    documents = list(queryset.filter(id__in=ids))
    if len(documents) != len(ids):
        # Same answer for "foreign" and "does not exist": the list must not reveal others' documents.
        raise ApplicationError(
            _("%(n)s der ausgewählten Dokumente sind nicht (mehr) verfügbar; nichts wurde geändert.")
            % {"n": len(ids) - len(documents)},
            code="selection_not_found",
            status_code=404,
        )
    order = {value: index for index, value in enumerate(ids)}
    return sorted(documents, key=lambda document: order[str(document.id)])


@dataclass
class BulkResult:
    changed: int = 0
    skipped: list[tuple[Document, str]] = field(default_factory=list)


@transaction.atomic
def document_bulk_tag(*, user, ids: list[str], tag_names: list[str], ip_address=None) -> BulkResult:
    """Add the tags to every selected document (existing tags stay)."""
    if not tag_names:
        raise ApplicationError(_("Bitte ein Schlagwort angeben."), code="tag_required")
    documents = bulk_select(user=user, ids=ids)
    tags = review.tags_get_or_create(tag_names)
    for document in documents:
        document.tags.add(*tags)
        audit_log_record(
            actor=user,
            action="document.tags_added",
            obj=document,
            changes={"tags": [tag.name for tag in tags], "bulk": True},
            ip_address=ip_address,
        )
    return BulkResult(changed=len(documents))


def _assignee(user_id: str):
    User = get_user_model()
    try:
        assignee = User.objects.get(id=user_id, is_active=True)
    except (User.DoesNotExist, ValueError, ValidationError) as exc:
        raise ApplicationError(_("Unbekannte Bearbeiterin / unbekannter Bearbeiter."), code="invalid_assignee") from exc
    if not (assignee.is_superuser or assignee.has_perm("documents.review_document")):
        raise ApplicationError(
            _("%(name)s darf keine Dokumente prüfen.") % {"name": assignee}, code="assignee_not_reviewer"
        )
    return assignee


@transaction.atomic
def document_bulk_assign(*, user, ids: list[str], assignee_id: str, ip_address=None) -> BulkResult:
    """Assign the selected documents to a reviewer (empty ``assignee_id``: unassign)."""
    assignee = _assignee(assignee_id) if assignee_id else None
    documents = bulk_select(user=user, ids=ids)
    ids_selected = [document.id for document in documents]
    if assignee is not None and reviewable_documents(assignee).filter(id__in=ids_selected).count() != len(documents):
        raise ApplicationError(
            _("%(name)s darf nicht alle ausgewählten Dokumente sehen; nichts wurde geändert.") % {"name": assignee},
            code="assignee_cannot_see",
        )
    Document.objects.filter(id__in=ids_selected).update(assigned_to=assignee)
    for document in documents:
        audit_log_record(
            actor=user,
            action="document.assigned",
            obj=document,
            changes={
                "assigned_to": {"from": str(document.assigned_to_id or ""), "to": str(assignee.id if assignee else "")}
            },
            ip_address=ip_address,
        )
    return BulkResult(changed=len(documents))


@transaction.atomic
def document_bulk_set_type(*, user, ids: list[str], document_type: str, ip_address=None) -> BulkResult:
    if document_type not in Document.DocumentType.values:
        raise ApplicationError(_("Unbekannter Dokumenttyp."), code="invalid_document_type")
    documents = bulk_select(user=user, ids=ids)
    for document in documents:
        review.document_set_type(document=document, user=user, document_type=document_type, ip_address=ip_address)
    return BulkResult(changed=len(documents))


def document_bulk_approve_valid(*, user, ids: list[str], ip_address=None) -> BulkResult:
    """Approve each selected document that is in review with no failed check; report why others were left.

    Each approval is its own transaction: a document claimed by another clerk meanwhile is
    skipped, not a reason to undo the others.
    """
    documents = bulk_select(user=user, ids=ids)
    result = BulkResult()
    for document in documents:
        if document.status != Document.Status.REVIEW:
            result.skipped.append((document, _("nicht in Prüfung")))
            continue
        failed = [check for check in document.validation or [] if not check.get("ok", True)]
        if failed:
            result.skipped.append((document, failed[0].get("message", "")))
            continue
        try:
            services.document_approve(document=document, user=user, ip_address=ip_address)
        except ApplicationError as refusal:
            result.skipped.append((document, refusal.message))
            continue
        result.changed += 1
    return result


def document_bulk_reprocess(*, user, ids: list[str], ip_address=None) -> BulkResult:
    """All selected documents must be reprocessable; otherwise nothing is sent."""
    documents = bulk_select(user=user, ids=ids)
    unfit = [document for document in documents if document.status not in review.REPROCESSABLE]
    if unfit:
        raise ApplicationError(
            _("„%(title)s“ kann im Status „%(status)s“ nicht neu verarbeitet werden; nichts wurde geändert.")
            % {"title": unfit[0].title, "status": unfit[0].get_status_display()},
            code="invalid_status",
            status_code=409,
        )
    with transaction.atomic():
        for document in documents:
            review.document_reprocess(document=document, user=user, ip_address=ip_address)
    return BulkResult(changed=len(documents))


CSV_COLUMNS = (
    ("id", _("ID")),
    ("title", _("Titel")),
    ("original_filename", _("Dateiname")),
    ("status", _("Status")),
    ("document_type", _("Typ")),
    ("supplier", _("Lieferant")),
    ("document_number", _("Belegnummer")),
    ("document_date", _("Belegdatum")),
    ("total_amount", _("Betrag")),
    ("currency", _("Währung")),
    ("created_at", _("Eingang")),
)


def _csv_cell(value) -> str:
    text = "" if value is None else str(value)
    # Spreadsheet formula injection: a cell starting with = + - @ would be evaluated by Excel.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def documents_export_csv(*, user, ids: list[str]) -> str:
    """The selected documents as CSV (semicolon-separated, for German spreadsheet programs)."""
    documents = bulk_select(user=user, ids=ids, for_review=False)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow([str(label) for _key, label in CSV_COLUMNS])
    for document in documents:
        amount = "" if document.total_amount is None else str(document.total_amount).replace(".", ",")
        writer.writerow(
            _csv_cell(value)
            for value in (
                document.id,
                document.title,
                document.original_filename,
                document.get_status_display(),
                document.get_document_type_display(),
                document.supplier.name if document.supplier else "",
                document.document_number,
                document.document_date.isoformat() if document.document_date else "",
                amount,
                document.currency,
                document.created_at.isoformat(timespec="seconds"),
            )
        )
    return buffer.getvalue()
