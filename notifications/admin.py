"""Admin for notifications, preferences, the e-mail queue, e-mail templates and webhooks."""

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ablage.errors import ApplicationError
from notifications import email as email_queue
from notifications import webhooks
from notifications.models import (
    DigestEntry,
    EmailQueue,
    EmailTemplate,
    Notification,
    NotificationPreference,
    WebhookDelivery,
    WebhookEndpoint,
)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("title", "user", "type", "document", "created_at", "read_at", "expires_at")
    list_filter = ("type", ("read_at", admin.EmptyFieldListFilter))
    search_fields = ("title", "message", "user__email")
    list_select_related = ("user", "document")
    raw_id_fields = ("user", "document")
    date_hierarchy = "created_at"


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "notification_type", "channel", "enabled", "digest", "quiet_hours_start", "quiet_hours_end")
    list_filter = ("notification_type", "channel", "enabled", "digest")
    search_fields = ("user__email",)
    list_select_related = ("user",)
    raw_id_fields = ("user",)


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin):
    """Saving runs ``EmailTemplate.clean()``: templates that do not parse or use undeclared variables are refused."""

    list_display = ("key", "name", "language", "is_active", "updated_at")
    list_filter = ("language", "is_active")
    search_fields = ("key", "name", "subject_template")
    readonly_fields = ("preview",)

    @admin.display(description=_("Vorschau (Beispieldaten)"))
    def preview(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        try:
            subject, text, html = email_queue.email_render(obj, email_queue.sample_context(obj))
        except ApplicationError as error:
            return error.message
        # The HTML part in a sandboxed frame: no scripts, no same-origin access to the admin.
        return format_html(
            '<p><strong>{}</strong></p><pre style="white-space:pre-wrap">{}</pre>'
            '<iframe sandbox="" srcdoc="{}" style="width:100%;height:320px;border:1px solid #ccc"></iframe>',
            subject,
            text,
            html,
        )


@admin.register(EmailQueue)
class EmailQueueAdmin(admin.ModelAdmin):
    list_display = ("subject", "to_address", "status", "attempts", "max_attempts", "next_attempt_at", "sent_at")
    list_filter = ("status",)
    search_fields = ("to_address", "subject", "dedup_key")
    list_select_related = ("template",)
    raw_id_fields = ("user", "document", "template")
    readonly_fields = ("attempts", "sent_at", "last_error", "message_id", "created_at", "updated_at")
    date_hierarchy = "created_at"
    actions = ["retry_failed", "mark_bounced"]

    @admin.action(description=_("Fehlgeschlagene E-Mails erneut senden"))
    def retry_failed(self, request, queryset):
        count = 0
        for email in queryset.filter(status=EmailQueue.Status.FAILED):
            email_queue.email_retry(email=email)
            count += 1
        self.message_user(request, _("%(count)s E-Mails werden erneut gesendet.") % {"count": count})

    @admin.action(description=_("Als unzustellbar markieren"))
    def mark_bounced(self, request, queryset):
        count = 0
        for email in queryset.filter(status=EmailQueue.Status.SENT):
            email_queue.email_mark_bounced(email=email, reason=str(_("Von der Verwaltung als unzustellbar markiert.")))
            count += 1
        self.message_user(request, _("%(count)s E-Mails als unzustellbar markiert.") % {"count": count})


class WebhookDeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    extra = 0
    can_delete = False
    fields = (
        "event",
        "event_id",
        "status",
        "attempts",
        "response_status",
        "last_error",
        "next_attempt_at",
        "delivered_at",
    )
    readonly_fields = fields
    ordering = ("-created_at",)

    def has_add_permission(self, request, obj=None):
        return False


class WebhookEndpointAdminForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ("owner", "name", "url", "events", "scope", "team", "is_active")

    def clean_url(self):
        # The same SSRF check as on the settings page; it runs again before every delivery.
        try:
            return webhooks.check_url(self.cleaned_data["url"])
        except ApplicationError as error:
            raise forms.ValidationError(error.message) from None


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointAdminForm
    list_display = ("name", "url", "owner", "scope", "is_active", "failure_count", "last_success_at", "last_failure_at")
    list_filter = ("is_active",)
    search_fields = ("name", "url", "owner__email")
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
    readonly_fields = ("failure_count", "last_success_at", "last_failure_at", "created_at")
    inlines = [WebhookDeliveryInline]

    # The secret is generated and never shown here: its owner sees it on the webhook page to
    # configure the receiver; editing it by hand would silently break the signature check.
    exclude = ("secret",)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("event", "endpoint", "status", "attempts", "response_status", "next_attempt_at", "delivered_at")
    list_filter = ("status", "event")
    search_fields = ("event_id", "endpoint__name", "endpoint__url")
    list_select_related = ("endpoint",)
    raw_id_fields = ("endpoint",)
    readonly_fields = ("attempts", "response_status", "response_body", "last_error", "delivered_at", "created_at")
    fieldsets = (
        (None, {"fields": ("endpoint", "callback_url", "event", "event_id", "payload", "status", "next_attempt_at")}),
        (
            _("Zustellung"),
            {"fields": ("attempts", "response_status", "response_body", "last_error", "delivered_at", "created_at")},
        ),
    )
    actions = ["resend"]

    @admin.action(description=_("Aufgegebene Zustellungen erneut senden"))
    def resend(self, request, queryset):
        count = 0
        for delivery in queryset.filter(status=WebhookDelivery.Status.DEAD):
            webhooks.delivery_resend(delivery=delivery)
            count += 1
        self.message_user(
            request, _("%(count)s Zustellungen werden erneut gesendet.") % {"count": count}, messages.INFO
        )


@admin.register(DigestEntry)
class DigestEntryAdmin(admin.ModelAdmin):
    list_display = ("title", "user", "frequency", "notification_type", "created_at", "email")
    list_filter = ("frequency", "notification_type", ("email", admin.EmptyFieldListFilter))
    search_fields = ("title", "user__email")
    list_select_related = ("user", "email")
    raw_id_fields = ("user", "document", "email")
