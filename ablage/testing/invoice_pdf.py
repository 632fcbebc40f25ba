"""Born-digital PDFs of an ``InvoiceSpec``: the three classic German layouts and the renderer base.

A - classic DIN 5008 business letter (Form B): letterhead top left, address window, info
    block on the right with "Rechnungsnummer:" etc., totals "Nettobetrag / zzgl. 19 % MwSt. /
    Gesamtbetrag", three-column footer with bank and USt-IdNr., "Übertrag" across pages.
B - modern: big "RECHNUNG" title, labels above values in a header grid, shaded table, totals
    "Summe netto / Umsatzsteuer 19 % / Rechnungsbetrag", IBAN in a payment box.
C - compact craftsman style: "Rechnung Nr. 2026-0815 vom 03.11.2026" in one line,
    "Zwischensumme / MwSt. / Endbetrag", bank details inline ("IBAN: DE... BIC: ...").

Layouts D-I (``styled_layouts``) build on ``_Renderer`` here and vary wording and formats.

Drawn directly on a reportlab canvas so every position is ours to choose; ``invariant``
mode makes the bytes depend on the spec alone (no timestamps or random document ids).
"""

import functools
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from reportlab.lib.colors import Color, black, white
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from ablage.testing.german import format_amount, format_date, format_quantity, format_rate, group_iban

if TYPE_CHECKING:
    from ablage.testing.invoices import InvoiceSpec, LineItem

# The classic three; earlier benchmarks and tests are pinned to them (see styled_layouts.ALL_LAYOUTS).
LAYOUTS = ("A", "B", "C")

PAGE_WIDTH, PAGE_HEIGHT = A4
PAGE_WIDTH_MM = PAGE_WIDTH / mm
PAGE_HEIGHT_MM = PAGE_HEIGHT / mm

_FONT_DIRS = ("/usr/share/fonts/truetype/liberation", "/usr/share/fonts/truetype/dejavu")
# family -> (regular file, bold file, fallback regular, fallback bold)
_FONT_FILES = {
    "liberation-sans": ("LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf", "Helvetica", "Helvetica-Bold"),
    "dejavu-sans": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "Helvetica", "Helvetica-Bold"),
    "dejavu-serif": ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "Times-Roman", "Times-Bold"),
}

_GREY = Color(0.42, 0.42, 0.42)
_LIGHT = Color(0.93, 0.94, 0.96)
_ACCENT = Color(0.11, 0.23, 0.42)


@dataclass(frozen=True)
class _Fonts:
    regular: str
    bold: str


@functools.cache
def _fonts(family: str) -> _Fonts:
    """Register a TrueType family once; fall back to the PDF base-14 fonts when it is missing.

    TrueType matters for the text layer: reportlab embeds a ToUnicode map for it, so umlauts,
    "ß", "€" and "„“" read back exactly from the born-digital PDF.
    """
    regular_file, bold_file, fallback_regular, fallback_bold = _FONT_FILES[family]
    paths = {}
    for filename in (regular_file, bold_file):
        found = [os.path.join(d, filename) for d in _FONT_DIRS if os.path.exists(os.path.join(d, filename))]
        if not found:
            return _Fonts(fallback_regular, fallback_bold)
        paths[filename] = found[0]
    regular, bold = f"Ablage-{family}", f"Ablage-{family}-Bold"
    pdfmetrics.registerFont(TTFont(regular, paths[regular_file]))
    pdfmetrics.registerFont(TTFont(bold, paths[bold_file]))
    return _Fonts(regular, bold)


@dataclass(frozen=True)
class _Column:
    header: str
    width: float  # mm
    align: str  # "left" | "right"
    value: Callable[["LineItem"], str]


@dataclass(frozen=True)
class _Words:
    """What a document type calls itself and its number/date/total."""

    title: str
    number_label: str
    date_label: str
    total_label: str


