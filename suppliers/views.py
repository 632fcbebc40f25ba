"""Supplier screens reachable from the review workspace."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ablage.errors import ApplicationError
from documents.selectors import reviewable_documents
from suppliers.services import supplier_create_from_document


@login_required
@permission_required("suppliers.add_supplier", raise_exception=True)
@require_POST
def supplier_create_from_document_view(request, document_id):
    document = get_object_or_404(reviewable_documents(request.user), id=document_id)
    try:
        supplier = supplier_create_from_document(document=document, user=request.user)
    except ApplicationError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, _("Lieferant „%(name)s“ angelegt und verknüpft.") % {"name": supplier.name})
    return redirect("documents:review", document_id=document.id)
