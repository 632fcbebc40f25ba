"""Reads. ``visible_documents`` is the only way any view, API, download or websocket gets documents."""

import hashlib
import json

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Team
from documents.models import Document, ProcessingJob


def sees_all_documents(user) -> bool:
    """Admins, auditors and anyone granted ``accounts.view_all_documents`` see every document."""
    return user.is_superuser or user.has_perm("accounts.view_all_documents")


def visible_documents(user) -> QuerySet[Document]:
    """The documents ``user`` may see: their own and their teams', or all of them (see above)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Document.objects.none()
    documents = Document.objects.select_related("owner", "supplier")
    if sees_all_documents(user):
        return documents
    # A subquery rather than a join on team members: no duplicate rows, no DISTINCT needed.
    team_ids = Team.objects.filter(members=user).values("id")
    return documents.filter(Q(owner=user) | Q(team_id__in=team_ids))


def with_progress(documents: QuerySet[Document]) -> QuerySet[Document]:
    """Annotate each document with its latest job's progress (``job_progress``)."""
    latest = ProcessingJob.objects.filter(document=OuterRef("pk")).order_by("-created_at").values("progress")[:1]
    return documents.annotate(job_progress=Subquery(latest))


def reviewable_documents(user) -> QuerySet[Document]:
    """Documents the user may correct, approve or reject: visible ones, for holders of the review permission.

    A reviewer in teams therefore reviews their teams' documents (and their own); the review
    queue (documents.review_queue) is built on this.
    """
    if (
        user is None
        or not user.is_authenticated
        or not (user.is_superuser or user.has_perm("documents.review_document"))
    ):
        return Document.objects.none()
    return visible_documents(user)


def document_team_ids(user) -> list:
    """Ids of the teams ``user`` belongs to (websocket groups, team pickers)."""
    return list(Team.objects.filter(members=user).values_list("id", flat=True))


def document_etag(document: Document) -> str:
    """A strong ETag over what a client edits and decides on: status, type, supplier, line items
    and every field, prefixed by the document's latest audit sequence.

    Built from content, not ``updated_at``: guarded ``.update()`` calls change rows without
    touching the timestamp, and a lost update must still be caught (two clerks, one form).
    The audit sequence in front (``"<sequence>-<digest>"``) lets a refusal name what changed
    since the tag was handed out (``document_changes_since``); the digest also catches changes
    nobody audited (the pipeline's).
    """
    from monitoring.models import AuditLog

    current = Document.objects.filter(id=document.id).values("status", "document_type", "supplier_id", "line_items")
    state = current.first() or {}
    fields = sorted(document.fields.values_list("name", "value", "normalized_value", "locked"), key=lambda row: row[0])
    latest_version = document.versions.order_by("-version_number").values_list("version_number", flat=True).first()
    sequence = (
        AuditLog.objects.filter(object_type="documents.document", object_id=str(document.id))
        .exclude(sequence=None)
        .order_by("-sequence")
        .values_list("sequence", flat=True)
        .first()
        or 0
    )
    payload = [str(document.id), state, latest_version, fields]
    digest = hashlib.sha256(json.dumps(payload, default=str, sort_keys=True).encode()).hexdigest()
    return f'"{sequence}-{digest[:32]}"'


def etag_audit_sequence(etag: str) -> int | None:
    """The audit sequence a tag from ``document_etag`` was taken at; None for anything else."""
    head = etag.strip().strip('"').partition("-")[0]
    return int(head) if head.isdigit() else None


def document_changes_since(document: Document, *, sequence: int | None) -> list[str]:
    """What happened to the document after audit entry ``sequence``, one German line per change.

    Empty when ``sequence`` is unknown or nothing audited happened since (a change by the
    pipeline, which the ETag's digest still notices).
    """
    from monitoring.models import AuditLog

    if sequence is None:
        return []
    entries = (
        AuditLog.objects.filter(object_type="documents.document", object_id=str(document.id), sequence__gt=sequence)
        .select_related("actor")
        .order_by("sequence")[:MAX_CHANGES_LISTED]
    )
    lines = []
    for entry in entries:
        who = str(entry.actor) if entry.actor else _("Verarbeitung")
        when = timezone.localtime(entry.created_at).strftime("%H:%M")
        for what in _change_descriptions(entry):
            lines.append(_("%(who)s um %(when)s Uhr: %(what)s") % {"who": who, "when": when, "what": what})
    return lines


def document_field_values_before(document: Document, *, sequence: int | None) -> dict[str, str]:
    """Field values as they were at audit entry ``sequence``, for the fields clerks corrected since.

    Lets a refused form tell what its clerk typed from what the form merely showed.
    """
    from monitoring.models import AuditLog

    if sequence is None:
        return {}
    before: dict[str, str] = {}
    entries = AuditLog.objects.filter(
        object_type="documents.document",
        object_id=str(document.id),
        sequence__gt=sequence,
        action="document.fields_corrected",
    ).order_by("sequence")
    for changes in entries.values_list("changes", flat=True):
        for name, change in (changes or {}).items():
            if isinstance(change, dict):
                before.setdefault(name, str(change.get("from", "")))
    return before


MAX_CHANGES_LISTED = 20


def _quoted(value) -> str:
    text = str(value or "")
    return "„%s“" % (text[:60] + "…" if len(text) > 60 else text) if text else _("(leer)")


def _change_descriptions(entry) -> list[str]:
    from documents.field_labels import FIELD_LABELS

    changes = entry.changes if isinstance(entry.changes, dict) else {}
    action = entry.action.removeprefix("document.")
    if action == "fields_corrected":
        return [
            _("%(label)s %(before)s → %(after)s")
            % {
                "label": FIELD_LABELS.get(name, name),
                "before": _quoted(change.get("from")),
                "after": _quoted(change.get("to")),
            }
            for name, change in sorted(changes.items())
            if isinstance(change, dict)
        ]
    if action == "fields_extracted":
        names = ", ".join(str(FIELD_LABELS.get(name, name)) for name in changes.get("fields", []))
        return [_("Felder neu gelesen: %(names)s") % {"names": names}]
    if action == "type_set":
        labels = dict(Document.DocumentType.choices)
        change = changes.get("document_type", {})
        return [
            _("Dokumenttyp %(before)s → %(after)s")
            % {
                "before": labels.get(change.get("from"), change.get("from")),
                "after": labels.get(change.get("to"), change.get("to")),
            }
        ]
    if action == "tags_set":
        change = changes.get("tags", {})
        return [
            _("Schlagwörter %(before)s → %(after)s")
            % {"before": _quoted(", ".join(change.get("from", []))), "after": _quoted(", ".join(change.get("to", [])))}
        ]
    if action == "rejected":
        return [_("abgelehnt (%(reason)s)") % {"reason": str(changes.get("reason", ""))[:200]}]
    described = {
        "line_items_corrected": _("Positionen geändert"),
        "supplier_set": _("Lieferant geändert"),
        "note_added": _("Notiz hinzugefügt"),
        "related": _("Beziehung hinzugefügt"),
        "approved": _("freigegeben"),
        "reprocess_requested": _("zur erneuten Verarbeitung geschickt"),
    }
    return [described.get(action, entry.action)]
