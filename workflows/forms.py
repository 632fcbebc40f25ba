import json

from django import forms
from django.utils.translation import gettext_lazy as _

from workflows.models import Workflow


class JSONTextField(forms.CharField):
    """A JSON value typed into a textarea; empty means ``empty_value``."""

    def __init__(self, *, empty_value=None, **kwargs):
        self.json_empty = empty_value
        super().__init__(widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}), required=False, **kwargs)

    def prepare_value(self, value):
        if isinstance(value, str):
            return value
        return "" if value in (None, {}, []) else json.dumps(value, ensure_ascii=False, indent=2)

    def clean(self, value):
        text = (super().clean(value) or "").strip()
        if not text:
            return self.json_empty
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise forms.ValidationError(
                _("Kein gültiges JSON (Zeile %(line)d, Spalte %(column)d): %(message)s")
                % {"line": error.lineno, "column": error.colno, "message": error.msg}
            ) from error


class WorkflowForm(forms.Form):
    """The workflow screen: definition and steps; the service does the real validation."""

    name = forms.CharField(label=_("Name"), max_length=255)
    description = forms.CharField(label=_("Beschreibung"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    trigger_type = forms.ChoiceField(label=_("Auslöser"), choices=Workflow.Trigger.choices)
    trigger_config = JSONTextField(label=_("Auslöser-Konfiguration (JSON)"), empty_value={})
    conditions = JSONTextField(label=_("Bedingungen (JSONLogic)"))
    is_active = forms.BooleanField(label=_("aktiv"), required=False)
    steps = JSONTextField(
        label=_("Schritte (JSON-Liste)"),
        empty_value=[],
        help_text=_(
            'Je Schritt: {"name": ..., "step_type": ..., "step_config": {...}}; optional conditions, on_error, '
            "max_retries, retry_delay_seconds, timeout_seconds. Die Reihenfolge der Liste ist die Schrittfolge."
        ),
    )

    STEP_KEYS = {
        "name",
        "step_type",
        "step_config",
        "conditions",
        "on_error",
        "max_retries",
        "retry_delay_seconds",
        "timeout_seconds",
    }

    def clean_steps(self):
        steps = self.cleaned_data["steps"]
        if not isinstance(steps, list) or not all(isinstance(step, dict) for step in steps):
            raise forms.ValidationError(_("Erwartet wird eine Liste von Objekten."))
        for number, step in enumerate(steps, start=1):
            unknown = set(step) - self.STEP_KEYS
            if unknown:
                raise forms.ValidationError(
                    _("Schritt %(number)d: unbekannte Angaben %(keys)s.") % {"number": number, "keys": sorted(unknown)}
                )
            if not step.get("name") or not step.get("step_type"):
                raise forms.ValidationError(_("Schritt %(number)d: name und step_type fehlen.") % {"number": number})
        return steps


class DryRunForm(forms.Form):
    document = forms.UUIDField(label=_("Dokument-ID"))
