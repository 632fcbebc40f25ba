from django import template

from notifications.selectors import unread_count

register = template.Library()


@register.inclusion_tag("notifications/partials/bell.html", takes_context=True)
def notification_bell(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    return {"unread": unread_count(user), "request": request}
