from django import template
from django.utils import timezone

from documents.field_labels import FIELD_LABELS
from extraction.llm.services import budget_state, model_available
from extraction.models import ModelRun

register = template.Library()

MAX_RUNS_SHOWN = 5


@register.inclusion_tag("extraction/partials/model_panel.html", takes_context=True)
def model_assist_panel(context, document, can_review=False):
    """The „Modell fragen“ panel of the review page; absent when no model is configured."""
    available = model_available()
    runs = list(document.model_runs.select_related("requested_by")[:MAX_RUNS_SHOWN]) if available else []
    return {
        "document": document,
        "available": available,
        "can_review": can_review,
        "csrf_token": context.get("csrf_token"),
        "budget": budget_state(document) if available else None,
        "runs": runs,
        "suggestions": _suggestions(runs),
        # A run lost with its worker does not block the button for ever (see ModelRun.ACTIVE_FOR).
        "pending": any(
            run.status in (ModelRun.Status.PENDING, ModelRun.Status.RUNNING)
            and run.created_at > timezone.now() - ModelRun.ACTIVE_FOR
            for run in runs
        ),
    }


def _suggestions(runs: list[ModelRun]) -> list[dict]:
    """The latest answered run's suggestions, labelled for the clerk."""
    answered = next((run for run in runs if run.status == ModelRun.Status.SUCCEEDED), None)
    if answered is None:
        return []
    return [
        {**item, "label": FIELD_LABELS.get(item.get("name"), item.get("name"))}
        for item in answered.answer.get("suggestions", [])
        if isinstance(item, dict)
    ]
