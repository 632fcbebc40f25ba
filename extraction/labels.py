"""The printed labels that announce a field, and OCR-tolerant matching of them.

Labels are compared in folded form (lower case, umlauts spelt out, punctuation dropped), over
one to four consecutive words, so "Rechnungs-Nr.:", "Rechnung Nr." and "Rechnungsnr" are the
same label. Long labels tolerate one or two edited characters: Tesseract reads "Rechnungsdatum"
as "Rechnungsdaturn" often enough to matter.
"""

from dataclasses import dataclass
from functools import cached_property

from rapidfuzz.distance import Levenshtein

from extraction.layout import Line
from extraction.normalize import fold
from ocr.types import Word


@dataclass(frozen=True)
class Label:
    field: str
    text: str
    weight: float = 1.0

    @cached_property
    def folded(self) -> str:
        return fold(self.text)


def _labels(field: str, *texts: str, weight: float = 1.0) -> list[Label]:
    return [Label(field, text, weight) for text in texts]


LABELS: list[Label] = [
    *_labels(
        "invoice_number",
        "Rechnungsnummer", "Rechnungs-Nr.", "Rechnung Nr.", "Rechnungsnr", "Re.-Nr.", "Rg.-Nr.", "Rechn.-Nr.",
        "Beleg-Nr.", "Belegnummer", "Invoice No.", "Invoice Number", "Gutschriftsnummer", "Gutschrift-Nr.",
        "Gutschrift Nr.", "Gutschriftnummer", "Korrekturrechnung Nr.", "Credit Note No.",
        "Credit Note Number", "Document No.",
    ),
    *_labels("invoice_number", "Nummer", "Rechnung", "Gutschrift", weight=0.6),
    *_labels(
        "invoice_date",
        "Rechnungsdatum", "Rechnungs-Datum", "Belegdatum", "Gutschriftsdatum", "Gutschriftdatum", "Invoice Date",
        "Datum der Rechnung", "Ausstellungsdatum", "Date of Invoice", "Issue Date", "Credit Note Date",
    ),
    *_labels("invoice_date", "Datum", "Date", weight=0.75),
    *_labels(
        "due_date",
        "Fällig am", "Fälligkeit", "Fälligkeitsdatum", "Fällig bis", "Zahlbar bis", "Zahlbar bis zum", "Zahlung bis",
        "Zahlungsziel", "Due Date", "Zahlungsfrist", "fällig zum", "Payment Due", "Pay by",
    ),
    *_labels(
        "delivery_date",
        "Lieferdatum", "Leistungsdatum", "Liefertermin", "Lieferung am", "Datum der Lieferung", "Leistungstag",
        "Lieferdatum/Leistungsdatum", "Delivery Date", "Service Date", "Date of Delivery", "Date of Service",
    ),
    *_labels(
        "order_number",
        "Bestellnummer", "Bestell-Nr.", "Ihre Bestellung", "Ihre Bestellnummer", "Ihre Bestell-Nr.", "Auftragsnummer",
        "Auftrags-Nr.", "Ihr Auftrag", "Bestellung Nr.", "Order No.", "Ihre Referenz", "Order Number",
        "Purchase Order", "PO No.", "PO Number", "Your Order", "Your Reference",
    ),
    *_labels(
        "customer_number",
        "Kundennummer", "Kunden-Nr.", "Kundennr", "Kd.-Nr.", "Kd-Nr", "Ihre Kundennummer", "Kunden Nr.", "Customer No.",
        "Customer Number", "Customer ID",
    ),
    *_labels(
        "supplier_tax_number", "Steuernummer", "Steuer-Nr.", "St.-Nr.", "StNr", "Steuer Nr.", "Tax No.", "Tax Number",
    ),
    *_labels(
        "supplier_vat_id",
        "USt-IdNr.", "USt-ID", "USt.-Id.-Nr.", "UID", "USt-Id-Nr", "UStIdNr", "Umsatzsteuer-Identifikationsnummer",
        "Umsatzsteuer-ID", "VAT ID", "VAT No.", "USt-Ident-Nr.", "Ust-IdNr.:", "VAT Reg. No.", "VAT Number",
    ),
    *_labels("iban", "IBAN"),
    *_labels("bic", "BIC", "SWIFT", "BIC/SWIFT", "SWIFT-BIC", "BIC-Code"),
    *_labels(
        "net_amount",
        "Nettobetrag", "Summe netto", "Netto", "Zwischensumme", "Nettosumme", "Gesamt netto", "Netto-Betrag",
        "Summe Positionen", "Warenwert", "Nettowert", "Rechnungsbetrag netto", "Gesamtbetrag netto", "Total netto",
        "Subtotal", "Sub-total", "Net Total", "Net Amount", "Total Net",
    ),
    *_labels(
        "vat_amount",
        "MwSt.", "Mehrwertsteuer", "Umsatzsteuer", "USt", "zzgl. USt", "zzgl. MwSt.", "zzgl. Umsatzsteuer",
        "Umsatzsteuerbetrag", "MwSt.-Betrag", "USt.-Betrag", "inkl. MwSt.", "inkl. USt", "Steuer", "Summe USt",
        "Summe MwSt.", "VAT", "VAT Amount", "Sales Tax", "Tax",
    ),
    *_labels(
        "total_amount",
        "Gesamtbetrag", "Rechnungsbetrag", "Gesamtsumme", "Summe brutto", "Bruttobetrag", "Endbetrag", "Zu zahlen",
        "Zahlbetrag", "Gesamt brutto", "Brutto", "Gutschriftsbetrag", "Gutschriftbetrag", "Rechnungssumme",
        "Bruttosumme", "Gesamtbetrag brutto", "Rechnungsbetrag brutto", "Zu zahlender Betrag", "Total",
        "Amount Due", "Total Due", "Grand Total", "Total Amount", "Invoice Total", "Total Credit", "Credit Total",
        "Credit Amount", "Balance Due", "Gross Total", "Total Gross",
    ),
    *_labels("total_amount", "Gesamt", "Summe", "Betrag", weight=0.7),
]  # fmt: skip


