"""Notification centre, notification settings and the user's webhooks.

A user only ever gets their own notifications and endpoints (staff: every endpoint); a
foreign id is a 404. Opening a notification leads to its document only while the user may
still see it (``visible_documents``).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ablage.errors import ApplicationError
from documents.selectors import visible_documents
from notifications import services, webhooks
from notifications.forms import PreferenceRowForm, QuietHoursForm, WebhookEndpointForm
from notifications.models import Notification, NotificationPreference, WebhookDelivery, WebhookEndpoint
from notifications.selectors import (
    USER_TYPES,
    deliveries_for,
    notifications_for,
    preferences_for,
    unread_count,
    webhook_endpoints_for,
)

Channel = NotificationPreference.Channel


def _get_notification_for_user(user, notification_id) -> Notification:
    return get_object_or_404(notifications_for(user), id=notification_id)


def _get_endpoint_for_user(user, endpoint_id) -> WebhookEndpoint:
    return get_object_or_404(webhook_endpoints_for(user), id=endpoint_id)


@login_required
@require_GET
def notification_list(request):
    return _list_response(request)


def _list_response(request):
    page = Paginator(notifications_for(request.user), 30).get_page(request.GET.get("page"))
    context = {"page": page, "unread": unread_count(request.user)}
    if request.htmx:
        return render(request, "notifications/partials/list.html", context)
    return render(request, "notifications/list.html", context)


@login_required
@require_GET
def notification_bell(request):
    return render(request, "notifications/partials/bell.html", {"unread": unread_count(request.user)})


@login_required
@require_GET
def notification_open(request, notification_id):
    notification = _get_notification_for_user(request.user, notification_id)
    services.notification_mark_read(user=request.user, notification_id=notification.id)
    if notification.document_id is not None:
        if visible_documents(request.user).filter(id=notification.document_id).exists():
            return redirect("documents:review", document_id=notification.document_id)
        messages.error(request, _("Das Dokument ist nicht mehr verfügbar."))
    return redirect("notifications:list")


@login_required
@require_POST
def notification_read(request, notification_id):
    notification = _get_notification_for_user(request.user, notification_id)
    services.notification_mark_read(user=request.user, notification_id=notification.id)
    if request.htmx:
        return _list_response(request)
    return redirect("notifications:list")


@login_required
@require_POST
def notification_read_all(request):
    services.notification_mark_all_read(user=request.user)
    if request.htmx:
        return _list_response(request)
    return redirect("notifications:list")


def _preference_rows(user, data=None):
    preferences = preferences_for(user)
    rows = []
    for notification_type in USER_TYPES:
        email = preferences[(notification_type, Channel.EMAIL)]
        threshold = email.confidence_below
        initial = {
            "in_app": preferences[(notification_type, Channel.IN_APP)].enabled,
            "email": email.enabled,
            "webhook": preferences[(notification_type, Channel.WEBHOOK)].enabled,
            "digest": email.digest,
            "only_failures": email.only_failures,
            "confidence_below_percent": round(threshold * 100) if threshold is not None else None,
        }
        form = PreferenceRowForm(data, prefix=notification_type, initial=initial)
        rows.append((Notification.Type(notification_type).label, notification_type, form))
    return rows


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request):
    data = request.POST if request.method == "POST" else None
    rows = _preference_rows(request.user, data)
    any_email = preferences_for(request.user)[(USER_TYPES[0], Channel.EMAIL)]
    quiet = QuietHoursForm(
        data, initial={"quiet_hours_start": any_email.quiet_hours_start, "quiet_hours_end": any_email.quiet_hours_end}
    )
    if data is not None and quiet.is_valid() and all(form.is_valid() for _label, _type, form in rows):
        inputs = [
            services.PreferenceInput(
                notification_type=notification_type,
                in_app=form.cleaned_data["in_app"],
                email=form.cleaned_data["email"],
                webhook=form.cleaned_data["webhook"],
                digest=form.cleaned_data["digest"],
                only_failures=form.cleaned_data["only_failures"],
                confidence_below=(
                    form.cleaned_data["confidence_below_percent"] / 100
                    if form.cleaned_data["confidence_below_percent"]
                    else None
                ),
            )
            for _label, notification_type, form in rows
        ]
        try:
            services.preferences_save(
                user=request.user,
                rows=inputs,
                quiet_hours_start=quiet.cleaned_data["quiet_hours_start"],
                quiet_hours_end=quiet.cleaned_data["quiet_hours_end"],
            )
        except ApplicationError as error:
            quiet.add_error(None, error.message)
        else:
            messages.success(request, _("Einstellungen gespeichert."))
            return redirect("notifications:settings")
    return render(
        request,
        "notifications/settings.html",
        {"rows": rows, "quiet": quiet, "timezone": request.user.timezone},
    )


@login_required
@require_http_methods(["GET", "POST"])
def webhook_list(request):
    endpoints = webhook_endpoints_for(request.user).order_by("name")
    form = WebhookEndpointForm(request.POST or None, user=request.user, initial={"is_active": True})
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = webhooks.endpoint_create(
                owner=request.user,
                name=form.cleaned_data["name"],
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                scope=form.cleaned_data["scope"],
                team=form.cleaned_data["team"],
            )
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Webhook angelegt."))
            return redirect("notifications:webhook", endpoint_id=endpoint.id)
    return render(request, "notifications/webhooks.html", {"endpoints": endpoints, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def webhook_detail(request, endpoint_id):
    endpoint = _get_endpoint_for_user(request.user, endpoint_id)
    initial = {
        "name": endpoint.name,
        "url": endpoint.url,
        "events": endpoint.events,
        "scope": endpoint.scope,
        "team": endpoint.team,
        "is_active": endpoint.is_active,
    }
    form = WebhookEndpointForm(request.POST or None, user=endpoint.owner, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            webhooks.endpoint_update(endpoint=endpoint, **form.cleaned_data)
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Webhook gespeichert."))
            return redirect("notifications:webhook", endpoint_id=endpoint.id)
    deliveries = Paginator(endpoint.deliveries.order_by("-created_at"), 30).get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/webhook_detail.html",
        {"endpoint": endpoint, "form": form, "deliveries": deliveries, "DEAD": WebhookDelivery.Status.DEAD},
    )


@login_required
@require_POST
def webhook_delete(request, endpoint_id):
    endpoint = _get_endpoint_for_user(request.user, endpoint_id)
    if request.POST.get("confirm") != "yes":
        messages.error(request, _("Bitte das Löschen bestätigen."))
        return redirect("notifications:webhook", endpoint_id=endpoint.id)
    name = endpoint.name
    webhooks.endpoint_delete(endpoint=endpoint, user=request.user)
    messages.success(request, _("Webhook „%(name)s“ gelöscht.") % {"name": name})
    return redirect("notifications:webhooks")


@login_required
@require_POST
def webhook_delivery_resend(request, delivery_id):
    delivery = get_object_or_404(deliveries_for(request.user).filter(endpoint__isnull=False), id=delivery_id)
    try:
        webhooks.delivery_resend(delivery=delivery)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Zustellung wird erneut gesendet."))
    return redirect("notifications:webhook", endpoint_id=delivery.endpoint_id)
