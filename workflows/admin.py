from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from monitoring.services import audit_log_record
from workflows import jsonlogic
from workflows.engine import workflow_dry_run
from workflows.models import Workflow, WorkflowExecution, WorkflowStep, WorkflowStepExecution
from workflows.services import (
    execution_cancel,
    workflow_definition_errors,
    workflow_schedule_sync,
    workflow_webhook_token_reset,
)
from workflows.steps import step_config_errors

TIMESTAMP_FIELDS = ("id", "created_at", "updated_at")


class WorkflowStepForm(forms.ModelForm):
    """Checks a step's configuration against its type, in words an admin understands."""

    class Meta:
        model = WorkflowStep
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

    def clean(self):
        data = super().clean()
        if data.get("step_type") and "step_config" in data:
            for message in step_config_errors(data["step_type"], data["step_config"]):
                self.add_error("step_config", message)
        if data.get("conditions"):
            for message in jsonlogic.rule_errors(data["conditions"]):
                self.add_error("conditions", message)
        return data


class WorkflowForm(forms.ModelForm):
    class Meta:
        model = Workflow
        fields = ("name", "description", "trigger_type", "trigger_config", "conditions", "is_active", "is_system")

    def clean(self):
        data = super().clean()
        probe = Workflow(
            trigger_type=data.get("trigger_type"),
            trigger_config=data.get("trigger_config") or {},
            conditions=data.get("conditions"),
        )
        for message in workflow_definition_errors(probe, []).get("workflow", []):
            self.add_error(None, message)
        return data


class WorkflowStepInline(admin.TabularInline):
    model = WorkflowStep
    form = WorkflowStepForm
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
    form = WorkflowForm
    inlines = (WorkflowStepInline,)
    actions = ("soft_delete_selected", "reset_webhook_token")
    change_form_template = "admin/workflows/workflow/change_form.html"

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        workflow = form.instance
        workflow_schedule_sync(workflow=workflow)
        # Branch targets can only be checked with all steps saved.
        problems = workflow_definition_errors(workflow, list(workflow.steps.all()))
        for where, errors in problems.items():
            self.message_user(request, f"{where}: {' '.join(errors)}", messages.WARNING)

    def get_urls(self):
        return [
            path(
                "<uuid:workflow_id>/probelauf/",
                self.admin_site.admin_view(self.dry_run_view),
                name="workflows_workflow_dry_run",
            ),
            *super().get_urls(),
        ]

    def dry_run_view(self, request, workflow_id):
        """ "Test against document X": what each step would do, nothing written."""
        from documents.selectors import visible_documents

        workflow = get_object_or_404(Workflow.objects.filter(deleted_at=None), pk=workflow_id)
        if not self.has_view_permission(request, workflow):
            return self.admin_site.login(request)
        document_id = (request.GET.get("document") or "").strip()
        report, document, error = None, None, ""
        if document_id:
            document = visible_documents(request.user).filter(pk=document_id).first() if _is_uuid(document_id) else None
            if document is None:
                error = _("Dokument nicht gefunden.")
            else:
                report = workflow_dry_run(workflow=workflow, document=document)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Probelauf: %(name)s") % {"name": workflow.name},
            "workflow": workflow,
            "document": document,
            "document_id": document_id,
            "report": report,
            "error": error,
            "opts": self.model._meta,
            "change_url": reverse("admin:workflows_workflow_change", args=[workflow.pk]),
        }
        return TemplateResponse(request, "admin/workflows/workflow/dry_run.html", context)

    @admin.action(description=_("Neues Webhook-Token erzeugen (wird einmal angezeigt)"), permissions=["change"])
    def reset_webhook_token(self, request, queryset):
        for workflow in queryset.filter(trigger_type=Workflow.Trigger.WEBHOOK, deleted_at=None):
            token = workflow_webhook_token_reset(workflow=workflow)
            audit_log_record(actor=request.user, action="workflow.webhook_token_reset", obj=workflow)
            url = request.build_absolute_uri(reverse("api-v1:workflow-hook", args=[workflow.pk]))
            self.message_user(
                request,
                _(
                    "%(name)s: POST %(url)s mit „Authorization: Bearer %(token)s“ – "
                    "das Token wird nicht erneut angezeigt."
                )
                % {"name": workflow.name, "url": url, "token": token},
                messages.WARNING,
            )

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
    readonly_fields = [field.name for field in WorkflowExecution._meta.fields]
    date_hierarchy = "created_at"
    inlines = (WorkflowStepExecutionInline,)
    actions = ("cancel_selected",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # The engine's record; admins look, and may only cancel waiting runs (action).
        return False

    @admin.action(description=_("Wartende Ausführungen abbrechen"), permissions=["view"])
    def cancel_selected(self, request, queryset):
        from ablage.errors import ApplicationError

        cancelled = 0
        for execution in queryset:
            try:
                execution_cancel(execution=execution, user=request.user)
                cancelled += 1
            except ApplicationError:
                continue
        self.message_user(request, _("%(count)d Ausführung(en) abgebrochen.") % {"count": cancelled})


@admin.register(WorkflowStepExecution)
class WorkflowStepExecutionAdmin(admin.ModelAdmin):
    list_display = ("step_name", "execution", "step_type", "status", "retry_count", "duration_ms", "started_at")
    list_filter = ("status", "step_type")
    list_select_related = ("execution__workflow",)
    search_fields = ("step_name", "execution__workflow__name", "error_message")
    autocomplete_fields = ("execution", "step")
    readonly_fields = TIMESTAMP_FIELDS
    date_hierarchy = "created_at"


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
