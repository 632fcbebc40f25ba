"""Server-rendered screens: document list with upload, review, and file downloads.

Every view gets its documents through ``_get_document_for_user`` / ``visible_documents``.
htmx requests receive the partial of the same URL.
"""

import mimetypes

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from ablage.errors import ApplicationError
from documents import review, services
from documents.field_labels import CORE_FIELDS, FIELD_GROUPS, FIELD_LABELS, field_schema
from documents.file_metadata import file_metadata_rows
from documents.inbox import ACTIVE_STATUSES, inbox_context, list_rows_labelled
from documents.models import Document, DocumentRelation
from documents.progress import progress_text
from documents.review_queue import (
    review_claim_next,
    review_claim_open,
    review_current_claim,
    review_queue,
    review_release,
    review_sla_state,
)
from documents.review_views import review_history, review_stamp
from documents.search import document_search
from documents.selectors import document_etag, reviewable_documents, visible_documents, with_progress
from extraction.selectors import learned_evidence

# The version-check refusals (documents.review.document_lock_unchanged): the API answers them
# 412/428, the review form re-renders with 409 and what changed.
STALE_FORM_CODES = {"precondition_failed", "precondition_required"}


def _get_document_for_user(user, document_id, *, review=False) -> Document:
    queryset = reviewable_documents(user) if review else visible_documents(user)
    return get_object_or_404(queryset, id=document_id)


def _client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


@login_required
@require_GET
def document_list(request):
    """The inbox: filters, sort and pagination from the querystring (``documents.inbox``)."""
    context = inbox_context(request)
    if request.htmx and request.GET.get("partial") == "table":
        return render(request, "documents/partials/table.html", context)
    return render(request, "documents/list.html", context)


def _wants_json(request) -> bool:
    # The upload script (static/js/upload.js) sends one request per file and asks for JSON.
    return "application/json" in request.headers.get("Accept", "")


def _upload_result(outcome) -> dict:
    if outcome.document is None:
        return {"name": outcome.filename, "status": "rejected", "message": outcome.refusal.message}
    document = outcome.document
    message = _("angenommen, wird verarbeitet")
    if document.is_duplicate:
        original = document.relations_from.filter(relation_type="duplicate_of").select_related("target").first()
        uploaded = timezone.localtime(original.target.created_at) if original else None
        message = (
            _("Duplikat: dieses Dokument wurde bereits am %(date)s hochgeladen; verknüpft und angenommen.")
            % {"date": f"{uploaded:%d.%m.%Y %H:%M}"}
            if uploaded
            else _("Duplikat, angenommen.")
        )
    return {
        "name": outcome.filename,
        "status": outcome.status,
        "message": message,
        "document": document,
    }


def _upload_json(result: dict) -> dict:
    document = result.get("document")
    body = {key: result[key] for key in ("name", "status", "message")}
    if document is not None:
        body["document"] = {
            "id": str(document.id),
            "url": reverse("documents:review", args=[document.id]),
            "progress_url": reverse("documents:progress", args=[document.id]),
        }
    return body


@login_required
def document_upload(request):
    """The upload page (GET) and the upload itself (POST: a form post, htmx, or one file per script request)."""
    if not request.user.has_perm("documents.add_document"):
        raise PermissionDenied
    if request.method == "GET":
        return render(request, "documents/upload.html")
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    files = request.FILES.getlist("files")
    results = []
    status = 200
    retry_after = None
    try:
        if not files:
            raise ApplicationError(_("Bitte mindestens eine Datei auswählen."), code="no_files")
        services.intake_capacity_check(files=len(files), entry="browser")
        services.upload_rate_check(user=request.user, files=len(files))
        ingest_files = [
            services.IngestFile(filename=upload.name, read=lambda upload=upload: services.read_upload(upload))
            for upload in files
        ]
        if request.POST.get("combine") and len(files) > 1:
            pages = [(upload.name, services.read_upload(upload)) for upload in files]
            combined = services.images_combine(files=pages)
            stem = services.clean_filename(files[0].name).rsplit(".", 1)[0]
            ingest_files = [services.IngestFile(filename=f"{stem} ({len(pages)} Bilder).tif", read=lambda: combined)]
        outcomes = services.document_ingest_batch(owner=request.user, files=ingest_files, source=Document.Source.UPLOAD)
        results = [_upload_result(outcome) for outcome in outcomes]
        if all(outcome.document is None for outcome in outcomes):
            status = outcomes[0].refusal.status_code
            retry_after = outcomes[0].refusal.extra.get("retry_after")  # storage down: 503, try later
    except ApplicationError as refusal:
        results = [{"name": "", "status": "rejected", "message": refusal.message}]
        status = refusal.status_code
        retry_after = refusal.extra.get("retry_after")
    if _wants_json(request):
        response = JsonResponse({"results": [_upload_json(result) for result in results]}, status=status)
    elif request.htmx:
        # 200 whatever the outcome: htmx swaps in only successful answers, and the refusals are the content.
        response = render(request, "documents/partials/upload_results.html", {"results": results})
        response["HX-Trigger"] = "documents-changed"
    else:
        for result in results:
            if result["status"] == "rejected":
                messages.error(request, result["message"])
            else:
                messages.success(request, f"„{result['name']}“: {result['message']}")
        return redirect("documents:list")
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