def max_distance(folded_label: str) -> int:
    if len(folded_label) <= 5:
        return 0
    if len(folded_label) <= 9:
        return 1
    return 2


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, giving up (returning ``limit + 1``) once it must exceed ``limit``."""
    # rapidfuzz (C++, bit-parallel) with the cutoff: the pure-Python table took a third of
    # the extraction time of a page; it returns ``limit + 1`` above the cutoff, as this did.
    return Levenshtein.distance(a, b, score_cutoff=limit)


@dataclass
class LabelMatch:
    label: Label
    line: Line
    start: int  # index of the first label word in line.words
    end: int  # index after the last label word
    distance: int

    @property
    def exact(self) -> bool:
        return self.distance == 0

    @property
    def words(self) -> list[Word]:
        return self.line.words[self.start : self.end]

    @property
    def field(self) -> str:
        return self.label.field

    @property
    def rule(self) -> str:
        return f"label:{self.label.text}"


# (label, folded text, edits tolerated) by the folded text's first character.
_LABELS_BY_FIRST_CHAR: dict[str, list[tuple[Label, str, int]]] = {}
for _label in LABELS:
    _LABELS_BY_FIRST_CHAR.setdefault(_label.folded[0], []).append((_label, _label.folded, max_distance(_label.folded)))


def _word_folds(line: Line) -> list[str]:
    return [fold(word.text) for word in line.words]


def find_labels(line: Line) -> list[LabelMatch]:
    """All label occurrences on a line; where labels overlap, the longest (most specific) wins."""
    folds = _word_folds(line)
    found: list[LabelMatch] = []
    for start in range(len(folds)):
        if not folds[start]:
            continue
        best: LabelMatch | None = None
        best_key = None
        joined = ""
        segment = line.segment_of(line.words[start])
        for end in range(start + 1, min(start + 4, len(folds)) + 1):
            if end - 1 > start and not any(line.words[end - 1] is word for word in segment):
                break  # a label never spans a column gap: "Rechnungs-Nr.    Datum" are two labels
            joined += folds[end - 1]
            if not joined:
                continue
            for label, target, limit in _candidates(joined):
                if joined == target:
                    distance = 0
                elif abs(len(joined) - len(target)) > limit:
                    continue  # more edits than allowed by length alone: no need to count them
                else:
                    distance = edit_distance(joined, target, limit)
                    if distance > limit:
                        continue
                # Prefer more label characters matched, then fewer edits.
                key = (len(target) - 3 * distance, -distance)
                if best_key is None or key > best_key:
                    best, best_key = LabelMatch(label, line, start, end, distance), key
        if best is not None:
            found.append(best)
    return _drop_overlaps(found)


def _candidates(joined: str) -> list[tuple[Label, str, int]]:
    # The first character is rarely the one OCR gets wrong in a label; checking it first keeps
    # matching cheap on pages with thousands of words.
    return _LABELS_BY_FIRST_CHAR.get(joined[0], [])


def _drop_overlaps(matches: list[LabelMatch]) -> list[LabelMatch]:
    # An exact short label beats a fuzzy long one that swallowed a neighbour word.
    matches.sort(key=lambda match: (-(len(match.label.folded) - 3 * match.distance), match.start))
    kept: list[LabelMatch] = []
    for match in matches:
        if any(match.start < other.end and other.start < match.end for other in kept):
            continue
        kept.append(match)
    kept.sort(key=lambda match: match.start)
    return kept
