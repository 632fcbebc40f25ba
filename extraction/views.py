"""Pages of the extraction app outside the API: asking the model from the review screen."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ablage.errors import ApplicationError
from documents.selectors import reviewable_documents
from extraction.llm.services import model_run_request
from extraction.models import ModelRun


@login_required
@require_POST
def model_ask(request, document_id):
    """„Modell fragen“: a reviewer asks the model for this document's fields (answered in the background)."""
    document = get_object_or_404(reviewable_documents(request.user), id=document_id)
    try:
        model_run_request(document=document, trigger=ModelRun.Trigger.ON_DEMAND, user=request.user)
    except ApplicationError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(
            request,
            _("Das Modell wird gefragt. Seine Vorschläge erscheinen nach dem Neuladen als „Modellvorschlag“."),
        )
    return redirect("documents:review", document_id=document.id)
