"""The inbox: filtered, sorted, paginated document list, saved views and bulk actions.

``documents.views.document_list`` renders it; this module holds what the list needs beyond a
plain page, so views.py stays readable.
"""

import hashlib
import json
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ablage.errors import ApplicationError
from accounts.selectors import users_with_permission
from documents import bulk, review
from documents.forms import InboxFilterForm
from documents.models import Category, Document, ExtractedField, SavedView, Tag
from documents.selectors import visible_documents, with_progress
from monitoring.services import audit_log_record

ACTIVE_STATUSES = (Document.Status.QUEUED, Document.Status.PROCESSING)


# Counting stops here: past it the list says "more than 1,000" instead of counting every row
# (an exact COUNT visits each visible row; nobody pages through a thousand documents).
COUNT_CAP = 1000

# What a list row shows (documents/partials/row.html); the wide columns (search vector, line
# items, validation, timings, metadata) stay in the database.
ROW_COLUMNS = (
    "id",
    "title",
    "original_filename",
    "thumbnails",
    "status",
    "status_reason",
    "decision",
    "reviewed_by",
    "document_type",
    "supplier__name",
    "total_amount",
    "currency",
    "document_date",
    "overall_confidence",
    "created_at",
)

# The rendered filter form is kept this long per querystring, language and tag/category list.
FILTER_FORM_SECONDS = 60


