from django import template

from documents.progress import progress_text

register = template.Library()


@register.filter
def progress_label(state) -> str:
    """A job's progress JSON as text for the list and the document page."""
    return progress_text(state)


@register.filter
def change_pair(change):
    """An audit change ``{"from": a, "to": b}`` as ``(a, b)``; None for any other shape."""
    if isinstance(change, dict) and set(change) == {"from", "to"}:
        return change["from"], change["to"]
    return None
