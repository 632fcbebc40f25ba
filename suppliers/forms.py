"""Input forms of the supplier screens. They check input shapes only; the rules live in services."""

from django import forms
from django.utils.translation import gettext_lazy as _

from documents.models import Document
from suppliers.models import Supplier, SupplierContact
from suppliers.services import SUPPLIER_FIELDS


class SupplierForm(forms.ModelForm):
    name_variations = forms.CharField(
        label=_("Namensvarianten"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Eine je Zeile"),
    )
    typical_sender_emails = forms.CharField(
        label=_("Typische Absender-E-Mails"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Eine je Zeile"),
    )
    tags = forms.CharField(label=_("Schlagwörter"), required=False, help_text=_("Durch Komma getrennt"))
    website = forms.URLField(label=_("Website"), required=False, max_length=200, assume_scheme="https")

    class Meta:
        model = Supplier
        fields = SUPPLIER_FIELDS
        labels = {"email": _("E-Mail"), "phone": _("Telefon")}
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["name_variations"] = "\n".join(self.instance.name_variations or [])
            self.initial["typical_sender_emails"] = "\n".join(self.instance.typical_sender_emails or [])
            self.initial["tags"] = ", ".join(self.instance.tags.values_list("name", flat=True))

    def _post_clean(self):
        # The service validates the model (with normalised values); a second, earlier check
        # here would refuse "de 123 456 789" before the service could normalise it.
        pass

    def service_data(self) -> tuple[dict, list[str]]:
        data = {key: self.cleaned_data[key] for key in self.Meta.fields}
        data["name_variations"] = self.cleaned_data["name_variations"]
        data["typical_sender_emails"] = self.cleaned_data["typical_sender_emails"]
        tags = [tag.strip() for tag in self.cleaned_data["tags"].split(",") if tag.strip()]
        return data, tags


class ContactForm(forms.ModelForm):
    class Meta:
        model = SupplierContact
        fields = (
            "first_name",
            "last_name",
            "job_title",
            "department",
            "email",
            "phone",
            "mobile",
            "is_primary",
            "is_active",
            "notes",
        )
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}

    def _post_clean(self):
        pass  # validated by supplier_contact_save


class BankAccountForm(forms.Form):
    iban = forms.CharField(label=_("IBAN"), max_length=42)
    bic = forms.CharField(label=_("BIC"), max_length=14, required=False)
    bank_name = forms.CharField(label=_("Bank"), max_length=255, required=False)
    is_primary = forms.BooleanField(label=_("Hauptkonto"), required=False)


class TemplateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=255)
    document_type = forms.ChoiceField(label=_("Dokumenttyp"), choices=Document.DocumentType.choices)
    field_patterns = forms.JSONField(
        label=_("Feldmuster"),
        initial=dict,
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_('{"invoice_number": {"pattern": "Rechnung Nr\\\\. (\\\\S+)"}}'),
    )
    typical_layout = forms.JSONField(
        label=_("Erwartete Layout-Bereiche"), initial=dict, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    validation_rules = forms.JSONField(
        label=_("Prüfregeln"), initial=dict, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    confidence_threshold = forms.FloatField(label=_("Konfidenzschwelle"), min_value=0, max_value=1, initial=0.8)
    is_active = forms.BooleanField(label=_("aktiv"), required=False, initial=True)
    note = forms.CharField(label=_("Anlass der Änderung"), max_length=255, required=False)

    def service_data(self) -> dict:
        data = {key: value for key, value in self.cleaned_data.items() if key != "note"}
        for key in ("field_patterns", "typical_layout", "validation_rules"):
            if data[key] in (None, ""):
                data[key] = {}
        return data


class MergeForm(forms.Form):
    duplicate = forms.ModelChoiceField(
        label=_("Dublette, die in diesen Lieferanten übernommen wird"), queryset=Supplier.objects.none()
    )
    confirm = forms.BooleanField(label=_("Ich habe geprüft, dass es derselbe Lieferant ist."))

    def __init__(self, *args, supplier: Supplier, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["duplicate"].queryset = Supplier.objects.exclude(pk=supplier.pk).order_by("name")


class ImportForm(forms.Form):
    file = forms.FileField(label=_("CSV-Datei"))
    dry_run = forms.BooleanField(label=_("Nur prüfen, nichts ändern"), required=False, initial=True)
