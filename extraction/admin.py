from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ablage.errors import ApplicationError
from extraction.models import (
    ClassifierModel,
    ExtractionRule,
    ExtractionRuleVersion,
    ModelBudget,
    ModelCircuit,
    ModelPerformance,
    ModelRun,
    TrainingData,
)
from extraction.selectors import rule_suggestions
from extraction.services import rule_delete, rule_rollback, rule_save

TIMESTAMP_FIELDS = ("id", "created_at", "updated_at")


STATISTICS_FIELDS = (
    "version",
    "usage_count",
    "success_count",
    "success_rate",
    "avg_confidence",
    "last_used_at",
    "last_error",
    "last_error_at",
)
VERSION_FIELDS = (
    "version",
    "rule_type",
    "rule_config",
    "learned_from",
    "measurement",
    "rolled_back",
    "usage_count",
    "success_count",
    "avg_confidence",
    "performance_delta",
    "notes",
    "created_by",
    "created_at",
)


class ExtractionRuleVersionInline(admin.TabularInline):
    """The history, read-only: versions are written by ``rule_save`` when what the rule does changes."""

    model = ExtractionRuleVersion
    extra = 0
    fields = VERSION_FIELDS
    readonly_fields = VERSION_FIELDS
    ordering = ("-version",)
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ExtractionRule)
class ExtractionRuleAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "field_name",
        "rule_type",
        "supplier",
        "document_type",
        "priority",
        "is_active",
        "version",
        "usage_count",
        "success_rate",
        "last_used_at",
        "learned_from",
        "has_error",
    )
    list_filter = ("rule_type", "is_active", "required", "document_type")
    actions = ("rollback_selected",)
    list_select_related = ("supplier",)
    search_fields = ("name", "field_name", "supplier__name")
    autocomplete_fields = ("supplier", "template")
    fieldsets = (
        (None, {"fields": ("name", "field_name", "rule_type", "rule_config", "validation_regex", "template")}),
        (_("Geltungsbereich"), {"fields": ("supplier", "document_type", "priority", "required", "is_active")}),
        (_("Statistik der aktuellen Version"), {"fields": STATISTICS_FIELDS}),
        (_("Verwaltung"), {"fields": (*TIMESTAMP_FIELDS, "created_by", "learned_from")}),
    )
    readonly_fields = (*TIMESTAMP_FIELDS, *STATISTICS_FIELDS, "created_by", "learned_from")
    date_hierarchy = "created_at"
    inlines = (ExtractionRuleVersionInline,)

    def get_urls(self):
        suggestions = path(
            "suggestions/",
            self.admin_site.admin_view(self.suggestions_view),
            name="extraction_extractionrule_suggestions",
        )
        return [suggestions, *super().get_urls()]

    def suggestions_view(self, request):
        """Rules worth a look: falling success rate, unsure hits, corrected values (with the documents)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Regelvorschläge"),
            "suggestions": rule_suggestions(),
        }
        return TemplateResponse(request, "admin/extraction/rule_suggestions.html", context)

    @admin.action(description=_("Auf die vorherige Version zurücksetzen"), permissions=["change"])
    def rollback_selected(self, request, queryset):
        for rule in queryset:
            try:
                rule = rule_rollback(rule=rule, user=request.user)
            except ApplicationError as error:
                self.message_user(request, error.message, level=messages.WARNING)
                continue
            self.message_user(
                request,
                gettext("„%(name)s“ ist zurückgesetzt, jetzt Version %(version)d.")
                % {"name": rule.name, "version": rule.version},
            )

    @admin.display(boolean=True, description=_("Fehler"))
    def has_error(self, rule):
        return bool(rule.last_error)

    def save_model(self, request, obj, form, change):
        # The form has already run the rule's clean(); the service versions and audits the change.
        rule_save(rule=obj, user=request.user)

    def delete_model(self, request, obj):
        rule_delete(rule=obj, user=request.user)


@admin.register(ExtractionRuleVersion)
class ExtractionRuleVersionAdmin(admin.ModelAdmin):
    """Read-only: a version is a record of what a rule did and how well it did it."""

    list_display = (
        "rule",
        "version",
        "learned_from",
        "rolled_back",
        "usage_count",
        "success_count",
        "avg_confidence",
        "created_by",
        "created_at",
    )
    list_select_related = ("rule", "created_by")
    search_fields = ("rule__name", "rule__field_name", "notes")
    readonly_fields = (*TIMESTAMP_FIELDS, "rule", *VERSION_FIELDS)
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(TrainingData)
class TrainingDataAdmin(admin.ModelAdmin):
    list_display = (
        "document",
        "field_name",
        "expected_value",
        "extracted_value",
        "was_correct",
        "validated_at",
        "used_for_training",
        "training_batch_id",
    )
    list_filter = ("was_correct", "used_for_training", "field_name")
    list_select_related = ("document",)
    search_fields = ("field_name", "expected_value", "extracted_value", "document__title", "training_batch_id")
    raw_id_fields = ("document", "validated_by")
    readonly_fields = TIMESTAMP_FIELDS
    date_hierarchy = "created_at"


@admin.register(ModelPerformance)
class ModelPerformanceAdmin(admin.ModelAdmin):
    list_display = (
        "model_name",
        "model_version",
        "metric_date",
        "hour_of_day",
        "accuracy",
        "precision_score",
        "recall",
        "f1_score",
        "total_predictions",
        "correct_predictions",
    )
    list_filter = ("model_name", "model_version")
    search_fields = ("model_name", "model_version")
    readonly_fields = TIMESTAMP_FIELDS
    date_hierarchy = "metric_date"


@admin.register(ClassifierModel)
class ClassifierModelAdmin(admin.ModelAdmin):
    """Read-only: models are trained by ``extraction.tasks.classifier_train``, never edited by hand."""

    list_display = ("name", "version", "is_active", "trained_examples", "accuracy", "created_at")
    list_filter = ("name", "is_active")
    readonly_fields = (*TIMESTAMP_FIELDS, "name", "version", "is_active", "trained_examples", "accuracy", "parameters")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ModelRun)
class ModelRunAdmin(_ReadOnlyAdmin):
    """Read-only record of every model request (extraction.llm): outcome, tokens, latency, suggestions."""

    list_display = ("created_at", "document", "trigger", "status", "model_name", "from_cache", "attempts")
    list_filter = ("status", "trigger", "model_name", "from_cache")
    search_fields = ("document__title", "message", "cache_key")
    list_select_related = ("document",)
    raw_id_fields = ("document", "team", "requested_by")
    date_hierarchy = "created_at"


@admin.register(ModelBudget)
class ModelBudgetAdmin(_ReadOnlyAdmin):
    """Read-only: counted by ``extraction.llm.guards``; the limits are SystemConfig values."""

    list_display = ("scope", "team", "month", "calls", "tokens")
    list_filter = ("month",)


@admin.register(ModelCircuit)
class ModelCircuitAdmin(admin.ModelAdmin):
    """The breaker's state; an admin may delete a row to close it at once (it is recreated closed)."""

    list_display = ("name", "consecutive_failures", "opened_at", "probe_until")
    readonly_fields = (*TIMESTAMP_FIELDS, "name", "consecutive_failures", "opened_at", "probe_until")

    def has_add_permission(self, request):
        return False