@dataclass
class InboxPage:
    """One page of the list: its rows, and the total when it is under ``COUNT_CAP``."""

    number: int
    per_page: int
    object_list: list
    has_next: bool
    count: int  # COUNT_CAP + 1 stands for "more than COUNT_CAP"

    count_cap = COUNT_CAP

    @property
    def count_capped(self) -> bool:
        return self.count > COUNT_CAP

    @property
    def num_pages(self) -> int | None:
        return None if self.count_capped else max(1, -(-self.count // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1


def _page_number(text) -> int:
    try:
        return max(1, int(text))
    except (TypeError, ValueError):
        return 1


def inbox_page(documents, *, number: int, per_page: int) -> InboxPage:
    """The page ``number`` of the ordered, filtered ``documents``, in two narrow steps.

    First the page's ids (sorting a narrow row, not the wide document row with its joins), then
    those rows with the list's columns only. A page past the end shows the last one, as before.
    """
    count = documents.order_by().values("id")[: COUNT_CAP + 1].count()
    if count <= COUNT_CAP:
        number = min(number, max(1, -(-count // per_page)))
    offset = (number - 1) * per_page
    ids = list(documents.values_list("id", flat=True)[offset : offset + per_page + 1])
    if not ids and number > 1:
        # Past the end of a list too long to count up front: count it now and show its last page.
        number = max(1, -(-documents.count() // per_page))
        offset = (number - 1) * per_page
        ids = list(documents.values_list("id", flat=True)[offset : offset + per_page + 1])
    has_next, ids = len(ids) > per_page, ids[:per_page]
    # Only the printed supplier name is shown from the fields (when no supplier is matched).
    supplier_names = Prefetch(
        "fields", queryset=ExtractedField.objects.filter(name="supplier_name").only("document_id", "name", "value")
    )
    rows = (
        with_progress(Document.objects.filter(id__in=ids))
        .select_related("supplier")
        .only(*ROW_COLUMNS)
        .prefetch_related(supplier_names, "tags")
    )
    by_id = {document.id: document for document in rows}
    return InboxPage(
        number=number,
        per_page=per_page,
        object_list=list_rows_labelled([by_id[pk] for pk in ids if pk in by_id]),
        has_next=has_next,
        count=count,
    )


def list_rows_labelled(documents: list[Document]) -> list[Document]:
    """Give each row its status and type labels and the printed supplier name, for row.html.

    ``get_status_display()`` hashes every (lazy, translated) choice on each call; looked up once
    per page, the labels cost a dictionary read per row.
    """
    statuses = {value: str(label) for value, label in Document.Status.choices}
    types = {value: str(label) for value, label in Document.DocumentType.choices}
    for document in documents:
        document.status_label = statuses.get(document.status, document.status)
        document.type_label = types.get(document.document_type, document.document_type)
        document.printed_supplier = ""
        if document.supplier_id is None:
            printed = [field.value for field in document.fields.all() if field.name == "supplier_name"]
            document.printed_supplier = printed[0] if printed else ""
    return documents


def inbox_context(request) -> dict:
    """Everything the list template needs for the current querystring."""
    form = InboxFilterForm(request.GET or None)
    documents = form.filter(visible_documents(request.user), user=request.user)
    page = inbox_page(documents, number=_page_number(request.GET.get("page")), per_page=form.page_size())
    query = form.active_query()
    can_review = request.user.is_superuser or request.user.has_perm("documents.review_document")
    return {
        "form": form,
        "filter_form": _filter_form_html(form, request),
        "page": page,
        "filter_query": query,
        "saved_views": SavedView.objects.filter(user=request.user),
        "can_review": can_review,
        "reviewers": _reviewers() if can_review else [],
        "document_types": Document.DocumentType.choices,
        "polling": any(document.status in ACTIVE_STATUSES for document in page.object_list),
    }


def _filter_form_html(form: InboxFilterForm, request) -> str:
    """The filter form's markup, rendered once per querystring, language and tag/category list.

    Django's select widgets render a template per option; the same querystring gives the same
    form, so it is kept for ``FILTER_FORM_SECONDS``. The tag and category lists are part of the
    key (count and last change), so a new tag shows up in the filter at once.
    """
    if request.htmx and request.GET.get("partial") == "table":
        return ""  # the live table update does not show the form
    lists = [model.objects.aggregate(n=Count("id"), changed=Max("updated_at")) for model in (Tag, Category)]
    data = sorted((key, value) for key, value in request.GET.lists() if key not in ("page", "partial"))
    raw = json.dumps([get_language(), lists, data], default=str, sort_keys=True)
    key = "inbox-filters:" + hashlib.sha256(raw.encode()).hexdigest()
    html = cache.get(key)
    if html is None:
        html = render_to_string("documents/partials/filters.html", {"form": form, "filter_query": form.active_query()})
        cache.set(key, html, FILTER_FORM_SECONDS)
    return mark_safe(html)  # noqa: S308 (our template's output: every value in it is escaped there)


def _reviewers():
    return users_with_permission("documents.review_document").order_by("email")


def _list_url(query: str) -> str:
    return reverse("documents:list") + (f"?{query}" if query else "")


@login_required
@require_POST
def saved_view_create(request):
    name = request.POST.get("name", "").strip()[:100]
    form = InboxFilterForm(_query_dict(request.POST.get("query", "")))
    query = form.active_query()
    if not name:
        messages.error(request, _("Bitte einen Namen für die Ansicht angeben."))
        return redirect(_list_url(query))
    try:
        with transaction.atomic():
            SavedView.objects.update_or_create(user=request.user, name=name, defaults={"query": query})
    except IntegrityError:
        messages.error(request, _("Die Ansicht konnte nicht gespeichert werden."))
    else:
        messages.success(request, _("Ansicht „%(name)s“ gespeichert.") % {"name": name})
    return redirect(_list_url(query))


@login_required
@require_POST
def saved_view_delete(request, view_id):
    view = get_object_or_404(SavedView, id=view_id, user=request.user)
    view.delete()
    messages.success(request, _("Ansicht „%(name)s“ gelöscht.") % {"name": view.name})
    return redirect("documents:list")


def _query_dict(text: str):
    from django.http import QueryDict

    return QueryDict(text[:2000])


@login_required
@require_POST
def bulk_action(request):
    """One action for the documents ticked in the list; the list's filters are kept on return."""
    ids = request.POST.getlist("ids")
    action = request.POST.get("action", "")
    back = _list_url(InboxFilterForm(_query_dict(request.POST.get("query", ""))).active_query())
    ip_address = request.META.get("REMOTE_ADDR")
    try:
        if action == "export":
            content = bulk.documents_export_csv(user=request.user, ids=ids)
            response = HttpResponse("\ufeff" + content, content_type="text/csv; charset=utf-8")
            stamp = timezone.localtime().strftime("%Y-%m-%d")
            response["Content-Disposition"] = f'attachment; filename="dokumente-{stamp}.csv"'
            audit_log_record(
                actor=request.user,
                action="documents.exported",
                obj=request.user,
                changes={"count": content.count("\n") - 1},
                ip_address=ip_address,
            )
            return response
        if action == "tag":
            result = bulk.document_bulk_tag(
                user=request.user,
                ids=ids,
                tag_names=review.tags_from_text(request.POST.get("tag", "")),
                ip_address=ip_address,
            )
        elif action == "assign":
            result = bulk.document_bulk_assign(
                user=request.user, ids=ids, assignee_id=request.POST.get("assignee", ""), ip_address=ip_address
            )
        elif action == "set_type":
            result = bulk.document_bulk_set_type(
                user=request.user, ids=ids, document_type=request.POST.get("document_type", ""), ip_address=ip_address
            )
        elif action == "approve_valid":
            result = bulk.document_bulk_approve_valid(user=request.user, ids=ids, ip_address=ip_address)
        elif action == "reprocess":
            result = bulk.document_bulk_reprocess(user=request.user, ids=ids, ip_address=ip_address)
        else:
            raise ApplicationError(_("Unbekannte Aktion."), code="unknown_action")
    except ApplicationError as refusal:
        messages.error(request, refusal.message)
        response = redirect(back)
        return response
    messages.success(request, _("%(n)s Dokument(e) geändert.") % {"n": result.changed})
    for document, reason in result.skipped:
        messages.warning(
            request, _("„%(title)s“ übersprungen: %(reason)s") % {"title": document.title, "reason": reason}
        )
    return redirect(back)
