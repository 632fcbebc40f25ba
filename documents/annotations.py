"""What people add to a document besides its fields: tags, notes and relations; and its history.

Selectors take the user and return only what the user may see (through
``visible_documents``); services are keyword-only and transactional.
"""

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from ablage.errors import ApplicationError
from documents.models import Document, DocumentNote, DocumentRelation, DocumentVersion, Tag
from documents.selectors import visible_documents
from monitoring.models import AuditLog
from monitoring.services import audit_log_record

MAX_TAGS = 50


def may_change_document(user, document: Document) -> bool:
    """Changing tags, notes, relations or reprocessing: editors, or the uploader (a clerk) on their own upload."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser or user.has_perm("documents.change_document"):
        return True
    return document.owner_id == user.pk and user.has_perm("documents.add_document")


def _require_change(user, document: Document) -> None:
    if not may_change_document(user, document):
        raise ApplicationError(_("Sie dürfen dieses Dokument nicht ändern."), code="permission_denied", status_code=403)


# --- selectors --------------------------------------------------------------------------


def document_relations(*, user, document: Document) -> QuerySet[DocumentRelation]:
    """Relations from or to ``document`` whose other side the user may see as well."""
    visible_ids = visible_documents(user).values("id")
    return (
        DocumentRelation.objects.filter(
            Q(source=document, target_id__in=visible_ids) | Q(target=document, source_id__in=visible_ids)
        )
        .select_related("source", "target")
        .order_by("created_at")
    )


def document_history(*, document: Document) -> list[dict]:
    """Versions and audit entries of one document, newest first: who did what, when."""
    entries = [
        {
            "at": version.created_at,
            "kind": "version",
            "action": version.change_type,
            "actor": version.created_by.email if version.created_by else None,
            "description": version.description,
            "changes": {"fields": version.changed_fields, "version": version.version_number},
        }
        for version in DocumentVersion.objects.filter(document=document).select_related("created_by")
    ]
    entries += [
        {
            "at": entry.created_at,
            "kind": "audit",
            "action": entry.action,
            "actor": entry.actor.email if entry.actor else None,
            "description": entry.message,
            "changes": entry.changes,
        }
        for entry in AuditLog.objects.filter(
            object_type=Document._meta.label_lower, object_id=str(document.id)
        ).select_related("actor")
    ]
    return sorted(entries, key=lambda entry: entry["at"], reverse=True)


# --- services ---------------------------------------------------------------------------


@transaction.atomic
def document_tags_set(*, document: Document, user, names: list[str]) -> list[Tag]:
    """Replace the document's tags; missing tags are created, names match case-insensitively."""
    _require_change(user, document)
    cleaned = {}
    for name in names:
        name = name.strip()
        if name and name.casefold() not in cleaned:
            cleaned[name.casefold()] = name
    if len(cleaned) > MAX_TAGS:
        raise ApplicationError(
            _("Höchstens %(count)d Schlagwörter je Dokument.") % {"count": MAX_TAGS}, code="too_many_tags"
        )
    tags = []
    for name in cleaned.values():
        if len(name) > 100:
            raise ApplicationError(_("Ein Schlagwort darf höchstens 100 Zeichen haben."), code="tag_too_long")
        tag = Tag.objects.filter(name__iexact=name).first()
        if tag is None:
            try:
                with transaction.atomic():
                    tag = Tag.objects.create(name=name)
            except IntegrityError:  # created by a parallel request a moment ago
                tag = Tag.objects.get(name__iexact=name)
        tags.append(tag)
    old = sorted(document.tags.values_list("name", flat=True))
    document.tags.set(tags)
    new = sorted(tag.name for tag in tags)
    if old != new:
        audit_log_record(actor=user, action="document.tags_set", obj=document, changes={"old": old, "new": new})
    return sorted(tags, key=lambda tag: tag.name.casefold())


@transaction.atomic
def document_note_add(*, document: Document, user, text: str) -> DocumentNote:
    # Notes are conversation, not data: anyone who may see the document may comment, except
    # read-only roles (auditors, viewers), who hold no add/change permission on documents.
    if not (user.is_superuser or user.has_perm("documents.add_document") or user.has_perm("documents.change_document")):
        raise ApplicationError(_("Sie dürfen keine Notizen schreiben."), code="permission_denied", status_code=403)
    text = text.strip()
    if not text:
        raise ApplicationError(_("Die Notiz ist leer."), code="empty_note")
    note = DocumentNote.objects.create(document=document, author=user, text=text)
    audit_log_record(actor=user, action="document.note_added", obj=document, changes={"note": str(note.id)})
    return note


@transaction.atomic
def document_note_delete(*, note: DocumentNote, user) -> None:
    if note.author_id != user.pk and not (user.is_superuser or user.has_perm("documents.delete_documentnote")):
        raise ApplicationError(
            _("Nur die Verfasserin oder ein Admin kann diese Notiz löschen."), code="permission_denied", status_code=403
        )
    audit_log_record(
        actor=user, action="document.note_deleted", obj=note.document, changes={"note": str(note.id), "text": note.text}
    )
    note.delete()


@transaction.atomic
def document_relation_add(
    *, source: Document, target: Document, user, relation_type: str, notes: str = ""
) -> DocumentRelation:
    """Link two documents the user may both see and change (e.g. Gutschrift zu Rechnung)."""
    _require_change(user, source)
    _require_change(user, target)
    if source.id == target.id:
        raise ApplicationError(_("Ein Dokument kann nicht mit sich selbst verknüpft werden."), code="relation_to_self")
    if relation_type not in DocumentRelation.RelationType.values:
        raise ApplicationError(_("Unbekannte Beziehungsart."), code="invalid_relation_type")
    try:
        with transaction.atomic():
            relation = DocumentRelation.objects.create(
                source=source, target=target, relation_type=relation_type, notes=notes, created_by=user
            )
    except IntegrityError:
        raise ApplicationError(_("Diese Beziehung besteht bereits."), code="relation_exists", status_code=409) from None
    audit_log_record(
        actor=user,
        action="document.relation_added",
        obj=source,
        changes={"target": str(target.id), "relation_type": relation_type},
    )
    return relation


@transaction.atomic
def document_relation_delete(*, relation: DocumentRelation, user) -> None:
    _require_change(user, relation.source)
    _require_change(user, relation.target)
    audit_log_record(
        actor=user,
        action="document.relation_deleted",
        obj=relation.source,
        changes={"target": str(relation.target_id), "relation_type": relation.relation_type},
    )
    relation.delete()


@transaction.atomic
def documents_bulk_tag(*, user, document_ids: list, names: list[str]) -> int:
    """Add tags to many documents at once: all or nothing.

    One id the user may not see (404) or not change (403) refuses the whole request before
    anything is written, so a list mixing own and foreign ids changes no document at all.
    """
    wanted = set(document_ids)
    documents = list(visible_documents(user).filter(id__in=wanted).select_for_update(of=("self",)))
    if len(documents) != len(wanted):
        raise ApplicationError(
            _("Mindestens eines der Dokumente wurde nicht gefunden."), code="not_found", status_code=404
        )
    for document in documents:
        _require_change(user, document)
    for document in documents:
        current = list(document.tags.values_list("name", flat=True))
        document_tags_set(document=document, user=user, names=[*current, *names])
    return len(documents)
