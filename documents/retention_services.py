"""Writes of the archive: trash, restore, legal hold, purge after expiry, GDPR erasure.

Every change is audited. Purging removes the row and all stored files of a document whose
retention has ended and that is not on hold; its audit entries stay (they are the record that
it existed and who removed it, which GoBD and the GDPR accountability duty both ask for).
"""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from ablage.errors import ApplicationError
from documents.models import Document
from documents.result_cache import result_cache_forget
from documents.retention import deletion_refusal, retention_until
from monitoring.services import audit_log_record

ARCHIVE_PERMISSION = "documents.delete_document"


def may_administer_archive(user) -> bool:
    """Legal holds, purges and GDPR erasure: holders of ``documents.delete_document`` (the admin role)."""
    return bool(user is not None and user.is_active and user.has_perm(ARCHIVE_PERMISSION))


def may_trash(user, document: Document) -> bool:
    """Trash and restore: the document's owner, or an archive administrator."""
    return document.owner_id == getattr(user, "pk", None) or may_administer_archive(user)


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise ApplicationError(message, code="forbidden", status_code=403)


def _reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(f"Bitte einen Grund für {what} angeben.", code="reason_required")
    return reason[:2000]


@transaction.atomic
def document_trash(*, document: Document, user, reason: str) -> None:
    _require(may_trash(user, document), "Nur der Eigentümer oder ein Administrator löscht Dokumente.")
    reason = _reason(reason, "das Löschen")
    changed = Document.objects.filter(pk=document.pk, deleted_at=None).update(
        deleted_at=timezone.now(), deletion_reason=reason
    )
    if changed != 1:
        raise ApplicationError("Das Dokument liegt bereits im Papierkorb.", code="already_deleted", status_code=409)
    audit_log_record(
        actor=user,
        action="document.trashed",
        obj=document,
        changes={"reason": reason, "retention_until": retention_until(document).isoformat()},
    )


@transaction.atomic
def document_restore(*, document: Document, user) -> None:
    _require(may_trash(user, document), "Nur der Eigentümer oder ein Administrator stellt Dokumente wieder her.")
    changed = (
        Document.all_objects.filter(pk=document.pk).exclude(deleted_at=None).update(deleted_at=None, deletion_reason="")
    )
    if changed != 1:
        raise ApplicationError("Das Dokument liegt nicht im Papierkorb.", code="not_deleted", status_code=409)
    audit_log_record(actor=user, action="document.restored", obj=document)


@transaction.atomic
def legal_hold_set(*, document: Document, user, reason: str) -> None:
    _require(may_administer_archive(user), "Nur Administratoren setzen Aufbewahrungssperren.")
    reason = _reason(reason, "die Aufbewahrungssperre")
    Document.all_objects.filter(pk=document.pk).update(legal_hold=True, legal_hold_reason=reason)
    audit_log_record(actor=user, action="document.legal_hold_set", obj=document, changes={"reason": reason})


@transaction.atomic
def legal_hold_release(*, document: Document, user, reason: str) -> None:
    _require(may_administer_archive(user), "Nur Administratoren heben Aufbewahrungssperren auf.")
    reason = _reason(reason, "das Aufheben der Sperre")
    Document.all_objects.filter(pk=document.pk).update(legal_hold=False, legal_hold_reason="")
    audit_log_record(actor=user, action="document.legal_hold_released", obj=document, changes={"reason": reason})


def documents_retention_expired(*, today=None):
    """Deletion proposals: documents past retention and not on hold (trashed ones first)."""
    today = today or timezone.localdate()
    candidates = Document.all_objects.filter(legal_hold=False).order_by("-deleted_at", "document_date", "created_at")
    return [document for document in candidates if deletion_refusal(document, today=today) is None]


