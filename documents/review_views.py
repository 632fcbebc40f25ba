"""The review screen's side actions: inline validation, type, supplier, tags, notes, relations,
reprocessing, skipping, and the document's history.

Every view loads its document through ``reviewable_documents`` / ``visible_documents`` (404 for
anything else); the writes are services in ``documents.review`` and ``documents.services``.
"""

import contextlib

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from ablage.errors import ApplicationError
from documents import review
from documents.field_labels import FIELD_LABELS
from documents.models import Document, JobEvent
from documents.review_queue import review_claim_check, review_claim_next, review_release
from documents.selectors import reviewable_documents, visible_documents
from monitoring.models import AuditLog

MAX_SUPPLIER_HITS = 20
MAX_HISTORY_ENTRIES = 100


def _reviewable(request, document_id) -> Document:
    return get_object_or_404(reviewable_documents(request.user), id=document_id)


def _ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


def _back(document: Document):
    return redirect("documents:review", document_id=document.id)


def _lock_unchanged(request, document: Document) -> Document:
    """Lock the row and refuse a write based on an older version than the page showed.

    Type, supplier and tags replace what is there, so a write from a stale page would silently
    undo a colleague's change; the forms carry the page's ETag like the main review form.
    Notes and relations only add, and are not checked. Call inside the writing transaction.
    """
    return review.document_lock_unchanged(document=document, etag=request.POST.get("etag"))


def _stale_page(request, document: Document, refusal: ApplicationError):
    """A stale or missing version: the review page again with what changed, 409 like the main form."""
    # Imported here: documents.views imports this module for the history.
    from documents.views import _review_page

    document.refresh_from_db()
    messages.error(request, refusal.message)
    return _review_page(request, document, status=409, changed_since=refusal.extra.get("changes", []))


STALE_CODES = {"precondition_failed", "precondition_required"}


def review_history(document: Document, *, user) -> dict:
    """Timeline (job events with timings), versions, audit entries, notes, tags and relations.

    Relations are shown only where the other document is visible to the user as well.
    """
    jobs = list(document.jobs.order_by("created_at"))
    events = JobEvent.objects.filter(job__document=document).select_related("job").order_by("created_at")
    visible_ids = visible_documents(user).values("id")
    relations_from = document.relations_from.filter(target__in=visible_ids).select_related("target")
    relations_to = document.relations_to.filter(source__in=visible_ids).select_related("source")
    return {
        "jobs": jobs,
        "job_events": list(events[:MAX_HISTORY_ENTRIES]),
        "versions": list(document.versions.select_related("created_by")[:MAX_HISTORY_ENTRIES]),
        "audit_entries": list(
            AuditLog.objects.filter(object_type="documents.document", object_id=str(document.id)).select_related(
                "actor"
            )[:MAX_HISTORY_ENTRIES]
        ),
        "notes": list(document.notes.select_related("author")),
        "tag_text": ", ".join(document.tags.values_list("name", flat=True)),
        "relations": [
            {"label": relation.get_relation_type_display(), "other": relation.target, "outgoing": True}
            for relation in relations_from
        ]
        + [
            {"label": relation.get_relation_type_display(), "other": relation.source, "outgoing": False}
            for relation in relations_to
        ],
    }


@login_required
@require_POST
def review_validate(request, document_id):
    """htmx: the form's values checked as saving would check them; nothing is stored.

    The round trip counts as activity, so it also keeps the clerk's claim alive.
    """
    document = _reviewable(request, document_id)
    values = {key.removeprefix("field_"): value for key, value in request.POST.items() if key.startswith("field_")}
    preview = review.review_preview(document=document, values=values)
    try:
        review_claim_check(document=document, user=request.user)
        claim_message = ""
    except ApplicationError as refusal:
        claim_message = refusal.message
    labels = {name: str(label) for name, label in FIELD_LABELS.items()}
    field_errors = [
        {"name": name, "label": labels.get(name, name), "message": message}
        for name, message in preview.field_errors.items()
    ]
    return render(
        request,
        "documents/partials/validation.html",
        {"preview": preview, "field_errors": field_errors, "claim_message": claim_message},
    )


@login_required
@require_POST
def review_set_type(request, document_id):
    document = _reviewable(request, document_id)
    try:
        with transaction.atomic():
            document = _lock_unchanged(request, document)
            review.document_set_type(
                document=document,
                user=request.user,
                document_type=request.POST.get("document_type", ""),
                ip_address=_ip(request),
            )
    except ApplicationError as refusal:
        if refusal.code in STALE_CODES:
            return _stale_page(request, document, refusal)
        messages.error(request, refusal.message)
    else:
        messages.success(request, _("Dokumenttyp gespeichert."))
    return _back(document)


@login_required
@require_GET
def review_supplier_search(request, document_id):
    """htmx: suppliers whose name, USt-IdNr. or number matches ``q``."""
    from django.db.models import Q

    from suppliers.models import Supplier

    document = _reviewable(request, document_id)
    query = request.GET.get("q", "").strip()[:100]
    hits = []
    if len(query) >= 2:
        hits = list(
            Supplier.objects.filter(is_active=True)
            .filter(Q(name__icontains=query) | Q(vat_id__icontains=query) | Q(supplier_number__icontains=query))
            .order_by("name")[:MAX_SUPPLIER_HITS]
        )
    # The page's version tag travels to the hits' forms: choosing one is checked against it.
    context = {"document": document, "hits": hits, "query": query, "etag": request.GET.get("etag", "")[:100]}
    return render(request, "documents/partials/supplier_hits.html", context)


