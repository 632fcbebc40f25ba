from django import template

from workflows.selectors import visible_executions, workflows_for_user

register = template.Library()


@register.inclusion_tag("workflows/partials/document_panel.html", takes_context=True)
def document_workflows(context, document):
    """The workflow panel of a document page: manual workflows to start, this document's runs."""
    user = context["request"].user
    return {
        "document": document,
        "perms": context.get("perms"),
        "csrf_token": context.get("csrf_token"),
        "manual_workflows": workflows_for_user(user).filter(is_active=True, trigger_type="manual").order_by("name"),
        "executions": visible_executions(user).filter(document=document).order_by("-created_at")[:20],
    }
