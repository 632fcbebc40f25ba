from django.contrib import admin

from extraction.models import ExtractionRule, ExtractionRuleVersion, ModelPerformance, TrainingData

TIMESTAMP_FIELDS = ("id", "created_at", "updated_at")


class ExtractionRuleVersionInline(admin.TabularInline):
    model = ExtractionRuleVersion
    extra = 0
    fields = ("version", "rule_config", "notes", "created_by", "created_at")
    readonly_fields = ("created_by", "created_at")
    ordering = ("-version",)


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
    )
    list_filter = ("rule_type", "is_active", "required", "document_type")
    list_select_related = ("supplier",)
    search_fields = ("name", "field_name", "supplier__name")
    autocomplete_fields = ("supplier", "template")
    readonly_fields = (*TIMESTAMP_FIELDS, "usage_count", "success_rate", "avg_confidence", "created_by")
    date_hierarchy = "created_at"
    inlines = (ExtractionRuleVersionInline,)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        for version in formset.save(commit=False):
            if version._state.adding:
                version.created_by = request.user
            version.save()
        for version in formset.deleted_objects:
            version.delete()


@admin.register(ExtractionRuleVersion)
class ExtractionRuleVersionAdmin(admin.ModelAdmin):
    list_display = ("rule", "version", "created_by", "created_at")
    list_select_related = ("rule", "created_by")
    search_fields = ("rule__name", "rule__field_name", "notes")
    autocomplete_fields = ("rule",)
    readonly_fields = (*TIMESTAMP_FIELDS, "created_by")
    date_hierarchy = "created_at"

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


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
