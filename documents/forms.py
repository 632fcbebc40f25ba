"""Forms of the document screens: the inbox filter (also the format of a saved view)."""

from decimal import Decimal

from django import forms
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from documents.models import Category, Document, Tag

CONFIDENCE_BANDS = {
    # The same thresholds as the colour of the confidence badge in the list.
    "low": (None, 0.6),
    "medium": (0.6, 0.85),
    "high": (0.85, None),
}

SORTS = {
    "-created_at": _("Eingang (neueste zuerst)"),
    "created_at": _("Eingang (älteste zuerst)"),
    "-document_date": _("Belegdatum (neueste zuerst)"),
    "document_date": _("Belegdatum (älteste zuerst)"),
    "-total_amount": _("Betrag (höchster zuerst)"),
    "total_amount": _("Betrag (niedrigster zuerst)"),
    "overall_confidence": _("Sicherheit (niedrigste zuerst)"),
    "-overall_confidence": _("Sicherheit (höchste zuerst)"),
    "title": _("Titel (A–Z)"),
}

NULLABLE_SORTS = {"document_date", "total_amount", "overall_confidence"}

# The first is the default: the select shows it when the querystring names none.
PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = PAGE_SIZES[0]


class GermanDecimalField(forms.CharField):
    """An amount typed the German way ("1.234,56") or the canonical way ("1234.56")."""

    def to_python(self, value):
        from extraction.normalize import parse_amount

        text = super().to_python(value).strip()
        if not text:
            return None
        amount = parse_amount(text)
        if amount is None:
            raise forms.ValidationError(_("Kein gültiger Betrag"), code="invalid_amount")
        return Decimal(amount)


class InboxFilterForm(forms.Form):
    """The inbox's filters, sort and page size; its querystring is what a saved view stores."""

    q = forms.CharField(label=_("Suche"), required=False, max_length=200)
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Alle Status")), *Document.Status.choices]
    )
    document_type = forms.ChoiceField(
        label=_("Typ"), required=False, choices=[("", _("Alle Typen")), *Document.DocumentType.choices]
    )
    supplier = forms.CharField(label=_("Lieferant"), required=False, max_length=200)
    tag = forms.ModelChoiceField(
        label=_("Schlagwort"), required=False, queryset=Tag.objects.all(), empty_label=_("Alle")
    )
    category = forms.ModelChoiceField(
        label=_("Kategorie"), required=False, queryset=Category.objects.all(), empty_label=_("Alle")
    )
    date_from = forms.DateField(
        label=_("Belegdatum von"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(label=_("bis"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    amount_min = GermanDecimalField(
        label=_("Betrag von"), required=False, widget=forms.TextInput(attrs={"maxlength": 20, "inputmode": "decimal"})
    )
    amount_max = GermanDecimalField(
        label=_("bis"), required=False, widget=forms.TextInput(attrs={"maxlength": 20, "inputmode": "decimal"})
    )
    confidence = forms.ChoiceField(
        label=_("Sicherheit"),
        required=False,
        choices=[
            ("", _("Alle")),
            ("low", _("niedrig (< 60 %)")),
            ("medium", _("mittel")),
            ("high", _("hoch (≥ 85 %)")),
        ],
    )
    mine = forms.BooleanField(label=_("Mir zugewiesen"), required=False)
    sort = forms.ChoiceField(label=_("Sortierung"), required=False, choices=list(SORTS.items()))
    per_page = forms.TypedChoiceField(
        label=_("Pro Seite"),
        required=False,
        coerce=int,
        empty_value=DEFAULT_PAGE_SIZE,
        choices=[(n, n) for n in PAGE_SIZES],
    )

    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("date_from"), cleaned.get("date_to")
        if low and high and low > high:
            self.add_error("date_to", _("Das Enddatum liegt vor dem Anfangsdatum."))
        low, high = cleaned.get("amount_min"), cleaned.get("amount_max")
        if low is not None and high is not None and low > high:
            self.add_error("amount_max", _("Der Höchstbetrag ist kleiner als der Mindestbetrag."))
        return cleaned

    def filter(self, documents, *, user):
        """Apply the valid filters to ``documents`` (already restricted to the user).

        An invalid filter is shown with its error and left out; the others still apply.
        """
        data = {}
        if self.is_bound:
            self.is_valid()
            data = self.cleaned_data
        if data.get("q"):
            query = data["q"]
            documents = documents.filter(
                Q(title__icontains=query) | Q(original_filename__icontains=query) | Q(document_number__icontains=query)
            )
        if data.get("status"):
            documents = documents.filter(status=data["status"])
        if data.get("document_type"):
            documents = documents.filter(document_type=data["document_type"])
        if data.get("supplier"):
            documents = documents.filter(supplier__name__icontains=data["supplier"])
        if data.get("tag"):
            documents = documents.filter(tags=data["tag"])
        if data.get("category"):
            documents = documents.filter(category=data["category"])
        if data.get("date_from"):
            documents = documents.filter(document_date__gte=data["date_from"])
        if data.get("date_to"):
            documents = documents.filter(document_date__lte=data["date_to"])
        if data.get("amount_min") is not None:
            documents = documents.filter(total_amount__gte=data["amount_min"])
        if data.get("amount_max") is not None:
            documents = documents.filter(total_amount__lte=data["amount_max"])
        if data.get("confidence"):
            low, high = CONFIDENCE_BANDS[data["confidence"]]
            if low is not None:
                documents = documents.filter(overall_confidence__gte=low)
            if high is not None:
                documents = documents.filter(overall_confidence__lt=high)
        if data.get("mine"):
            documents = documents.filter(assigned_to=user)
        sort = data.get("sort") or "-created_at"
        name = sort.lstrip("-")
        if name not in NULLABLE_SORTS:
            # Plain ORDER BY created_at DESC: the created_at index serves the first page directly.
            return documents.order_by(sort, "-id")
        # Documents without a date or amount go last either way, not first as DESC would put them.
        primary = F(name).desc(nulls_last=True) if sort.startswith("-") else F(name).asc(nulls_last=True)
        return documents.order_by(primary, "-created_at", "id")

    def page_size(self) -> int:
        if self.is_bound:
            self.is_valid()
            return self.cleaned_data.get("per_page") or DEFAULT_PAGE_SIZE
        return DEFAULT_PAGE_SIZE

    def active_query(self) -> str:
        """The querystring of the filters set (no page): what a saved view stores and links keep."""
        from django.http import QueryDict

        query = QueryDict(mutable=True)
        if self.is_bound:
            for name in self.fields:
                value = self.data.get(name, "")
                if value not in ("", None):
                    query[name] = value
        return query.urlencode()
