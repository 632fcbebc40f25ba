"""The business fields shown in review, in the order a clerk reads an invoice."""

from django.utils.translation import gettext_lazy as _

FIELD_LABELS = {
    "supplier_name": _("Lieferant"),
    "invoice_number": _("Rechnungsnummer"),
    # The invoice a Gutschrift or Rechnungskorrektur refers to; never the document's own number.
    "reference_invoice_number": _("Bezugsrechnung"),
    "invoice_date": _("Rechnungsdatum"),
    "due_date": _("Fällig am"),
    "delivery_date": _("Leistungsdatum"),
    "order_number": _("Bestellnummer"),
    "customer_number": _("Kundennummer"),
    "supplier_vat_id": _("USt-IdNr."),
    "supplier_tax_number": _("Steuernummer"),
    "iban": _("IBAN"),
    "bic": _("BIC"),
    "net_amount": _("Nettobetrag"),
    "vat_rate": _("USt-Satz"),
    "vat_amount": _("Umsatzsteuer"),
    "total_amount": _("Gesamtbetrag"),
    "currency": _("Währung"),
}

# Shown in the review form even when extraction found nothing, so the clerk can fill them in.
CORE_FIELDS = [
    "supplier_name",
    "invoice_number",
    "invoice_date",
    "due_date",
    "supplier_vat_id",
    "iban",
    "net_amount",
    "vat_amount",
    "total_amount",
    "currency",
]

# Review form sections, in reading order; a field in none of them lands in "Weitere Angaben".
FIELD_GROUPS = [
    (
        "header",
        _("Beleg"),
        [
            "invoice_number",
            "reference_invoice_number",
            "invoice_date",
            "due_date",
            "delivery_date",
            "order_number",
            "customer_number",
        ],
    ),
    ("supplier", _("Lieferant"), ["supplier_name", "supplier_vat_id", "supplier_tax_number"]),
    ("amounts", _("Beträge"), ["net_amount", "vat_rate", "vat_amount", "total_amount", "currency"]),
    ("payment", _("Zahlung"), ["iban", "bic"]),
]

# Fields a document of a type without amounts (Lieferschein, Vertrag, Brief, Formular) does not
# carry: a correction there would book money that the document does not show.
AMOUNT_AND_PAYMENT_FIELDS = frozenset(
    {"due_date", "iban", "bic", "net_amount", "vat_rate", "vat_amount", "total_amount", "currency"}
)
TYPES_WITHOUT_AMOUNTS = frozenset({"delivery_note", "contract", "letter", "form"})


def field_schema(document_type: str) -> tuple[str, ...]:
    """The business fields a document of ``document_type`` may have, in reading order.

    The same vocabulary as extraction rules (``extraction.rules.RULE_FIELDS``); corrections
    outside it are refused (``documents.services.document_update_fields``).
    """
    if document_type in TYPES_WITHOUT_AMOUNTS:
        return tuple(name for name in FIELD_LABELS if name not in AMOUNT_AND_PAYMENT_FIELDS)
    return tuple(FIELD_LABELS)
