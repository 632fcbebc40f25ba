"""Admin for notifications, preferences, the e-mail queue, e-mail templates and webhooks."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from notifications.models import (
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


@admin.register(EmailQueue)
class EmailQueueAdmin(admin.ModelAdmin):
    list_display = ("subject", "to_address", "status", "attempts", "max_attempts", "next_attempt_at", "sent_at")
    list_filter = ("status",)
    search_fields = ("to_address", "subject", "dedup_key")
    list_select_related = ("template",)
    raw_id_fields = ("user", "document", "template")
    readonly_fields = ("attempts", "sent_at", "last_error", "created_at", "updated_at")
    date_hierarchy = "created_at"


class WebhookDeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    extra = 0
    can_delete = False
    fields = ("event", "event_id", "status", "attempts", "response_status", "next_attempt_at", "delivered_at")
    readonly_fields = fields
    ordering = ("-created_at",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("name", "url", "owner", "is_active", "failure_count", "last_success_at", "last_failure_at")
    list_filter = ("is_active",)
    search_fields = ("name", "url", "owner__email")
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
    readonly_fields = ("failure_count", "last_success_at", "last_failure_at", "created_at")
    inlines = [WebhookDeliveryInline]

    def get_readonly_fields(self, request, obj=None):
        # The secret is generated; changing it by hand would silently break the receiver's signature check.
        if obj is not None:
            return (*self.readonly_fields, "secret")
        return self.readonly_fields

    def get_exclude(self, request, obj=None):
        return ("secret",) if obj is None else ()


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("event", "endpoint", "status", "attempts", "response_status", "next_attempt_at", "delivered_at")
    list_filter = ("status", "event")
    search_fields = ("event_id", "endpoint__name", "endpoint__url")
    list_select_related = ("endpoint",)
    raw_id_fields = ("endpoint",)
    readonly_fields = ("attempts", "response_status", "response_body", "delivered_at", "created_at")
    fieldsets = (
        (None, {"fields": ("endpoint", "event", "event_id", "payload", "status", "next_attempt_at")}),
        (_("Zustellung"), {"fields": ("attempts", "response_status", "response_body", "delivered_at", "created_at")}),
    )
