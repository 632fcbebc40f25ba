"""The inbox: filtered, sorted, paginated document list, saved views and bulk actions.

``documents.views.document_list`` renders it; this module holds what the list needs beyond a
plain page, so views.py stays readable.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ablage.errors import ApplicationError
from accounts.selectors import users_with_permission
from documents import bulk, review
from documents.forms import InboxFilterForm
from documents.models import Document, ExtractedField, SavedView
from documents.selectors import visible_documents, with_progress
from monitoring.services import audit_log_record

ACTIVE_STATUSES = (Document.Status.QUEUED, Document.Status.PROCESSING)


def inbox_context(request) -> dict:
    """Everything the list template needs for the current querystring."""
    form = InboxFilterForm(request.GET or None)
    # Only the printed supplier name is shown from the fields (when no supplier is matched).
    supplier_names = Prefetch("fields", queryset=ExtractedField.objects.filter(name="supplier_name"))
    documents = with_progress(visible_documents(request.user)).prefetch_related(supplier_names, "tags")
    documents = form.filter(documents, user=request.user)
    page = Paginator(documents, form.page_size()).get_page(request.GET.get("page"))
    query = form.active_query()
    can_review = request.user.is_superuser or request.user.has_perm("documents.review_document")
    return {
        "form": form,
        "page": page,
        "filter_query": query,
        "saved_views": SavedView.objects.filter(user=request.user),
        "can_review": can_review,
        "reviewers": _reviewers() if can_review else [],
        "document_types": Document.DocumentType.choices,
        "polling": any(document.status in ACTIVE_STATUSES for document in page.object_list),
    }


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
