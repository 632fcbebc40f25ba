from django.contrib import admin, messages
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from monitoring.services import audit_log_record
from workflows.models import Workflow, WorkflowExecution, WorkflowStep, WorkflowStepExecution

TIMESTAMP_FIELDS = ("id", "created_at", "updated_at")


class WorkflowStepInline(admin.TabularInline):
    model = WorkflowStep
    extra = 0
    fields = (
        "step_order",
        "name",
        "step_type",
        "step_config",
        "conditions",
        "on_error",
        "max_retries",
        "retry_delay_seconds",
        "timeout_seconds",
    )
    ordering = ("step_order",)
    show_change_link = True


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "trigger_type",
        "is_active",
        "is_system",
        "total_executions",
        "successful_executions",
        "failed_executions",
        "last_executed_at",
    )
    list_filter = ("trigger_type", "is_active", "is_system")
    search_fields = ("name", "description")
    readonly_fields = (
        *TIMESTAMP_FIELDS,
        "deleted_at",
        "total_executions",
        "successful_executions",
        "failed_executions",
        "last_executed_at",
        "created_by",
    )
    date_hierarchy = "created_at"
    inlines = (WorkflowStepInline,)
    actions = ("soft_delete_selected",)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None):
        # A hard delete would cascade into the execution history; workflows are only ever
        # soft-deleted (see the action below).
        return False

    @admin.action(
        description=_("Ausgewählte Workflows löschen (Ausführungen bleiben erhalten)"), permissions=["change"]
    )
    def soft_delete_selected(self, request, queryset):
        workflows = list(queryset.filter(is_system=False))
        with transaction.atomic():
            updated = Workflow.objects.filter(pk__in=[w.pk for w in workflows]).update(
                deleted_at=timezone.now(), is_active=False
            )
            for workflow in workflows:
                audit_log_record(actor=request.user, action="workflow.soft_deleted", obj=workflow)
        self.message_user(
            request,
            ngettext("%(count)d Workflow gelöscht.", "%(count)d Workflows gelöscht.", updated) % {"count": updated},
            messages.SUCCESS,
        )
        if skipped := queryset.filter(is_system=True).count():
            self.message_user(
                request,
                ngettext(
                    "%(count)d Systemworkflow kann nicht gelöscht werden, nur deaktiviert.",
                    "%(count)d Systemworkflows können nicht gelöscht werden, nur deaktiviert.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )


@admin.register(WorkflowStep)
class WorkflowStepAdmin(admin.ModelAdmin):
    list_display = ("name", "workflow", "step_order", "step_type", "on_error", "max_retries", "timeout_seconds")
    list_filter = ("step_type", "on_error")
    list_select_related = ("workflow",)
    search_fields = ("name", "workflow__name")
    autocomplete_fields = ("workflow",)
    readonly_fields = TIMESTAMP_FIELDS
    ordering = ("workflow__name", "step_order")


class WorkflowStepExecutionInline(admin.TabularInline):
    """Read-only: step runs are the engine's record, not something to edit by hand."""

    model = WorkflowStepExecution
    extra = 0
    fields = (
        "step_name",
        "step_type",
        "status",
        "started_at",
        "completed_at",
        "duration_ms",
        "retry_count",
        "error_message",
    )
    readonly_fields = fields
    can_delete = False
    show_change_link = True
    ordering = ("created_at",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WorkflowExecution)
class WorkflowExecutionAdmin(admin.ModelAdmin):
    list_display = ("workflow", "document", "status", "trigger_event", "started_at", "completed_at", "duration_ms")
    list_filter = ("status", "trigger_event", "workflow")
    list_select_related = ("workflow", "document")
    search_fields = ("workflow__name", "document__title", "error_message")
    autocomplete_fields = ("workflow",)
    raw_id_fields = ("document", "triggered_by")
    readonly_fields = TIMESTAMP_FIELDS
    date_hierarchy = "created_at"
    inlines = (WorkflowStepExecutionInline,)


@admin.register(WorkflowStepExecution)
class WorkflowStepExecutionAdmin(admin.ModelAdmin):
    list_display = ("step_name", "execution", "step_type", "status", "retry_count", "duration_ms", "started_at")
    list_filter = ("status", "step_type")
    list_select_related = ("execution__workflow",)
    search_fields = ("step_name", "execution__workflow__name", "error_message")
    autocomplete_fields = ("execution", "step")
    readonly_fields = TIMESTAMP_FIELDS
    date_hierarchy = "created_at"