_WORDS = {
    "invoice": _Words("Rechnung", "Rechnungsnummer", "Rechnungsdatum", "Gesamtbetrag"),
    "credit_note": _Words("Gutschrift", "Gutschriftsnummer", "Gutschriftsdatum", "Gutschriftsbetrag"),
    "delivery_note": _Words("Lieferschein", "Lieferscheinnummer", "Datum", ""),
    "letter": _Words("", "", "Datum", ""),
}


class _Renderer:
    """Common page mechanics; subclasses draw the parts that make a layout recognisable."""

    family = "dejavu-sans"
    row_height = 6.0
    first_table_top = 120.0
    next_table_top = 32.0
    table_bottom = 255.0
    table_left = 20.0
    carries_forward = False  # prints "Übertrag" at page breaks

    def __init__(self, spec: "InvoiceSpec", canvas: Canvas):
        self.spec = spec
        self.canvas = canvas
        self.fonts = _fonts(self.family)
        self.words = _WORDS[spec.document_type]
        self.with_prices = spec.is_billing

    # -- primitives (y in mm from the top edge, as a ruler on paper measures it) --------------
    def text(self, x: float, y: float, value: str, *, size: float = 9, bold: bool = False, align: str = "left"):
        font = self.fonts.bold if bold else self.fonts.regular
        self.canvas.setFont(font, size)
        px, py = x * mm, PAGE_HEIGHT - y * mm
        if align == "right":
            self.canvas.drawRightString(px, py, value)
        elif align == "center":
            self.canvas.drawCentredString(px, py, value)
        else:
            self.canvas.drawString(px, py, value)

    def fitted_text(self, x: float, y: float, value: str, width: float, *, size: float = 9, align: str = "left"):
        # Shrink rather than truncate: the ground truth holds the whole description.
        while size > 5 and pdfmetrics.stringWidth(value, self.fonts.regular, size) > (width - 1.5) * mm:
            size -= 0.25
        self.text(x, y, value, size=size, align=align)

    def wrapped_text(self, x: float, y: float, value: str, width: float, *, size: float = 9, leading: float = 4.5):
        """Flow ``value`` into lines no wider than ``width`` mm; returns the y below the last line."""
        lines, current = [], ""
        for word in value.split():
            candidate = f"{current} {word}".strip()
            if current and pdfmetrics.stringWidth(candidate, self.fonts.regular, size) > width * mm:
                lines.append(current)
                current = word
            else:
                current = candidate
        if current:
            lines.append(current)
        for line in lines:
            self.text(x, y, line, size=size)
            y += leading
        return y

    def line(self, x1: float, y1: float, x2: float, y2: float, *, width: float = 0.5, color=black):
        self.canvas.setStrokeColor(color)
        self.canvas.setLineWidth(width)
        self.canvas.line(x1 * mm, PAGE_HEIGHT - y1 * mm, x2 * mm, PAGE_HEIGHT - y2 * mm)
        self.canvas.setStrokeColor(black)

    def rect(self, x: float, y: float, w: float, h: float, *, fill=None, stroke=None, radius: float = 0):
        c = self.canvas
        if fill is not None:
            c.setFillColor(fill)
        if stroke is not None:
            c.setStrokeColor(stroke)
        args = (x * mm, PAGE_HEIGHT - (y + h) * mm, w * mm, h * mm)
        if radius:
            c.roundRect(*args, radius * mm, stroke=int(stroke is not None), fill=int(fill is not None))
        else:
            c.rect(*args, stroke=int(stroke is not None), fill=int(fill is not None))
        c.setFillColor(black)
        c.setStrokeColor(black)

    # -- document -----------------------------------------------------------------------------
    def render(self) -> None:
        pages = self.paginate()
        total_pages = len(pages)
        carried = Decimal("0")
        for number, rows in enumerate(pages, start=1):
            self.page_frame(number, total_pages)
            if number == 1:
                self.intro()
                y = self.first_table_top
            else:
                self.continuation_header(number, total_pages)
                y = self.next_table_top
            if self.spec.document_type != "letter":
                y = self.table_header(y)
                if number > 1 and self.carries_forward and self.with_prices:
                    y = self.carry_row(y, carried, "Übertrag von Seite " + str(number - 1))
                for row_index, item in enumerate(rows):
                    y = self.table_row(y, item, row_index)
                    carried += item.net_amount
            if number < total_pages:
                if self.carries_forward and self.with_prices:
                    self.carry_row(y, carried, "Übertrag auf Seite " + str(number + 1))
                self.page_break_note(number + 1)
            else:
                self.closing(y)
            self.canvas.showPage()

    def paginate(self) -> list[list["LineItem"]]:
        """Split line items into pages; the last page keeps room for totals and closing text."""
        items = list(self.spec.line_items)
        extra = self.row_height if self.carries_forward and self.with_prices else 0
        pages: list[list[LineItem]] = []
        top = self.first_table_top
        while True:
            room = self.table_bottom - top - self.header_height() - (extra if pages else 0)
            if len(items) * self.row_height + self.closing_height() <= room:
                pages.append(items)
                return pages
            fits = int((room - extra) // self.row_height)
            # Keep at least one position for the page that carries the totals.
            take = max(1, min(fits, len(items) - 1))
            pages.append(items[:take])
            items = items[take:]
            top = self.next_table_top

    def columns(self) -> list[_Column]:
        if not self.with_prices:
            return [
                _Column("Pos.", 12, "left", lambda item: str(item.position)),
                _Column("Bezeichnung", 118, "left", lambda item: item.description),
                _Column("Menge", 25, "right", lambda item: format_quantity(item.quantity)),
                _Column("Einheit", 15, "left", lambda item: item.unit),
            ]
        return [
            _Column("Pos.", 10, "left", lambda item: str(item.position)),
            _Column("Bezeichnung", 72, "left", lambda item: item.description),
            _Column("Menge", 16, "right", lambda item: format_quantity(item.quantity)),
            _Column("Einheit", 13, "left", lambda item: item.unit),
            _Column("Einzelpreis", 22, "right", lambda item: format_amount(item.unit_price)),
            _Column("USt.", 12, "right", lambda item: f"{format_rate(item.vat_rate)} %"),
            _Column("Gesamt (EUR)", 25, "right", lambda item: format_amount(item.net_amount)),
        ]

    def header_height(self) -> float:
        return self.row_height + 2

    def cell_anchors(self) -> list[tuple[_Column, float]]:
        """Where each column's text starts (left) or ends (right), 1 mm inside the cell."""
        anchors, x = [], self.table_left
        for column in self.columns():
            anchors.append((column, x + column.width - 1 if column.align == "right" else x + 1))
            x += column.width
        return anchors

    def table_header(self, y: float) -> float:
        for column, anchor in self.cell_anchors():
            self.text(anchor, y + 4, column.header, size=8.5, bold=True, align=column.align)
        right = self.table_left + self.table_width()
        self.line(self.table_left, y + 6, right, y + 6, width=0.8)
        return y + self.header_height()

    def table_row(self, y: float, item: "LineItem", index: int) -> float:
        for column, anchor in self.cell_anchors():
            self.fitted_text(anchor, y + 4, column.value(item), column.width, align=column.align)
        return y + self.row_height

    def table_width(self) -> float:
        return sum(column.width for column in self.columns())

    def carry_row(self, y: float, amount: Decimal, label: str) -> float:
        right = self.table_left + self.table_width()
        self.text(right - 30, y + 4, label, size=8.5, bold=True, align="right")
        self.text(right, y + 4, format_amount(amount), size=8.5, bold=True, align="right")
        return y + self.row_height

    def page_break_note(self, next_page: int) -> None:
        self.text(
            self.table_left + self.table_width(),
            self.table_bottom + 6,
            f"Fortsetzung auf Seite {next_page}",
            size=8,
            align="right",
        )

    def vat_rows(self, template: str) -> list[tuple[str, Decimal]]:
        groups = self.spec.vat_groups
        mixed = len(groups) > 1
        rows = []
        for group in groups:
            label = template.format(rate=format_rate(group.rate))
            if mixed:
                label += f" auf {format_amount(group.net_amount)}"
            rows.append((label, group.vat_amount))
        return rows

    def payment_sentence(self) -> str:
        spec = self.spec
        if spec.document_type == "credit_note":
            return (
                f"Den Gutschriftsbetrag überweisen wir innerhalb von {spec.payment_days} Tagen auf Ihr Konto. "
                f"Bezug: Rechnung Nr. {spec.reference_invoice_number}."
            )
        if spec.due_date_printed:
            return f"Fällig am {format_date(spec.due_date)} ohne Abzug."
        return f"Zahlbar innerhalb {spec.payment_days} Tagen ohne Abzug."

    def letter_body(self, y: float) -> float:
        self.text(self.table_left, y, "Sehr geehrte Damen und Herren,", size=10)
        y += 9
        for paragraph in self.spec.letter_paragraphs:
            y = self.wrapped_text(self.table_left, y, paragraph, 165, size=10, leading=5) + 4
        self.text(self.table_left, y + 2, "Mit freundlichen Grüßen", size=10)
        self.text(self.table_left, y + 14, self.spec.supplier.managing_director, size=10)
        return y + 20

    def delivery_closing(self, y: float) -> None:
        self.text(self.table_left, y + 10, f"Lieferdatum: {format_date(self.spec.delivery_date)}", size=9)
        self.text(self.table_left, y + 16, "Ware vollständig und in einwandfreiem Zustand erhalten.", size=9)
        self.line(self.table_left, y + 32, self.table_left + 70, y + 32, width=0.4)
        self.text(self.table_left, y + 36, "Datum, Unterschrift Empfänger", size=7.5)

    # -- hooks ------------------------------------------------------------------------------
    def page_frame(self, number: int, total: int) -> None:
        raise NotImplementedError

    def intro(self) -> None:
        raise NotImplementedError

    def continuation_header(self, number: int, total: int) -> None:
        raise NotImplementedError

    def closing(self, y: float) -> None:
        raise NotImplementedError

    def closing_height(self) -> float:
        raise NotImplementedError


class _ClassicLayout(_Renderer):
    """Layout A: DIN 5008 Form B business letter."""

    family = "liberation-sans"
    first_table_top = 118.0
    next_table_top = 30.0
    table_bottom = 258.0
    carries_forward = True

    def page_frame(self, number: int, total: int) -> None:
        s = self.spec.supplier
        if number == 1:
            self.text(20, 17, s.name, size=15, bold=True)
            self.text(20, 23, f"{s.address.street} · {s.address.postal_code} {s.address.city}", size=9)
            self.text(190, 17, f"Telefon {s.phone}", size=8.5, align="right")
            self.text(190, 21.5, s.email, size=8.5, align="right")
        self.line(20, 270, 190, 270, width=0.4, color=_GREY)
        columns = (
            (20, [s.name, s.address.street, f"{s.address.postal_code} {s.address.city}", s.register]),
            (
                80,
                [
                    s.bank_name,
                    f"IBAN: {group_iban(s.iban)}",
                    f"BIC: {s.bic}",
                    f"Geschäftsführung: {s.managing_director}",
                ],
            ),
            (145, [f"USt-IdNr.: {s.vat_id}", f"Steuernr.: {s.tax_number}", f"Seite {number} von {total}"]),
        )
        for x, lines in columns:
            for offset, value in enumerate(lines):
                self.text(x, 274 + offset * 3.6, value, size=7)

    def intro(self) -> None:
        spec, s = self.spec, self.spec.supplier
        # Anschriftfeld (Form B): starts 45 mm from the top; 5 mm return line, then the address.
        self.text(20, 49, s.address.one_line(), size=7)
        self.line(20, 50.2, 105, 50.2, width=0.3, color=_GREY)
        for offset, value in enumerate(spec.recipient.lines()):
            self.text(20, 63 + offset * 4.6, value, size=10.5)

        if spec.document_type == "letter":
            self.text(125, 55, f"Datum: {format_date(spec.invoice_date)}", size=9)
            self.text(125, 59.5, f"Kundennummer: {spec.customer_number}", size=9)
            self.text(20, 103.5, spec.letter_subject, size=11.5, bold=True)
            return
        info = [
            (f"{self.words.number_label}:", spec.invoice_number),
            (f"{self.words.date_label}:", format_date(spec.invoice_date)),
            ("Kundennummer:", spec.customer_number),
            ("Bestellnummer:", spec.order_number),
        ]
        if spec.document_type == "invoice":
            info.append(("Leistungsdatum:", format_date(spec.delivery_date)))
        if spec.document_type == "credit_note":
            info.append(("Zu Rechnung:", spec.reference_invoice_number))
        for offset, (label, value) in enumerate(info):
            self.text(125, 55 + offset * 4.5, label, size=9)
            self.text(190, 55 + offset * 4.5, value, size=9, align="right")
        self.text(20, 103.5, self.words.title, size=12, bold=True)
        lead = {
            "invoice": "für unsere Lieferungen und Leistungen berechnen wir Ihnen:",
            "credit_note": "wir schreiben Ihnen folgende Positionen gut:",
            "delivery_note": "wir liefern Ihnen heute folgende Waren:",
        }[spec.document_type]
        self.text(20, 110, f"Sehr geehrte Damen und Herren, {lead}", size=9.5)

    def continuation_header(self, number: int, total: int) -> None:
        label = self.words.title or "Schreiben"
        self.text(20, 18, f"{label} {self.spec.invoice_number} vom {format_date(self.spec.invoice_date)}", size=9)
        self.text(190, 18, f"Seite {number} von {total}", size=9, align="right")

    def closing_height(self) -> float:
        if not self.with_prices:
            return 42
        return (len(self.spec.vat_groups) + 2) * 5.5 + 34

    def closing(self, y: float) -> None:
        spec = self.spec
        if spec.document_type == "letter":
            self.letter_body(113)
            return
        if spec.document_type == "delivery_note":
            self.delivery_closing(y)
            return
        right = self.table_left + self.table_width()
        self.line(115, y + 1, right, y + 1, width=0.5)
        y += 6
        rows = [("Nettobetrag", spec.net_amount), *self.vat_rows("zzgl. {rate} % MwSt.")]
        for label, amount in rows:
            self.text(115, y, label, size=9.5)
            self.text(right, y, f"{format_amount(amount)} €", size=9.5, align="right")
            y += 5.5
        self.line(115, y - 3.8, right, y - 3.8, width=0.5)
        self.text(115, y + 1, self.words.total_label, size=10.5, bold=True)
        self.text(right, y + 1, f"{format_amount(spec.total_amount)} €", size=10.5, bold=True, align="right")
        y = self.wrapped_text(20, y + 12, self.payment_sentence(), 170, size=9.5, leading=5)
        if spec.document_type == "invoice":
            self.text(20, y, "Bitte geben Sie bei Zahlung die Rechnungsnummer als Verwendungszweck an.", size=9.5)
        self.text(20, y + 9, "Mit freundlichen Grüßen", size=9.5)
        self.text(20, y + 14, spec.supplier.name, size=9.5)


class _ModernLayout(_Renderer):
    """Layout B: title, header grid with labels above values, shaded table, payment box."""

    family = "dejavu-sans"
    first_table_top = 122.0
    next_table_top = 34.0
    table_bottom = 262.0

    def page_frame(self, number: int, total: int) -> None:
        s = self.spec.supplier
        self.rect(0, 0, PAGE_WIDTH_MM, 6, fill=_ACCENT)
        if number == 1:
            self.text(190, 20, s.name, size=13, bold=True, align="right")
            self.text(190, 25, s.address.street, size=8.5, align="right")
            self.text(190, 29, f"{s.address.postal_code} {s.address.city}", size=8.5, align="right")
            self.text(190, 33, f"{s.phone} · {s.email}", size=8.5, align="right")
        footer = (
            f"{s.name} · {s.address.street} · {s.address.postal_code} {s.address.city} · USt-IdNr. {s.vat_id}",
            f"Steuernummer {s.tax_number} · {s.register} · {s.managing_director}",
        )
        for offset, value in enumerate(footer):
            self.text(PAGE_WIDTH_MM / 2, 280 + offset * 3.8, value, size=7, align="center")
        self.text(190, 290, f"Seite {number} / {total}", size=7, align="right")

    def intro(self) -> None:
        spec = self.spec
        self.text(20, 47, spec.supplier.address.one_line(), size=6.5)
        for offset, value in enumerate(spec.recipient.lines()):
            self.text(20, 55 + offset * 4.6, value, size=10)
        if spec.document_type == "letter":
            self.text(190, 95, format_date(spec.invoice_date), size=9.5, align="right")
            self.text(20, 100, spec.letter_subject, size=15, bold=True)
            return
        self.text(20, 92, self.words.title.upper(), size=26, bold=True)
        cells = [
            (
                {"invoice": "Rechnung Nr.", "delivery_note": "Lieferschein Nr."}.get(
                    spec.document_type, self.words.number_label
                ),
                spec.invoice_number,
            ),
            ("Datum", format_date(spec.invoice_date)),
            ("Kundennummer", spec.customer_number),
        ]
        if spec.document_type == "credit_note":
            cells.append(("Zu Rechnung", spec.reference_invoice_number))
        else:
            cells.append(("Bestellnummer", spec.order_number))
        if spec.document_type == "invoice" and spec.due_date_printed:
            cells.append(("Fällig am", format_date(spec.due_date)))
        width = 170 / len(cells)
        for index, (label, value) in enumerate(cells):
            x = 20 + index * width
            self.text(x, 101, label, size=7.5)
            self.fitted_text(x, 106.5, value, width, size=10.5)
        self.line(20, 110, 190, 110, width=0.3, color=_GREY)

    def continuation_header(self, number: int, total: int) -> None:
        title = self.words.title.upper()
        self.text(20, 20, f"{title} {self.spec.invoice_number} (Fortsetzung)", size=12, bold=True)

    def columns(self) -> list[_Column]:
        if not self.with_prices:
            return super().columns()
        return [
            _Column("#", 8, "left", lambda item: str(item.position)),
            _Column("Beschreibung", 76, "left", lambda item: item.description),
            _Column("Menge", 15, "right", lambda item: format_quantity(item.quantity)),
            _Column("Einheit", 13, "left", lambda item: item.unit),
            _Column("Preis", 22, "right", lambda item: format_amount(item.unit_price)),
            _Column("USt.", 12, "right", lambda item: f"{format_rate(item.vat_rate)} %"),
            _Column("Betrag €", 24, "right", lambda item: format_amount(item.net_amount)),
        ]

    def table_header(self, y: float) -> float:
        self.rect(self.table_left, y, self.table_width(), self.row_height + 1, fill=_ACCENT)
        for column, anchor in self.cell_anchors():
            # text() leaves the fill colour alone, rect() resets it to black.
            self.canvas.setFillColor(white)
            self.text(anchor, y + 4.6, column.header, size=8.5, bold=True, align=column.align)
        self.canvas.setFillColor(black)
        return y + self.header_height()

    def table_row(self, y: float, item: "LineItem", index: int) -> float:
        if index % 2:
            self.rect(self.table_left, y, self.table_width(), self.row_height, fill=_LIGHT)
        for column, anchor in self.cell_anchors():
            self.fitted_text(anchor, y + 4.2, column.value(item), column.width, size=8.8, align=column.align)
        return y + self.row_height

    def closing_height(self) -> float:
        if not self.with_prices:
            return 42
        return max(44, (len(self.spec.vat_groups) + 2) * 6 + 14)

    def closing(self, y: float) -> None:
        spec, s = self.spec, self.spec.supplier
        if spec.document_type == "letter":
            self.letter_body(112)
            return
        if spec.document_type == "delivery_note":
            self.delivery_closing(y)
            return
        y += 5
        right = 190
        rows = [("Summe netto", spec.net_amount), *self.vat_rows("Umsatzsteuer {rate} %")]
        top = y
        for label, amount in rows:
            self.text(113, y + 4, label, size=8.5)
            self.text(right - 2, y + 4, format_amount(amount) + " €", size=8.5, align="right")
            y += 6
        total_label = "Rechnungsbetrag" if spec.document_type == "invoice" else self.words.total_label
        # A tinted box with dark text: white-on-dark totals vanish from greyscale scans, and
        # the total is the one figure every reader of the document needs.
        self.rect(111, y, right - 111, 9, fill=_LIGHT)
        self.line(111, y, right, y, width=1.2, color=_ACCENT)
        self.canvas.setFillColor(_ACCENT)
        self.text(113, y + 6, total_label, size=10.5, bold=True)
        self.canvas.setFillColor(_ACCENT)
        self.text(right - 2, y + 6, format_amount(spec.total_amount) + " €", size=10.5, bold=True, align="right")
        self.canvas.setFillColor(black)

        # Payment box beside the totals.
        self.rect(20, top, 88, 40, stroke=_GREY, radius=2)
        box = [
            ("Zahlungsinformationen", True),
            (f"Empfänger: {s.name}", False),
            (f"IBAN: {group_iban(s.iban)}", False),
            (f"BIC: {s.bic} · {s.bank_name}", False),
            (f"Verwendungszweck: {spec.invoice_number}", False),
        ]
        for offset, (value, bold) in enumerate(box):
            if bold:
                self.text(23, top + 6, value, size=9.5, bold=True)
            else:
                self.fitted_text(23, top + 6 + offset * 5, value, 84, size=8.5)
        self.wrapped_text(23, top + 31, self.payment_sentence(), 82, size=8, leading=3.6)


class _CompactLayout(_Renderer):
    """Layout C: craftsman's invoice, headline with number and date in one line."""

    family = "dejavu-serif"
    first_table_top = 84.0
    next_table_top = 26.0
    table_bottom = 265.0
    row_height = 5.5

    def page_frame(self, number: int, total: int) -> None:
        s = self.spec.supplier
        if number == 1:
            self.text(PAGE_WIDTH_MM / 2, 16, s.name, size=16, bold=True, align="center")
            self.text(
                PAGE_WIDTH_MM / 2,
                21.5,
                f"{s.address.street} · {s.address.postal_code} {s.address.city} · Tel. {s.phone}",
                size=8,
                align="center",
            )
            self.line(20, 24, 190, 24, width=1.0)
        self.line(20, 276, 190, 276, width=0.4)
        self.text(
            20,
            280,
            f"Bankverbindung: {s.bank_name} · IBAN: {s.iban} BIC: {s.bic} · {s.email}",
            size=7.5,
        )
        self.text(20, 284, f"USt-IdNr. {s.vat_id}, St.-Nr. {s.tax_number} · {s.register}", size=7.5)
        self.text(190, 284, f"Blatt {number}", size=7.5, align="right")

    def intro(self) -> None:
        spec = self.spec
        for offset, value in enumerate(spec.recipient.lines()):
            self.text(20, 36 + offset * 4.4, value, size=10)
        if spec.document_type == "letter":
            self.text(
                190, 36, f"{spec.supplier.address.city}, {format_date(spec.invoice_date)}", size=9.5, align="right"
            )
            self.text(20, 66, f"Betreff: {spec.letter_subject}", size=11, bold=True)
            return
        head = {
            "invoice": "Rechnung Nr.",
            "credit_note": "Gutschriftsnummer",
            "delivery_note": "Lieferschein Nr.",
        }[spec.document_type]
        self.text(20, 66, f"{head} {spec.invoice_number} vom {format_date(spec.invoice_date)}", size=12.5, bold=True)
        extra = f"Kundennr.: {spec.customer_number} · Ihre Bestellung: {spec.order_number}"
        if spec.document_type == "credit_note":
            extra += f" · zu Rechnung {spec.reference_invoice_number}"
        self.text(20, 72, extra, size=9)
        lead = {
            "invoice": "Für die ausgeführten Arbeiten und Lieferungen erlauben wir uns zu berechnen:",
            "credit_note": "Wir schreiben Ihnen gut:",
            "delivery_note": "Wir lieferten Ihnen:",
        }[spec.document_type]
        self.text(20, 79, lead, size=9)

    def continuation_header(self, number: int, total: int) -> None:
        label = self.words.title or "Schreiben"
        self.text(20, 16, f"{label} Nr. {self.spec.invoice_number} – Blatt {number} von {total}", size=9.5, bold=True)

    def columns(self) -> list[_Column]:
        if not self.with_prices:
            return super().columns()
        return [
            _Column("Pos", 9, "left", lambda item: str(item.position)),
            _Column("Menge", 14, "right", lambda item: format_quantity(item.quantity)),
            _Column("Einh.", 12, "left", lambda item: item.unit),
            _Column("Text", 82, "left", lambda item: item.description),
            _Column("E-Preis", 19, "right", lambda item: format_amount(item.unit_price)),
            _Column("MwSt", 12, "right", lambda item: f"{format_rate(item.vat_rate)}%"),
            _Column("G-Preis", 22, "right", lambda item: format_amount(item.net_amount)),
        ]

    def table_row(self, y: float, item: "LineItem", index: int) -> float:
        y = super().table_row(y, item, index)
        self.line(self.table_left, y, self.table_left + self.table_width(), y, width=0.2, color=_GREY)
        return y

    def closing_height(self) -> float:
        if not self.with_prices:
            return 42
        return (len(self.spec.vat_groups) + 2) * 5 + 24

    def closing(self, y: float) -> None:
        spec = self.spec
        if spec.document_type == "letter":
            self.letter_body(75)
            return
        if spec.document_type == "delivery_note":
            self.delivery_closing(y)
            return
        right = self.table_left + self.table_width()
        y += 5
        rows = [("Zwischensumme", spec.net_amount), *self.vat_rows("MwSt. {rate} %")]
        for label, amount in rows:
            self.text(112, y, label, size=9.5)
            self.text(right, y, format_amount(amount), size=9.5, align="right")
            y += 5
        total_label = "Endbetrag EUR" if spec.document_type == "invoice" else f"{self.words.total_label} EUR"
        self.text(112, y + 1, total_label, size=11, bold=True)
        self.text(right, y + 1, format_amount(spec.total_amount), size=11, bold=True, align="right")
        self.line(165, y + 2.5, right, y + 2.5, width=0.4)
        self.line(165, y + 3.3, right, y + 3.3, width=0.4)
        self.wrapped_text(20, y + 11, self.payment_sentence() + " Vielen Dank für Ihren Auftrag!", 170, size=9)


_RENDERERS: dict[str, type[_Renderer]] = {"A": _ClassicLayout, "B": _ModernLayout, "C": _CompactLayout}


def render_pdf(spec: "InvoiceSpec", layout: str | None = None) -> bytes:
    """Born-digital PDF (real text layer) of ``spec`` in ``layout`` (default: the spec's own)."""
    # Imported late: the styled layouts build on this module's renderer.
    from ablage.testing.styled_layouts import ALL_LAYOUTS, styled_renderer

    layout = layout or spec.layout
    if layout not in ALL_LAYOUTS:
        raise ValueError(f"Unbekanntes Layout {layout!r}; erlaubt sind {', '.join(ALL_LAYOUTS)}.")
    renderer = _RENDERERS[layout] if layout in _RENDERERS else styled_renderer(layout)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=True, pageCompression=1)
    canvas.setTitle(f"{_WORDS[spec.document_type].title or spec.letter_subject} {spec.invoice_number}".strip())
    canvas.setAuthor(spec.supplier.name)
    canvas.setCreator("Ablage Testdaten-Generator")
    renderer(spec, canvas).render()
    canvas.save()
    return buffer.getvalue()
