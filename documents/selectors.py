"""Reads. ``visible_documents`` is the only way any view, API, download or websocket gets documents."""

import hashlib
import json

from django.db.models import OuterRef, Q, QuerySet, Subquery

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
    """A strong ETag over what a client edits and decides on: status, type and every field.

    Built from content, not ``updated_at``: guarded ``.update()`` calls change rows without
    touching the timestamp, and a lost update must still be caught (two clerks, one form).
    """
    fields = sorted(document.fields.values_list("name", "value", "normalized_value", "locked"), key=lambda row: row[0])
    latest_version = document.versions.order_by("-version_number").values_list("version_number", flat=True).first()
    payload = [str(document.id), document.status, document.document_type, latest_version, fields]
    digest = hashlib.sha256(json.dumps(payload, default=str, sort_keys=True).encode()).hexdigest()
    return f'"{digest[:32]}"'
