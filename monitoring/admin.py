"""Admin for the audit log (read-only), metrics, error log and health checks."""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from monitoring.models import AuditLog, BackendMetric, ErrorLog, HealthCheck, SystemMetric, WorkerHeartbeat


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    """The audit log is evidence: nobody adds, changes or deletes entries, not even a superuser."""

    list_display = ("created_at", "action", "actor", "object_type", "object_id", "ip_address")
    list_filter = ("action", "object_type")
    search_fields = ("object_id", "message", "actor__email", "action")
    list_select_related = ("actor",)
    date_hierarchy = "created_at"
    fields = ("created_at", "actor", "action", "object_type", "object_id", "changes", "message", "ip_address")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SystemMetric)
class SystemMetricAdmin(admin.ModelAdmin):
    list_display = ("name", "metric_type", "bucket", "timestamp", "value", "count", "min_value", "max_value")
    list_filter = ("metric_type", "bucket", "name")
    search_fields = ("name",)
    date_hierarchy = "timestamp"


@admin.register(BackendMetric)
class BackendMetricAdmin(admin.ModelAdmin):
    list_display = (
        "backend",
        "metric_date",
        "hour_of_day",
        "total_requests",
        "failed_requests",
        "p50_processing_ms",
        "p95_processing_ms",
        "p99_processing_ms",
        "avg_confidence",
    )
    list_filter = ("backend", "metric_date")
    search_fields = ("backend", "backend_version")
    date_hierarchy = "metric_date"


class ResolvedFilter(admin.SimpleListFilter):
    title = _("erledigt")
    parameter_name = "erledigt"

    def lookups(self, request, model_admin):
        return [("nein", _("Offen")), ("ja", _("Erledigt"))]

    def queryset(self, request, queryset):
        if self.value() == "ja":
            return queryset.filter(resolved_at__isnull=False)
        if self.value() == "nein":
            return queryset.filter(resolved_at__isnull=True)
        return queryset


@admin.register(ErrorLog)
class ErrorLogAdmin(admin.ModelAdmin):
    list_display = ("error_type", "severity", "occurrence_count", "first_seen_at", "last_seen_at", "resolved_at")
    list_filter = (ResolvedFilter, "severity", "error_type")
    search_fields = ("error_type", "message", "fingerprint", "request_path")
    raw_id_fields = ("user", "document", "job", "resolved_by")
    readonly_fields = ("resolved_at", "resolved_by", "created_at", "updated_at")
    actions = ["mark_resolved"]

    @admin.action(description=_("Als erledigt markieren"))
    def mark_resolved(self, request, queryset):
        # Guarded: only open rows change, so resolving twice keeps the first resolver and time.
        count = queryset.filter(resolved_at__isnull=True).update(resolved_at=timezone.now(), resolved_by=request.user)
        self.message_user(
            request,
            ngettext("%(count)d Fehler erledigt.", "%(count)d Fehler erledigt.", count) % {"count": count},
            messages.SUCCESS,
        )


@admin.register(HealthCheck)
class HealthCheckAdmin(admin.ModelAdmin):
    list_display = ("component", "status", "response_time_ms", "created_at")
    list_filter = ("status", "component")
    search_fields = ("component", "error_message")
    date_hierarchy = "created_at"


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("hostname", "queues", "pid", "last_seen_at", "stopping")
    readonly_fields = ("hostname", "queues", "pid", "last_seen_at", "stopping", "created_at", "updated_at")