@login_required
@require_GET
def document_progress(request, document_id):
    """A document's processing state for the upload page, polled until it is final."""
    document = get_object_or_404(with_progress(visible_documents(request.user)), id=document_id)
    return JsonResponse(
        {
            "status": document.status,
            "status_display": document.get_status_display(),
            "final": document.status not in ACTIVE_STATUSES,
            "reason": document.status_reason,
            "progress": progress_text(document.job_progress) if document.job_progress else "",
        }
    )


def _review_context(
    document: Document, *, user, errors=None, submitted=None, submitted_line_items=None, changed_since=()
) -> dict:
    fields = {field.name: field for field in document.fields.all()}
    schema = field_schema(document.document_type)
    names = [name for name in FIELD_LABELS if name in fields or (name in CORE_FIELDS and name in schema)]
    names += sorted(name for name in fields if name not in FIELD_LABELS)
    rows = {}
    learned_cache: dict = {}  # fields read by the same learned rule share one lookup
    for name in names:
        field = fields.get(name)
        rows[name] = {
            "name": name,
            "label": FIELD_LABELS.get(name, name),
            "value": (submitted or {}).get(name, field.value if field else ""),
            "field": field,
            "error": (errors or {}).get(name),
            # A corrected (locked) value is the clerk's, no longer the learned rule's.
            "learned": learned_evidence(field.rule, cache=learned_cache) if field and not field.locked else None,
        }
    groups = []
    placed = set()
    for key, label, members in FIELD_GROUPS:
        group_rows = [rows[name] for name in members if name in rows]
        placed.update(members)
        if group_rows:
            groups.append({"key": key, "label": label, "rows": group_rows})
    rest = [row for name, row in rows.items() if name not in placed]
    if rest:
        groups.append({"key": "other", "label": _("Weitere Angaben"), "rows": rest})
    pages = list(document.pages.order_by("page_number"))
    boxes = {page.page_number: [] for page in pages}
    for row in rows.values():
        field = row["field"]
        if field and field.bbox and field.page in boxes:
            boxes[field.page].append({"name": row["name"], "label": row["label"], **_percent_box(field.bbox)})
    suggestion = None
    if document.supplier_id is None and document.processed_at is not None:
        from suppliers.selectors import supplier_suggestion

        suggestion = supplier_suggestion(document)
    return {
        "document": document,
        "supplier_suggestion": suggestion,
        "groups": groups,
        "rows": list(rows.values()),
        "pages": [
            {"page": page, "boxes": boxes[page.page_number], "words_html": _page_words_html(_page_words(page))}
            for page in pages
        ],
        "latest_job": document.jobs.order_by("-created_at").first(),
        "document_types": Document.DocumentType.choices,
        "relation_types": DocumentRelation.RelationType.choices,
        "line_items": submitted_line_items if submitted_line_items is not None else _line_item_rows(document),
        "file_metadata": file_metadata_rows(document.file_metadata),
        "etag": document_etag(document),
        "changed_since": list(changed_since),
        **review_history(document, user=user),
    }


def _percent_box(bbox) -> dict:
    x0, y0, x1, y1 = bbox
    return {
        "left": round(x0 * 100, 3),
        "top": round(y0 * 100, 3),
        "width": round((x1 - x0) * 100, 3),
        "height": round((y1 - y0) * 100, 3),
    }


def _page_words(page) -> list[dict]:
    """The page's words with their boxes, for click-to-assign; malformed entries are left out."""
    from ocr.types import Word

    words = []
    for stored in page.words or []:
        try:
            word = Word.from_json(stored)
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
        if word.text.strip() and len(word.bbox) == 4:
            words.append({"text": word.text.strip(), **_percent_box(word.bbox)})
    return words


def _page_words_html(words: list[dict]):
    """The clickable word boxes of one page as markup, built here rather than in a template
    loop: a scanned page has hundreds of words and the loop was most of the review page's
    render time (``manage.py bench pages``). ``format_html`` escapes the word text."""
    return format_html_join(
        "",
        '<span class="word" data-box data-left="{}" data-top="{}" data-width="{}" data-height="{}" '
        'data-text="{}" title="{}"></span>',
        (
            (
                f"{word['left']:f}",
                f"{word['top']:f}",
                f"{word['width']:f}",
                f"{word['height']:f}",
                word["text"],
                word["text"],
            )
            for word in words
        ),
    )


