from django import template

from documents.progress import progress_text

register = template.Library()


@register.filter
def progress_label(state) -> str:
    """A job's progress JSON as text for the list and the document page."""
    return progress_text(state)
