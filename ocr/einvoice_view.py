"""A readable page for a bare e-invoice (XML has no visual): what the reviewer sees beside the fields."""

import io

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from extraction.types import ExtractionResult

LABELS = [
    ("supplier_name", "Lieferant"),
    ("supplier_vat_id", "USt-IdNr."),
    ("supplier_tax_number", "Steuernummer"),
    ("invoice_number", "Rechnungsnummer"),
    ("invoice_date", "Rechnungsdatum"),
    ("due_date", "Fällig am"),
    ("delivery_date", "Leistungsdatum"),
    ("order_number", "Bestellnummer"),
    ("customer_number", "Kundennummer"),
    ("buyer_reference", "Leitweg-ID"),
    ("iban", "IBAN"),
    ("bic", "BIC"),
    ("net_amount", "Nettobetrag"),
    ("vat_amount", "Umsatzsteuer"),
    ("total_amount", "Gesamtbetrag"),
    ("currency", "Währung"),
]


def render_view(result: ExtractionResult, *, title: str) -> bytes:
    """One or more A4 pages listing the e-invoice's header fields and line items (with a text layer)."""
    buffer = io.BytesIO()
    sheet = canvas.Canvas(buffer, pagesize=A4)
    _width, height = A4
    y = height - 25 * mm

    def line(text: str, *, x=20 * mm, size=10, bold=False):
        nonlocal y
        if y < 20 * mm:
            sheet.showPage()
            y = height - 25 * mm
        sheet.setFont("Helvetica-Bold" if bold else "Helvetica", size)
        sheet.drawString(x, y, text)

    line(title, size=15, bold=True)
    y -= 6 * mm
    line("Ansicht der strukturierten Rechnungsdaten (das XML ist das Original).", size=8)
    y -= 10 * mm
    for name, label in LABELS:
        field = result.fields.get(name)
        if field is None:
            continue
        line(f"{label}:", bold=True)
        line(field.value or field.normalized, x=65 * mm)
        y -= 6 * mm
    if result.line_items:
        y -= 6 * mm
        line("Positionen", size=12, bold=True)
        y -= 7 * mm
        for item in result.line_items:
            description = str(item.get("description", ""))[:60]
            line(f"{item.get('position', '')}  {description}")
            line(f"{item.get('quantity', '')} {item.get('unit', '')}  {item.get('line_total', '')}", x=150 * mm)
            y -= 5.5 * mm
    sheet.save()
    return buffer.getvalue()
