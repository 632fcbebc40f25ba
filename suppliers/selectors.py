"""Reads about suppliers: what a document tells us about its supplier."""

import re

from documents.models import Document, OCRResult
from suppliers.matching import (
    match_supplier,
    name_key,
    normalize_email,
    normalize_tax_number,
    normalize_vat_id,
)
from suppliers.models import Supplier, normalize_iban


def document_field_values(document: Document) -> dict[str, str]:
    """The document's extracted fields by name, normalised value where there is one."""
    return {field.name: (field.normalized_value or field.value).strip() for field in document.fields.all()}


def document_text(document: Document) -> str:
    """The document's full text: its pages in order, else the current OCR result."""
    pages = [text for text in document.pages.order_by("page_number").values_list("text", flat=True) if text]
    if pages:
        return "\n".join(pages)
    result = OCRResult.objects.filter(document=document, is_current=True).order_by("-created_at").first()
    return result.text if result else ""


def document_sender_email(document: Document) -> str:
    """For documents that came by e-mail the reference is the sender's address; otherwise none."""
    if document.source != Document.Source.EMAIL:
        return ""
    return normalize_email(document.source_reference)


def supplier_prefill(fields: dict[str, str]) -> dict[str, str]:
    """Supplier master data as a document prints it (keys are ``Supplier`` fields)."""
    name = re.sub(r"\s+", " ", fields.get("supplier_name", "")).strip()
    return {
        "name": name,
        # The printed name is the legal name only when it carries the legal form.
        "legal_name": name if name_key(name).legal_forms else "",
        "vat_id": normalize_vat_id(fields.get("supplier_vat_id", "")),
        "tax_number": fields.get("supplier_tax_number", "").strip()
        if normalize_tax_number(fields.get("supplier_tax_number", ""))
        else "",
        "iban": normalize_iban(fields.get("iban", "")),
        "bic": "".join(fields.get("bic", "").split()).upper(),
    }


def supplier_suggestion(document: Document) -> dict[str, str] | None:
    """Pre-filled values for "Lieferant anlegen", or None when the document already has a
    supplier, a known supplier matches, or the document names none."""
    if document.supplier_id is not None and Supplier.objects.filter(pk=document.supplier_id).exists():
        return None
    fields = document_field_values(document)
    match = match_supplier(fields=fields, text=document_text(document), sender_email=document_sender_email(document))
    if match is not None:
        return None
    values = supplier_prefill(fields)
    if not any(values.values()):
        return None
    return values
