"""Layouts D-I: one renderer, six styles that vary what extraction has to cope with.

Each :class:`LayoutStyle` picks label wordings (German or English), where values stand relative
to their labels (left of a right-aligned value, under the label, or in two columns), the date
format (31.12.2026, 31.12.26, 31. Dezember 2026, 2026-12-31), the amount format (1.234,56,
1234,56, € 1.234,56, 1.234,56 EUR), the totals wording, whether a credit note prints its amounts
with a minus sign, and whether invoices offer Skonto. Bank details always stand in the footer.

H and I are HELD OUT: no extraction rule may be tuned by looking at them; ``bench extraction``
reports them separately, as the figure for layouts nobody has seen.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics

from ablage.testing.german import format_amount, format_amount_as, format_date_as, format_quantity, format_rate
from ablage.testing.german import group_iban as grouped
from ablage.testing.invoice_pdf import _GREY, _LIGHT, PAGE_WIDTH_MM, _Column, _Renderer

if TYPE_CHECKING:
    from ablage.testing.invoices import InvoiceSpec


@dataclass(frozen=True)
class Wording:
    """Titles and header labels of one language variant."""

    titles: dict[str, str]
    number: dict[str, str]
    date: dict[str, str]
    customer: str
    order: str
    due: str
    delivery: str
    reference: str
    columns: tuple[str, str, str, str, str, str, str]  # pos, description, qty, unit, price, rate, total
    greeting: str
    english: bool = False


GERMAN = Wording(
    titles={"invoice": "Rechnung", "credit_note": "Gutschrift", "delivery_note": "Lieferschein"},
    number={"invoice": "Rechnungs-Nr.", "credit_note": "Gutschrift-Nr.", "delivery_note": "Lieferschein-Nr."},
    date={"invoice": "Rechnungsdatum", "credit_note": "Gutschriftsdatum", "delivery_note": "Lieferdatum"},
    customer="Kunden-Nr.",
    order="Bestell-Nr.",
    due="Zahlbar bis",
    delivery="Leistungsdatum",
    reference="Zu Rechnung",
    columns=("Pos.", "Artikel", "Anzahl", "ME", "Einzelpreis", "MwSt.", "Gesamtpreis"),
    greeting="Mit freundlichen Grüßen",
)
GERMAN_SHORT = Wording(
    titles={"invoice": "Rechnung", "credit_note": "Gutschrift", "delivery_note": "Lieferschein"},
    number={"invoice": "Rechnung Nr.", "credit_note": "Gutschrift Nr.", "delivery_note": "Lieferschein Nr."},
    date={"invoice": "Datum", "credit_note": "Datum", "delivery_note": "Datum"},
    customer="Kundennr.",
    order="Ihre Bestellung",
    due="Fällig am",
    delivery="Lieferdatum",
    reference="Bezug",
    columns=("Nr.", "Leistung", "Menge", "Einheit", "Preis", "USt", "Betrag EUR"),
    greeting="Freundliche Grüße",
)
ENGLISH = Wording(
    titles={"invoice": "Invoice", "credit_note": "Credit Note", "delivery_note": "Delivery Note"},
    number={"invoice": "Invoice No.", "credit_note": "Credit Note No.", "delivery_note": "Delivery Note No."},
    date={"invoice": "Invoice Date", "credit_note": "Date", "delivery_note": "Date"},
    customer="Customer No.",
    order="Order No.",
    due="Due Date",
    delivery="Delivery Date",
    reference="Invoice Ref.",
    columns=("Item", "Description", "Qty", "Unit", "Unit Price", "VAT", "Amount"),
    greeting="Kind regards",
    english=True,
)
# Held out (layout H): wordings no tuned layout uses.
GERMAN_BELEG = Wording(
    titles={"invoice": "Rechnung", "credit_note": "Gutschrift", "delivery_note": "Lieferschein"},
    number={"invoice": "Belegnummer", "credit_note": "Belegnummer", "delivery_note": "Belegnummer"},
    date={"invoice": "Belegdatum", "credit_note": "Belegdatum", "delivery_note": "Belegdatum"},
    customer="Kd.-Nr.",
    order="Auftrags-Nr.",
    due="Fälligkeit",
    delivery="Leistungstag",
    reference="Korrektur zu",
    columns=("Pos", "Leistungsbeschreibung", "Menge", "Einh.", "EP", "St.", "GP"),
    greeting="Mit freundlichen Grüßen",
)
# Held out (layout I).
ENGLISH_LONG = Wording(
    titles={"invoice": "Invoice", "credit_note": "Credit Note", "delivery_note": "Delivery Note"},
    number={"invoice": "Invoice Number", "credit_note": "Credit Note Number", "delivery_note": "Delivery Note No."},
    date={"invoice": "Invoice Date", "credit_note": "Issue Date", "delivery_note": "Date"},
    customer="Customer Number",
    order="Purchase Order",
    due="Payment Due",
    delivery="Service Date",
    reference="Original Invoice",
    columns=("No.", "Description", "Quantity", "Unit", "Price", "Tax", "Total"),
    greeting="Yours sincerely",
    english=True,
)


@dataclass(frozen=True)
class LayoutStyle:
    key: str
    summary: str
    family: str
    wording: Wording
    header: str  # "right": label left, value right-aligned | "above": value under label | "two_column"
    date_style: str
    amount_style: str
    totals: tuple[str, str, str]  # net, USt ("{rate}" placeholder), total
    credit_total: str
    letterhead: str = "left"  # "left" | "center" | "right"
    negative_credit: bool = False
    skonto: bool = False
    quantity_first: bool = False
    held_out: bool = False
    extra_lines: tuple[str, ...] = field(default=())


STYLES: dict[str, LayoutStyle] = {
    style.key: style
    for style in (
        LayoutStyle(
            "D", "English labels, info block right, ISO dates, 1.234,56 EUR", "liberation-sans", ENGLISH,
            "right", "iso", "eur_suffix", ("Subtotal", "VAT {rate} %", "Total"), "Credit Total",
        ),
        LayoutStyle(
            "E", "German, labels above values, 31.12.26, € 1.234,56, Skonto", "dejavu-sans", GERMAN,
            "above", "dmy2", "euro_prefix", ("Warenwert", "zzgl. USt. {rate} %", "Zu zahlen"), "Gutschriftsbetrag",
            letterhead="center", skonto=True,
        ),
        LayoutStyle(
            "F", "German, two-column header, 31. Dezember 2026, 1234,56, negative credit notes", "dejavu-serif",
            GERMAN_SHORT, "two_column", "long", "ungrouped",
            ("Nettosumme", "Mehrwertsteuer {rate} %", "Bruttosumme"), "Gutschriftsbetrag",
            negative_credit=True, quantity_first=True,
        ),
        LayoutStyle(
            "G", "English labels above values, 31.12.2026, 1.234,56 €, Skonto, negative credit notes", "dejavu-sans",
            ENGLISH, "above", "dmy", "euro_suffix", ("Net Total", "VAT {rate} %", "Amount Due"), "Total Credit",
            letterhead="right", negative_credit=True, skonto=True,
        ),
        LayoutStyle(
            "H", "HELD OUT: Beleg- wording, info block right, 31.12.26, 1.234,56 EUR, Skonto", "liberation-sans",
            GERMAN_BELEG, "right", "dmy2", "eur_suffix", ("Summe Positionen", "USt {rate} %", "Rechnungssumme"),
            "Gutschriftssumme", letterhead="right", skonto=True, held_out=True,
        ),
        LayoutStyle(
            "I", "HELD OUT: long English labels, two columns, ISO dates, € 1.234,56, negative credit notes",
            "dejavu-serif", ENGLISH_LONG, "two_column", "iso", "euro_prefix",
            ("Net Amount", "VAT {rate} %", "Total Amount"), "Credit Amount", negative_credit=True,
            quantity_first=True, held_out=True,
        ),
    )
}  # fmt: skip


class StyledLayout(_Renderer):
    """Draws a spec in one :class:`LayoutStyle`."""

    first_table_top = 122.0
    next_table_top = 30.0
    table_bottom = 256.0
    style: LayoutStyle

    def __init__(self, spec: "InvoiceSpec", canvas, style: LayoutStyle):
        self.style = style
        self.family = style.family
        super().__init__(spec, canvas)
        self.wording = style.wording

    # -- formats ------------------------------------------------------------------------------
    def date(self, value) -> str:
        return format_date_as(value, self.style.date_style)

    def amount(self, value: Decimal, *, signed: bool = False) -> str:
        if signed and self.spec.document_type == "credit_note" and self.style.negative_credit:
            value = -value
        return format_amount_as(value, self.style.amount_style)

    # -- page ---------------------------------------------------------------------------------
    def page_frame(self, number: int, total: int) -> None:
        s = self.spec.supplier
        if number == 1:
            x, align = {"left": (20, "left"), "center": (PAGE_WIDTH_MM / 2, "center"), "right": (190, "right")}[
                self.style.letterhead
            ]
            self.text(x, 18, s.name, size=15, bold=True, align=align)
            self.text(x, 24, f"{s.address.street} · {s.address.postal_code} {s.address.city}", size=8.5, align=align)
            contact = "Phone" if self.wording.english else "Tel."
            self.text(x, 28.5, f"{contact} {s.phone} · {s.email}", size=8.5, align=align)
        self.line(20, 268, 190, 268, width=0.4, color=_GREY)
        vat_label = "VAT ID" if self.wording.english else "USt-IdNr."
        tax_label = "Tax No." if self.wording.english else "Steuernummer"
        footer = (
            f"{s.name} · {s.address.street} · {s.address.postal_code} {s.address.city} · {s.register}",
            f"{vat_label}: {s.vat_id} · {tax_label}: {s.tax_number}",
            f"{s.bank_name} · IBAN: {grouped(s.iban)} · BIC: {s.bic}",
        )
        for offset, value in enumerate(footer):
            self.text(PAGE_WIDTH_MM / 2, 272 + offset * 3.7, value, size=7, align="center")
        page_word = "Page" if self.wording.english else "Seite"
        self.text(190, 287, f"{page_word} {number}/{total}", size=7, align="right")

    def intro(self) -> None:
        spec = self.spec
        self.text(20, 46, spec.supplier.address.one_line(), size=6.5)
        self.line(20, 47.2, 100, 47.2, width=0.3, color=_GREY)
        for offset, value in enumerate(spec.recipient.lines()):
            self.text(20, 54 + offset * 4.6, value, size=10)
        if spec.document_type == "letter":
            self.text(190, 54, self.date(spec.invoice_date), size=9.5, align="right")
            self.text(20, 100, spec.letter_subject, size=12, bold=True)
            return
        fields = self.header_fields()
        if self.style.header == "right":
            for offset, (label, value) in enumerate(fields):
                self.text(122, 54 + offset * 4.6, f"{label}:", size=9)
                self.text(190, 54 + offset * 4.6, value, size=9, align="right")
            self.text(20, 104, self.title(), size=14, bold=True)
        elif self.style.header == "above":
            self.text(20, 94, self.title().upper(), size=20, bold=True)
            width = 170 / len(fields)
            for index, (label, value) in enumerate(fields):
                x = 20 + index * width
                self.text(x, 102, label, size=7.5)
                self.fitted_text(x, 107.5, value, width, size=10)
            self.line(20, 110.5, 190, 110.5, width=0.3, color=_GREY)
        else:
            self.text(20, 90, self.title(), size=16, bold=True)
            half = (len(fields) + 1) // 2
            # Values start a little after the column's widest label, so no label touches its value.
            label_mm = max(pdfmetrics.stringWidth(f"{label}:", self.fonts.regular, 9) for label, _ in fields) / mm
            for index, (label, value) in enumerate(fields):
                x = 20 if index < half else 112
                y = 97 + (index if index < half else index - half) * 4.8
                self.text(x, y, f"{label}:", size=9)
                self.text(x + label_mm + 4, y, value, size=9)

    def title(self) -> str:
        return self.wording.titles[self.spec.document_type]

    def header_fields(self) -> list[tuple[str, str]]:
        spec, w = self.spec, self.wording
        kind = spec.document_type
        fields = [(w.number[kind], spec.invoice_number), (w.date[kind], self.date(spec.invoice_date))]
        fields.append((w.customer, spec.customer_number))
        fields.append((w.order, spec.order_number))
        if kind == "credit_note":
            fields.append((w.reference, spec.reference_invoice_number))
        if kind == "invoice":
            if spec.due_date_printed:
                fields.append((w.due, self.date(spec.due_date)))
            else:
                fields.append((w.delivery, self.date(spec.delivery_date)))
        return fields

    def continuation_header(self, number: int, total: int) -> None:
        page_word = "page" if self.wording.english else "Seite"
        self.text(20, 18, f"{self.title()} {self.spec.invoice_number} – {page_word} {number}/{total}", size=9.5)

    # -- table --------------------------------------------------------------------------------
    def columns(self) -> list[_Column]:
        pos, description, quantity, unit, price, rate, total = self.wording.columns
        if not self.with_prices:
            return [
                _Column(pos, 12, "left", lambda item: str(item.position)),
                _Column(description, 118, "left", lambda item: item.description),
                _Column(quantity, 25, "right", lambda item: format_quantity(item.quantity)),
                _Column(unit, 15, "left", lambda item: item.unit),
            ]
        columns = [
            _Column(pos, 10, "left", lambda item: str(item.position)),
            _Column(description, 72, "left", lambda item: item.description),
            _Column(quantity, 16, "right", lambda item: format_quantity(item.quantity)),
            _Column(unit, 13, "left", lambda item: item.unit),
            _Column(price, 22, "right", lambda item: format_amount(item.unit_price)),
            _Column(rate, 12, "right", lambda item: f"{format_rate(item.vat_rate)} %"),
            _Column(total, 25, "right", lambda item: format_amount(item.net_amount)),
        ]
        if self.style.quantity_first:
            columns = [columns[0], columns[2], columns[3], columns[1], *columns[4:]]
        return columns

    def table_row(self, y: float, item, index: int) -> float:
        if index % 2 and self.style.header == "above":
            self.rect(self.table_left, y, self.table_width(), self.row_height, fill=_LIGHT)
        return super().table_row(y, item, index)

    # -- closing ------------------------------------------------------------------------------
    def closing_height(self) -> float:
        if not self.with_prices:
            return 42
        return (len(self.spec.vat_groups) + 2) * 5.5 + 36

    def vat_label(self, rate: Decimal, base: Decimal, mixed: bool) -> str:
        label = self.style.totals[1].format(rate=format_rate(rate))
        if mixed:
            on = "on" if self.wording.english else "auf"
            label += f" {on} {self.amount(base, signed=True)}"
        return label

    def closing(self, y: float) -> None:
        spec = self.spec
        if spec.document_type == "letter":
            self.letter_body(110)
            return
        if spec.document_type == "delivery_note":
            self.delivery_closing(y)
            return
        right = self.table_left + self.table_width()
        self.line(112, y + 1, right, y + 1, width=0.5)
        y += 6
        groups = spec.vat_groups
        rows = [(self.style.totals[0], spec.net_amount)]
        rows += [(self.vat_label(g.rate, g.net_amount, len(groups) > 1), g.vat_amount) for g in groups]
        for label, amount in rows:
            self.text(112, y, label, size=9.5)
            self.text(right, y, self.amount(amount, signed=True), size=9.5, align="right")
            y += 5.5
        total_label = self.style.totals[2] if spec.document_type == "invoice" else self.style.credit_total
        self.text(112, y + 1, total_label, size=10.5, bold=True)
        self.text(right, y + 1, self.amount(spec.total_amount, signed=True), size=10.5, bold=True, align="right")
        self.line(112, y + 2.6, right, y + 2.6, width=0.6)
        y = self.wrapped_text(20, y + 12, self.terms(), 170, size=9.5, leading=5)
        self.text(20, y + 6, self.wording.greeting, size=9.5)
        self.text(20, y + 11, spec.supplier.name, size=9.5)

    def terms(self) -> str:
        spec, english = self.spec, self.wording.english
        if spec.document_type == "credit_note":
            reference = spec.reference_invoice_number
            if english:
                return f"The amount will be refunded to your account. Original invoice: {reference}."
            return f"Der Betrag wird Ihrem Konto gutgeschrieben. Bezug: Rechnung Nr. {reference}."
        skonto = ""
        if spec.skonto_rate is not None:
            rate = format_rate(spec.skonto_rate)
            amount = self.amount(spec.skonto_amount)
            skonto = (
                f" {rate} % discount ({amount}) if paid within {spec.skonto_days} days."
                if english
                else f" Bei Zahlung innerhalb {spec.skonto_days} Tagen {rate} % Skonto ({amount})."
            )
        if spec.due_date_printed:
            if english:
                return f"Please pay by {self.date(spec.due_date)} without deduction.{skonto}"
            return f"Bitte zahlen Sie bis zum {self.date(spec.due_date)} ohne Abzug.{skonto}"
        if english:
            return f"Payment due within {spec.payment_days} days net.{skonto}"
        return f"Zahlbar innerhalb {spec.payment_days} Tagen netto.{skonto}"


def styled_renderer(layout: str):
    style = STYLES[layout]
    return lambda spec, canvas: StyledLayout(spec, canvas, style)


CLASSIC_LAYOUTS = ("A", "B", "C")
ALL_LAYOUTS = CLASSIC_LAYOUTS + tuple(STYLES)
HELD_OUT_LAYOUTS = tuple(key for key, style in STYLES.items() if style.held_out)
TUNING_LAYOUTS = tuple(layout for layout in ALL_LAYOUTS if layout not in HELD_OUT_LAYOUTS)


def offers_skonto(layout: str) -> bool:
    return layout in STYLES and STYLES[layout].skonto
