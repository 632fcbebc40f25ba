"""Admin for runtime configuration, feature flags, scheduled tasks and system parameters."""

import json

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ablage.errors import ApplicationError
from system.models import FeatureFlag, ScheduledTask, SystemConfig, SystemParameter
from system.selectors import config_decode, config_stored_value
from system.services import config_clean_value, config_rules_clean, config_save

_MASK = "••••••"


def _value_as_text(config: SystemConfig) -> str:
    if config.is_secret or config.value is None:
        return ""
    value = config_decode(config.value_type, config.value)
    if config.value_type == SystemConfig.ValueType.JSON:
        return json.dumps(value, indent=2, ensure_ascii=False)
    if config.value_type == SystemConfig.ValueType.BOOL:
        return "true" if value else "false"
    return str(value)


class SystemConfigForm(forms.ModelForm):
    """Edits the value as text; ``clean`` runs the same validation as ``system.services.config_set``."""

    raw_value = forms.CharField(
        label=_("Wert"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Zahlen mit Punkt oder Komma, Ja/Nein als true/false, JSON als JSON."),
    )

    class Meta:
        model = SystemConfig
        fields = ("key", "value_type", "category", "description", "validation_rules", "is_secret")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.typed_value = None
        self.keep_secret_value = False
        if self.instance.pk is not None:
            if self.instance.is_secret:
                self.fields["raw_value"].help_text = _("Geheimer Wert: leer lassen, um ihn unverändert zu lassen.")
            else:
                self.initial["raw_value"] = _value_as_text(self.instance)

    def clean(self):
        cleaned = super().clean()
        value_type = cleaned.get("value_type") or self.instance.value_type
        if not value_type:
            return cleaned
        raw = cleaned.get("raw_value", "")
        try:
            rules = config_rules_clean(value_type=value_type, rules=cleaned.get("validation_rules"))
        except ApplicationError as exc:
            self.add_error("validation_rules", exc.message)
            return cleaned
        if self.instance.pk is not None and self.instance.is_secret and raw == "":
            self.keep_secret_value = True
            raw = config_decode(
                self.instance.value_type,
                config_stored_value(is_secret=True, value=None, value_encrypted=self.instance.value_encrypted),
            )
        elif value_type == SystemConfig.ValueType.JSON:
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError as exc:
                self.add_error("raw_value", _("Kein gültiges JSON: %(error)s") % {"error": exc})
                return cleaned
        try:
            self.typed_value = config_clean_value(
                value_type=value_type, value=raw, rules=rules, key=cleaned.get("key") or self.instance.key
            )
        except ApplicationError as exc:
            self.add_error("raw_value", exc.message)
        return cleaned


@admin.register(SystemConfig)
class SystemConfigAdmin(admin.ModelAdmin):
    form = SystemConfigForm
    list_display = ("key", "category", "value_type", "shown_value", "updated_by", "updated_at")
    list_filter = ("category", "value_type", "is_secret")
    search_fields = ("key", "description")
    list_select_related = ("updated_by",)
    fields = ("key", "value_type", "raw_value", "category", "description", "validation_rules", "is_secret")

    def get_readonly_fields(self, request, obj=None):
        # Code reads a key by name and type; renaming or retyping it would break that code.
        if obj is not None:
            return ("key", "value_type", "updated_by", "updated_at")
        return ()

    def get_fields(self, request, obj=None):
        if obj is not None:
            return (*self.fields, "updated_by", "updated_at")
        return self.fields

    @admin.display(description=_("Wert"))
    def shown_value(self, obj):
        return _MASK if obj.is_secret else _value_as_text(obj)

    def save_model(self, request, obj, form, change):
        saved = config_save(
            key=obj.key,
            value=form.typed_value,
            user=request.user,
            value_type=None if change else obj.value_type,
            validation_rules=form.cleaned_data.get("validation_rules") or {},
            description=obj.description,
            category=obj.category,
            is_secret=obj.is_secret,
        )
        # The admin continues with ``obj`` (messages, redirects); give it the saved state.
        obj.pk = saved.pk
        obj.value = saved.value
        obj.value_encrypted = saved.value_encrypted
        obj._state.adding = False


@admin.register(FeatureFlag)
class FeatureFlagAdmin(admin.ModelAdmin):
    list_display = ("key", "enabled", "rollout_percentage", "updated_by", "updated_at")
    list_filter = ("enabled",)
    search_fields = ("key", "description")
    readonly_fields = ("updated_by", "updated_at")

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(ScheduledTask)
class ScheduledTaskAdmin(admin.ModelAdmin):
    list_display = ("name", "task", "cron_expression", "timezone", "enabled", "last_run_at", "last_run_status")
    list_filter = ("enabled", "last_run_status")
    search_fields = ("name", "task", "description")
    readonly_fields = ("last_run_at", "last_run_status", "last_run_duration_ms", "last_error", "next_run_at")

    def save_model(self, request, obj, form, change):
        from system.scheduling import scheduled_tasks_sync

        super().save_model(request, obj, form, change)
        scheduled_tasks_sync()

    def delete_model(self, request, obj):
        from system.scheduling import scheduled_tasks_sync

        super().delete_model(request, obj)
        scheduled_tasks_sync()


@admin.register(SystemParameter)
class SystemParameterAdmin(admin.ModelAdmin):
    list_display = ("key", "category", "value", "expires_at", "updated_at")
    list_filter = ("category",)
    search_fields = ("key", "value", "description")