@login_required
@require_POST
def review_set_supplier(request, document_id):
    from suppliers.models import Supplier

    document = _reviewable(request, document_id)
    supplier_id = request.POST.get("supplier", "")
    supplier = None
    if supplier_id:
        try:
            supplier = Supplier.objects.get(id=supplier_id, is_active=True)
        except (Supplier.DoesNotExist, ValueError, ValidationError):
            messages.error(request, _("Unbekannter Lieferant."))
            return _back(document)
    try:
        with transaction.atomic():
            document = _lock_unchanged(request, document)
            review.document_set_supplier(
                document=document, user=request.user, supplier=supplier, ip_address=_ip(request)
            )
    except ApplicationError as refusal:
        if refusal.code in STALE_CODES:
            return _stale_page(request, document, refusal)
        messages.error(request, refusal.message)
    else:
        messages.success(request, _("Lieferant gespeichert."))
    return _back(document)


@login_required
@require_POST
def review_set_tags(request, document_id):
    document = _reviewable(request, document_id)
    try:
        names = review.tags_from_text(request.POST.get("tags", ""))
        with transaction.atomic():
            document = _lock_unchanged(request, document)
            review.document_set_tags(document=document, user=request.user, names=names, ip_address=_ip(request))
    except ApplicationError as refusal:
        if refusal.code in STALE_CODES:
            return _stale_page(request, document, refusal)
        messages.error(request, refusal.message)
    else:
        messages.success(request, _("Schlagwörter gespeichert."))
    return _back(document)


@login_required
@require_POST
def review_add_note(request, document_id):
    document = _reviewable(request, document_id)
    try:
        review.document_add_note(
            document=document, user=request.user, text=request.POST.get("note", ""), ip_address=_ip(request)
        )
    except ApplicationError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, _("Notiz gespeichert."))
    return _back(document)


@login_required
@require_POST
def review_add_relation(request, document_id):
    """Link to another document the user can see, found by its number or title."""
    document = _reviewable(request, document_id)
    reference = request.POST.get("target", "").strip()[:200]
    candidates = visible_documents(request.user).exclude(id=document.id)
    targets = list(candidates.filter(document_number=reference)[:2]) if reference else []
    if not targets and reference:
        targets = list(candidates.filter(title=reference)[:2])
    try:
        if len(targets) != 1:
            raise ApplicationError(
                _("Kein eindeutiges Dokument mit der Nummer oder dem Titel „%(ref)s“ gefunden.") % {"ref": reference},
                code="relation_target_not_found",
            )
        review.document_relate(
            document=document,
            user=request.user,
            target=targets[0],
            relation_type=request.POST.get("relation_type", ""),
            ip_address=_ip(request),
        )
    except ApplicationError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, _("Beziehung gespeichert."))
    return _back(document)


@login_required
@require_POST
def review_reprocess(request, document_id):
    document = _reviewable(request, document_id)
    try:
        review.document_reprocess(document=document, user=request.user, ip_address=_ip(request))
    except ApplicationError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(
            request,
            _("„%(title)s“ wird neu verarbeitet; Ihre Korrekturen bleiben erhalten.") % {"title": document.title},
        )
    return _back(document)


@login_required
@require_POST
def review_skip(request, document_id):
    """Shortcut „Überspringen“: give this document back and claim the next other one."""
    if not (request.user.is_superuser or request.user.has_perm("documents.review_document")):
        raise PermissionDenied
    document = _reviewable(request, document_id)
    with contextlib.suppress(ApplicationError):  # not claimed by this user: skipping simply moves on
        review_release(document=document, user=request.user)
    following = review_claim_next(user=request.user, skip=[document.id])
    if following is None:
        messages.info(request, _("Keine weiteren offenen Dokumente in der Prüfung."))
        return redirect("documents:queue")
    return redirect("documents:review", document_id=following.id)


def review_stamp(document: Document) -> str:
    """What a second clerk's open page compares against: status plus the latest audit entry."""
    latest = (
        AuditLog.objects.filter(object_type="documents.document", object_id=str(document.id))
        .order_by("-created_at")
        .values_list("id", flat=True)
        .first()
    )
    return f"{document.status}:{latest or ''}"


@login_required
@require_GET
def review_changes(request, document_id):
    """htmx poll of an open review page: 204 while nothing changed, else a notice (which ends the polling)."""
    document = get_object_or_404(visible_documents(request.user), id=document_id)
    if request.GET.get("stamp", "") == review_stamp(document):
        return HttpResponse(status=204)
    entry = (
        AuditLog.objects.filter(object_type="documents.document", object_id=str(document.id))
        .select_related("actor")
        .order_by("-created_at")
        .first()
    )
    return render(request, "documents/partials/review_changed.html", {"document": document, "entry": entry})
