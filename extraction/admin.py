from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from extraction.models import ExtractionRule, ExtractionRuleVersion, ModelPerformance, TrainingData
from extraction.services import rule_delete, rule_save

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
    "rule_config",
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
        "has_error",
    )
    list_filter = ("rule_type", "is_active", "required", "document_type")
    list_select_related = ("supplier",)
    search_fields = ("name", "field_name", "supplier__name")
    autocomplete_fields = ("supplier", "template")
    fieldsets = (
        (None, {"fields": ("name", "field_name", "rule_type", "rule_config", "validation_regex", "template")}),
        (_("Geltungsbereich"), {"fields": ("supplier", "document_type", "priority", "required", "is_active")}),
        (_("Statistik der aktuellen Version"), {"fields": STATISTICS_FIELDS}),
        (_("Verwaltung"), {"fields": (*TIMESTAMP_FIELDS, "created_by")}),
    )
    readonly_fields = (*TIMESTAMP_FIELDS, *STATISTICS_FIELDS, "created_by")
    date_hierarchy = "created_at"
    inlines = (ExtractionRuleVersionInline,)

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

    list_display = ("rule", "version", "usage_count", "success_count", "avg_confidence", "created_by", "created_at")
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
