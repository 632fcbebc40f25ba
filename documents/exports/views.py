"""The export page: choose period, status, type and format; the browser downloads the file."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from ablage.errors import ApplicationError
from documents.exports import services
from documents.exports.api import _download
from documents.models import Document
from documents.selectors import visible_documents

FORMAT_CHOICES = [
    ("csv", _("CSV (Excel, deutsch)")),
    ("xlsx", "Excel (XLSX)"),
    ("json", "JSON"),
    ("xml", "XML"),
    ("parquet", "Parquet"),
    ("zip", _("ZIP mit Originalen")),
    ("datev", _("DATEV-Buchungsstapel mit Belegbildern")),
]


class ExportForm(forms.Form):
    format = forms.ChoiceField(label=_("Format"), choices=FORMAT_CHOICES)
    date_from = forms.DateField(
        label=_("Belegdatum von"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(label=_("bis"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("alle")), *Document.Status.choices])
    document_type = forms.ChoiceField(
        label=_("Dokumenttyp"), required=False, choices=[("", _("alle")), *Document.DocumentType.choices]
    )


@login_required
def export_page(request):
    form = ExportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = {key: value for key, value in form.cleaned_data.items() if value}
        documents = services.documents_select(visible_documents(request.user), filters=data)
        selection = {key: str(value) for key, value in data.items() if key != "format"}
        try:
            export = services.export_create(
                user=request.user, documents=documents, fmt=data["format"], selection=selection
            )
        except ApplicationError as refusal:
            messages.error(request, refusal.message)
        else:
            return _download(export)
    return render(request, "documents/export.html", {"form": form})
