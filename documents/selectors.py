"""Reads. ``visible_documents`` is the only way any view, API, download or websocket gets documents."""

from django.db.models import OuterRef, QuerySet, Subquery

from documents.models import Document, ProcessingJob


def visible_documents(user) -> QuerySet[Document]:
    if user is None or not user.is_authenticated or not user.is_active:
        return Document.objects.none()
    documents = Document.objects.select_related("owner", "supplier")
    if user.is_superuser or user.has_perm("accounts.view_all_documents"):
        return documents
    return documents.filter(owner=user)


def with_progress(documents: QuerySet[Document]) -> QuerySet[Document]:
    """Annotate each document with its latest job's progress (``job_progress``)."""
    latest = ProcessingJob.objects.filter(document=OuterRef("pk")).order_by("-created_at").values("progress")[:1]
    return documents.annotate(job_progress=Subquery(latest))


def reviewable_documents(user) -> QuerySet[Document]:
    """Documents the user may correct, approve or reject."""
    if not user.is_authenticated or not (user.is_superuser or user.has_perm("documents.review_document")):
        return Document.objects.none()
    return visible_documents(user)