def _line_item_rows(document: Document) -> list[dict]:
    from documents.review import LINE_ITEM_KEYS

    items = document.line_items if isinstance(document.line_items, list) else []
    return [{key: str(item.get(key, "") or "") for key in LINE_ITEM_KEYS} for item in items if isinstance(item, dict)]


def _review_page(request, document: Document, *, status=200, **kwargs):
    context = _review_context(document, user=request.user, **kwargs)
    can_review = reviewable_documents(request.user).filter(id=document.id).exists()
    context["can_review"] = can_review
    context["claim_held"] = False
    if can_review:
        context["claim_held"] = review_claim_open(document=document, user=request.user)
        if not context["claim_held"]:
            document.refresh_from_db(fields=["claimed_by", "claimed_until"])
    context["claimed_by_other"] = (
        document.claimed_by_id is not None
        and document.claimed_by_id != request.user.id
        and document.claimed_until is not None
        and document.claimed_until >= timezone.now()
    )
    context["stamp"] = review_stamp(document)
    context["may_decide"] = can_review and (not context["claimed_by_other"] or request.user.is_superuser)
    return render(request, "documents/review.html", context, status=status)


@login_required
@require_GET
def document_review(request, document_id):
    document = _get_document_for_user(request.user, document_id)
    return _review_page(request, document)


@login_required
@require_POST
def document_review_submit(request, document_id):
    document = _get_document_for_user(request.user, document_id, review=True)
    action = request.POST.get("action", "save")
    values = {key.removeprefix("field_"): value for key, value in request.POST.items() if key.startswith("field_")}
    try:
        if action == "reject":
            services.document_reject(
                document=document,
                user=request.user,
                reason=request.POST.get("reason", ""),
                ip_address=_client_ip(request),
            )
            messages.success(request, _("Dokument abgelehnt."))
            return redirect(_after_decision(request))
        with transaction.atomic():
            # The form carries the ETag of the version it showed: a save or approval based on
            # an older one is refused with what changed, the clerk's input stays in the form.
            document = review.document_lock_unchanged(document=document, etag=request.POST.get("etag"))
            services.document_update_fields(
                document=document, user=request.user, values=values, ip_address=_client_ip(request)
            )
            if "line_items" in request.POST:
                review.document_update_line_items(
                    document=document,
                    user=request.user,
                    items=_posted_line_items(request.POST),
                    ip_address=_client_ip(request),
                )
        if action == "approve":
            services.document_approve(document=document, user=request.user, ip_address=_client_ip(request))
            messages.success(request, _("„%(title)s“ freigegeben.") % {"title": document.title})
            return redirect(_after_decision(request))
    except ApplicationError as refusal:
        document.refresh_from_db()
        # A stale form: a field still showing the value it had before someone else corrected
        # it was not typed by this clerk, so the page shows the current value there; what the
        # clerk did type stays.
        before = refusal.extra.get("fields_before", {})
        values = {name: value for name, value in values.items() if before.get(name) != value.strip()}
        errors = {refusal.extra["field"]: refusal.message} if "field" in refusal.extra else {}
        if not errors or refusal.extra["field"].startswith("line_"):
            messages.error(request, refusal.message)
        return _review_page(
            request,
            document,
            errors=errors,
            submitted=values,
            submitted_line_items=_posted_line_items(request.POST) if "line_items" in request.POST else None,
            # A stale or missing version tag is a conflict for the form (412/428 are the API's answers).
            status=400 if errors else (409 if refusal.code in STALE_FORM_CODES else refusal.status_code),
            changed_since=refusal.extra.get("changes", []),
        )
    messages.success(request, _("Änderungen gespeichert."))
    return redirect("documents:review", document_id=document.id)


def _after_decision(request) -> str:
    """Back to the queue when the clerk came from it („Weiter zum nächsten“), else to the list."""
    if request.POST.get("next") == "queue":
        return reverse("documents:queue")
    return reverse("documents:list")


def _posted_line_items(data) -> list[dict]:
    from documents.review import LINE_ITEM_KEYS

    count = min(int(data.get("line_items") or 0) if (data.get("line_items") or "0").isdigit() else 0, 500)
    return [{key: data.get(f"line_{index}_{key}", "") for key in LINE_ITEM_KEYS} for index in range(count)]