def retention_proposals_notify(*, today=None) -> int:
    """Scheduled: tell the administrators how many documents may now be deleted (once a month).

    Nothing is deleted here; an administrator decides (admin: filter "gelöscht", action
    "Endgültig löschen")."""
    from accounts.selectors import users_with_permission
    from notifications.models import Notification
    from system.models import SystemParameter

    today = today or timezone.localdate()
    expired = documents_retention_expired(today=today)
    if not expired:
        return 0
    _, created = SystemParameter.objects.get_or_create(
        key=f"archive.retention_proposal.{today:%Y-%m}", defaults={"value": str(len(expired)), "category": "archive"}
    )
    if not created:
        return 0
    Notification.objects.bulk_create(
        Notification(
            user=admin,
            type=Notification.Type.SYSTEM_ALERT,
            title=f"Aufbewahrung abgelaufen: {len(expired)} Dokument(e) können gelöscht werden",
            message="\n".join(
                f"{document.title} (aufzubewahren bis {retention_until(document):%d.%m.%Y})"
                for document in expired[:20]
            ),
            link_url="/admin/documents/document/",
        )
        for admin in users_with_permission(ARCHIVE_PERMISSION)
    )
    return len(expired)


def document_purge(*, document: Document, user, confirmation: str) -> None:
    """Remove for good, after an administrator typed the document's title as confirmation."""
    _require(may_administer_archive(user), "Nur Administratoren löschen endgültig.")
    document = Document.all_objects.get(pk=document.pk)
    if confirmation.strip() != document.title:
        raise ApplicationError(
            "Zur Bestätigung bitte den Titel des Dokuments genau eingeben.", code="confirmation_mismatch"
        )
    refusal = deletion_refusal(document)
    if refusal:
        raise ApplicationError(refusal, code="retention_protected", status_code=409)
    keys = [document.storage_key, document.archive_key, document.einvoice_key, *document.thumbnails.values()]
    keys += [document.rendition_key] if document.rendition_key else []
    keys += [key for pair in document.pages.values_list("image_key", "thumbnail_key") for key in pair]
    with transaction.atomic():
        audit_log_record(
            actor=user,
            action="document.purged",
            obj=document,
            changes={
                "title": document.title,
                "sha256": document.sha256,
                "retention_until": retention_until(document).isoformat(),
            },
        )
        document.delete()
        transaction.on_commit(lambda: [default_storage.delete(key) for key in set(keys) if key])
        # The cached reading holds the same pages and words: it goes with the last holder.
        transaction.on_commit(lambda: result_cache_forget(document.sha256))


def erasure_request_process(*, subject: str, user, today=None) -> dict:
    """GDPR Art. 17: documents that mention ``subject`` (an e-mail address or a name) are purged
    where retention allows; the others are kept (Art. 17(3)(b): legal obligation) and listed
    with the date their retention ends. The request and its outcome are audited."""
    subject = (subject or "").strip()
    if len(subject) < 3:
        raise ApplicationError("Bitte eine E-Mail-Adresse oder einen Namen angeben.", code="subject_required")
    _require(may_administer_archive(user), "Nur Administratoren bearbeiten Löschanfragen.")
    purged, kept = [], []
    for document in documents_mentioning(subject):
        refusal = deletion_refusal(document, today=today)
        if refusal:
            kept.append(
                {"id": str(document.pk), "title": document.title, "until": retention_until(document).isoformat()}
            )
        else:
            document_purge(document=document, user=user, confirmation=document.title)
            purged.append({"id": str(document.pk), "title": document.title})
    outcome = {"subject_hash": _subject_hash(subject), "purged": purged, "kept": kept}
    # The subject itself is personal data: the audit keeps a hash, not the name.
    audit_log_record(actor=user, action="gdpr.erasure_request", obj=user, changes=outcome)
    return outcome


def documents_mentioning(subject: str):
    """Every document (trash included) whose text, fields, title or file name contains ``subject``."""
    from django.db.models import Q

    return (
        Document.all_objects.filter(
            Q(title__icontains=subject)
            | Q(original_filename__icontains=subject)
            | Q(pages__text__icontains=subject)
            | Q(fields__value__icontains=subject)
        )
        .distinct()
        .order_by("created_at")
    )


def _subject_hash(subject: str) -> str:
    import hashlib

    return hashlib.sha256(subject.lower().encode()).hexdigest()[:16]