def _stream(key: str, *, filename: str | None = None, content_type: str | None = None):
    if not key or not default_storage.exists(key):
        raise Http404
    handle = default_storage.open(key, "rb")
    response = FileResponse(
        handle,
        as_attachment=filename is not None,
        filename=filename,
        content_type=content_type or mimetypes.guess_type(key)[0] or "application/octet-stream",
    )
    response["Cache-Control"] = "private, max-age=3600"
    # Our content types come from the content (magic bytes), never from the browser's guess.
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _original_response(request, document: Document):
    """The original as an attachment, after checking its SHA-256 against the one taken at upload."""
    try:
        handle = services.original_read_verified(document, actor=request.user)
    except ApplicationError as refusal:
        if refusal.status_code == 404:
            raise Http404 from None
        return render(request, "documents/original_refused.html", {"message": refusal.message}, status=409)
    response = FileResponse(
        handle, as_attachment=True, filename=document.original_filename, content_type=document.mime_type
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_GET
def document_original(request, document_id):
    document = _get_document_for_user(request.user, document_id)
    return _original_response(request, document)


@login_required
@require_GET
def document_thumbnail(request, document_id):
    document = _get_document_for_user(request.user, document_id)
    width = request.GET.get("w", "400")
    if width not in services.THUMBNAIL_SIZES:
        width = "400"
    key = document.thumbnails.get(width)
    if not key:
        return HttpResponse(status=204)
    return _stream(key, content_type="image/jpeg")


@login_required
@require_GET
def document_einvoice(request, document_id):
    """The e-invoice XML: for a Factur-X/ZUGFeRD PDF the attachment, for an XRechnung the upload."""
    document = _get_document_for_user(request.user, document_id)
    if not document.einvoice_key:
        raise Http404
    stem = document.original_filename.rsplit(".", 1)[0]
    return _stream(document.einvoice_key, filename=f"{stem}.xml", content_type="application/xml")


@login_required
@require_GET
def document_archive(request, document_id):
    """The searchable PDF; for born-digital PDFs the original already is one."""
    document = _get_document_for_user(request.user, document_id)
    if not document.archive_key:
        return _original_response(request, document)
    stem = document.original_filename.rsplit(".", 1)[0]
    return _stream(document.archive_key, filename=f"{stem} (durchsuchbar).pdf", content_type="application/pdf")


@login_required
@require_GET
def document_page_image(request, document_id, page_number):
    document = _get_document_for_user(request.user, document_id)
    page = get_object_or_404(document.pages, page_number=page_number)
    return _stream(page.image_key, content_type="image/jpeg")


@login_required
@require_GET
def document_status(request, document_id):
    """A document's row, for live refresh of a single line."""
    document = get_object_or_404(with_progress(visible_documents(request.user)), id=document_id)
    list_rows_labelled([document])
    return render(request, "documents/partials/row.html", {"document": document})


# --- review queue and search --------------------------------------------------------------


def _require_reviewer(user) -> None:
    if not user.has_perm("documents.review_document"):
        raise PermissionDenied


@login_required
@require_GET
def review_queue_page(request):
    """Documents waiting for review, most urgent first, with their deadline and who works on them."""
    _require_reviewer(request.user)
    now = timezone.now()
    page = Paginator(review_queue(request.user), 50).get_page(request.GET.get("page"))
    sla_hours: dict = {}  # configuration read once per document type, not per row
    context = {
        "page": page,
        "rows": [
            {"document": document, "sla": review_sla_state(document, now=now, sla_hours=sla_hours)}
            for document in page.object_list
        ],
        "current_claim": review_current_claim(user=request.user, now=now),
        "now": now,
    }
    if request.htmx and request.GET.get("partial") == "table":
        return render(request, "documents/partials/queue_table.html", context)
    return render(request, "documents/queue.html", context)


@login_required
@require_POST
def review_queue_claim_next(request):
    """The button „Nächstes Dokument“: claim the most urgent free document and open it."""
    _require_reviewer(request.user)
    document = review_claim_next(user=request.user)
    if document is None:
        messages.info(request, _("Keine offenen Dokumente in der Prüfung."))
        return redirect("documents:queue")
    return redirect("documents:review", document_id=document.id)


@login_required
@require_POST
def review_queue_release(request, document_id):
    document = _get_document_for_user(request.user, document_id, review=True)
    try:
        review_release(document=document, user=request.user)
    except ApplicationError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, _("„%(title)s“ ist wieder frei.") % {"title": document.title})
    return redirect("documents:queue")


@login_required
@require_GET
def document_search_page(request):
    query = request.GET.get("q", "").strip()
    error = None
    hits = []
    try:
        hits = document_search(user=request.user, query=query)
    except ApplicationError as refusal:
        error = refusal.message
    context = {"query": query, "hits": hits, "error": error}
    if request.htmx and request.GET.get("partial") == "results":
        return render(request, "documents/partials/search_results.html", context, status=400 if error else 200)
    return render(request, "documents/search.html", context, status=400 if error else 200)
