"""The engine on laid-out pages: several invoice layouts, OCR noise, other document types."""

from datetime import date

import pytest

from ablage.testing.german import german_iban
from extraction.decision import decide
from extraction.engine import confirm_supplier, extract
from extraction.tests.pages import PageBuilder
from extraction.types import SupplierEvidence

TODAY = date(2026, 11, 20)
IBAN = "DE44370501981902345678"  # Sparkasse KölnBonn BLZ 37050198, account 1902345678
IBAN_PRINTED = "DE44 3705 0198 1902 3456 78"
VAT_ID = "DE812345673"


def _letterhead(page: PageBuilder, *, name="Müller Bürobedarf GmbH"):
    page.text(0.08, 0.04, name, size=1.8)
    page.lines(0.08, 0.075, ["Hansaring 42", "50670 Köln"])
    page.text(0.08, 0.16, f"{name} · Hansaring 42 · 50670 Köln", size=0.7)
    page.lines(0.08, 0.18, ["Schreinerei Hoffmann GmbH", "z. Hd. Frau Lehmann", "Werkstattweg 4", "48143 Münster"])


def _footer(page: PageBuilder, *, iban=IBAN_PRINTED, vat_id="DE 812 345 673", name="Müller Bürobedarf GmbH"):
    page.text(0.08, 0.92, f"{name} · Geschäftsführerin: Sabine Müller · Amtsgericht Köln HRB 48213", size=0.7)
    page.text(0.08, 0.935, f"Sparkasse KölnBonn · IBAN {iban} · BIC COLSDE33XXX · USt-IdNr. {vat_id}", size=0.7)


def _positions(page: PageBuilder, top=0.37):
    page.text(0.08, top, "Pos  Bezeichnung                        Menge  Einheit   Einzelpreis   USt     Gesamt")
    page.text(0.08, top + 0.02, "1    Kopierpapier A4, 80 g/m², 500 Blatt   25    Stk.          4,49   19 %     112,25")
    page.text(0.08, top + 0.04, "2    Bürodrehstuhl „Ergo Plus“ mit Armlehnen   4    Stk.      389,00   19 %  1.556,00")


def _totals(page: PageBuilder, top=0.45, *, net="1.668,25 €", vat="316,97 €", total="1.985,22 €"):
    page.right(0.45, top, "Nettobetrag").right(0.80, top, net)
    page.right(0.45, top + 0.02, "zzgl. 19 % USt").right(0.80, top + 0.02, vat)
    page.right(0.45, top + 0.04, "Gesamtbetrag").right(0.80, top + 0.04, total)


def invoice_label_right(**footer) -> PageBuilder:
    page = PageBuilder()
    _letterhead(page)
    page.lines(
        0.60,
        0.18,
        ["Rechnungsnummer:   RE-2026-00123", "Rechnungsdatum:    03.11.2026", "Kundennummer:      KD-04711"],
    )
    page.text(0.08, 0.32, "Rechnung", size=1.6)
    _positions(page)
    _totals(page)
    page.text(0.08, 0.53, "Zahlbar innerhalb von 14 Tagen ohne Abzug.")
    _footer(page, **footer)
    return page


def _values(result) -> dict[str, str]:
    return {name: field.normalized for name, field in result.fields.items()}


def test_it_reads_an_invoice_with_labels_left_of_their_values():
    result = extract([invoice_label_right().build()], today=TODAY)

    assert result.document_type == "invoice"
    assert _values(result) == {
        "invoice_number": "RE-2026-00123",
        "invoice_date": "2026-11-03",
        "due_date": "2026-11-17",
        "customer_number": "KD-04711",
        "supplier_name": "Müller Bürobedarf GmbH",
        "supplier_vat_id": VAT_ID,
        "iban": IBAN,
        "bic": "COLSDE33XXX",
        "net_amount": "1668.25",
        "vat_amount": "316.97",
        "vat_rate": "19",
        "total_amount": "1985.22",
        "currency": "EUR",
    }
    assert all(check.ok for check in result.validation)
    assert decide(result, threshold=0.85) == "auto_approve"


def test_it_records_page_box_and_rule_as_evidence():
    result = extract([invoice_label_right().build()], today=TODAY)

    number = result.fields["invoice_number"]
    assert number.page == 1
    assert number.rule == "label:Rechnungsnummer"
    x0, y0, x1, y1 = number.bbox
    assert 0.6 < x0 < x1 < 0.9 and 0.17 < y0 < y1 < 0.2
    assert result.fields["due_date"].rule == "zahlungsziel:14-tage"


def test_it_reads_values_printed_below_their_labels():
    page = PageBuilder()
    _letterhead(page)
    page.text(0.08, 0.30, "Rechnung", size=1.6)
    page.text(0.08, 0.33, "Rechnungs-Nr.          Datum               Kunden-Nr.         Fällig am")
    page.text(0.08, 0.345, "2026-0815              5. Oktober 2026     K-0042             19.10.2026")
    _positions(page, top=0.39)
    _totals(page, top=0.47)
    _footer(page)

    result = extract([page.build()], today=TODAY)

    values = _values(result)
    assert values["invoice_number"] == "2026-0815"
    assert values["invoice_date"] == "2026-10-05"
    assert values["customer_number"] == "K-0042"
    assert values["due_date"] == "2026-10-19"
    assert result.fields["invoice_number"].rule == "label-below:Rechnungs-Nr."


def test_it_reads_a_right_aligned_totals_table_with_two_vat_rates():
    page = PageBuilder()
    _letterhead(page, name="Bäckerei Weißgerber e.K.")
    page.lines(0.60, 0.18, ["Rechnung Nr. R2600042", "Datum: 12.01.2026"])
    page.text(0.08, 0.37, "Pos  Menge  Einheit  Bezeichnung                  Einzelpreis   USt    Gesamt")
    page.text(0.08, 0.39, "1    120    Stk.     Brötchen, gemischt                  0,45    7 %     54,00")
    page.text(0.08, 0.41, "2    2      Stk.     Kaffee in Thermoskannen            18,00   19 %     36,00")
    page.right(0.62, 0.46, "Summe netto").right(0.85, 0.46, "90,00")
    page.right(0.62, 0.48, "USt 7 % auf 54,00").right(0.85, 0.48, "3,78")
    page.right(0.62, 0.50, "USt 19 % auf 36,00").right(0.85, 0.50, "6,84")
    page.right(0.62, 0.52, "Rechnungsbetrag EUR").right(0.85, 0.52, "100,62")
    _footer(page, name="Bäckerei Weißgerber e.K.")

    result = extract([page.build()], today=TODAY)

    values = _values(result)
    assert values["supplier_name"] == "Bäckerei Weißgerber e.K."
    assert values["invoice_number"] == "R2600042"
    assert (values["net_amount"], values["vat_amount"], values["total_amount"]) == ("90.00", "10.62", "100.62")
    assert "vat_rate" not in values  # two rates: no single rate to report
    assert {check.rule: check.ok for check in result.validation}["vat_rate_plausible"] is True
    assert [item["quantity"] for item in result.line_items] == ["120", "2"]
    assert result.line_items[0] == {
        "position": "1",
        "description": "Brötchen, gemischt",
        "quantity": "120",
        "unit": "Stk.",
        "unit_price": "0.45",
        "vat_rate": "7",
        "line_total": "54.00",
    }


def test_it_takes_the_supplier_from_a_two_column_header_not_the_recipient():
    page = PageBuilder()
    page.lines(0.08, 0.18, ["Autohaus Fuchs GmbH", "Gewerbepark Süd 9", "04319 Leipzig"])
    page.text(0.60, 0.04, "Elektro Schröder GmbH & Co. KG", size=1.5)
    page.lines(0.60, 0.07, ["Industriestraße 7", "80939 München", "Tel. 089 3168 224"])
    page.lines(0.60, 0.18, ["Rechnung Nr.: 2026-0917", "Rechnungsdatum: 28.02.2026", "Lieferdatum: 26.02.2026"])
    page.text(0.08, 0.30, "Rechnung", size=1.6)
    _positions(page)
    _totals(page)
    page.text(0.08, 0.53, "Bitte überweisen Sie den Betrag bis zum 14.03.2026.")
    page.text(0.08, 0.92, "Elektro Schröder GmbH & Co. KG · Amtsgericht München HRA 99871", size=0.7)

    result = extract([page.build()], today=TODAY)

    values = _values(result)
    assert values["supplier_name"] == "Elektro Schröder GmbH & Co. KG"
    assert values["invoice_number"] == "2026-0917"
    assert values["invoice_date"] == "2026-02-28"
    assert values["delivery_date"] == "2026-02-26"


def test_it_reads_through_typical_ocr_noise():
    page = PageBuilder(source="ocr", confidence=0.91)
    page.text(0.08, 0.04, "Müller Bürobedarf GmbH", size=1.8)
    page.lines(0.08, 0.18, ["Schreinerei Hoffmann GmbH", "Werkstattweg 4", "48143 Münster"])
    page.lines(0.60, 0.18, ["Rechnungsnurnmer: RE-2O26-00123", "Rechnungsdatum:O3.11.2026"])
    page.text(0.08, 0.32, "Rechnung", size=1.6)
    page.right(0.45, 0.45, "Nettobetrag").right(0.80, 0.45, "1668,25 EUR")
    page.right(0.45, 0.47, "MwSt. 19%").right(0.80, 0.47, "316.97 EUR")
    page.right(0.45, 0.49, "Gesamtbetrag").right(0.80, 0.49, "1.985,22 EUR")
    page.text(0.08, 0.935, "IBAN: DE44 3705 0198 1902 3456 78   USt-ID: DE 812 345 673", size=0.7)

    result = extract([page.build()], today=TODAY)

    values = _values(result)
    assert values["invoice_number"] == "RE-2026-00123"
    assert result.fields["invoice_number"].value == "RE-2O26-00123"
    assert values["invoice_date"] == "2026-11-03"
    assert (values["net_amount"], values["vat_amount"], values["total_amount"]) == ("1668.25", "316.97", "1985.22")
    assert values["currency"] == "EUR"
    assert values["supplier_vat_id"] == VAT_ID
    assert values["iban"] == IBAN
    # OCR confidence and a repaired value cost confidence compared with a clean text layer.
    assert result.fields["invoice_number"].confidence < 0.9


def test_it_repairs_ocr_confusions_in_an_iban_only_when_the_checksum_then_holds():
    repaired = extract([invoice_label_right(iban="DE44 37O5 0l98 1902 3456 78").build()], today=TODAY)
    broken = extract([invoice_label_right(iban="DE44 37O5 0l98 1902 3456 79").build()], today=TODAY)

    assert repaired.fields["iban"].normalized == IBAN
    assert repaired.fields["iban"].value == "DE44 37O5 0l98 1902 3456 78"
    assert "iban" not in broken.fields


def test_it_works_out_the_due_date_from_the_payment_term():
    page = PageBuilder()
    _letterhead(page)
    page.lines(0.60, 0.18, ["Rechnungsnummer: 0004711", "Rechnungsdatum: 20.12.2025"])
    _totals(page)
    page.text(0.08, 0.53, "Zahlbar innerhalb 10 Tagen mit 2 % Skonto, innerhalb 30 Tagen netto.")

    result = extract([page.build()], today=TODAY)

    assert result.fields["due_date"].normalized == "2026-01-19"
    assert result.fields["due_date"].rule == "zahlungsziel:30-tage"


def test_it_sends_an_invoice_whose_amounts_do_not_add_up_to_review():
    page = invoice_label_right()
    page.right(0.80, 0.53, "")  # nothing else changes but the printed total below
    mismatched = PageBuilder()
    _letterhead(mismatched)
    mismatched.lines(0.60, 0.18, ["Rechnungsnummer: RE-2026-00123", "Rechnungsdatum: 03.11.2026"])
    _totals(mismatched, total="1.995,22 €")
    _footer(mismatched)

    good = extract([page.build()], today=TODAY)
    bad = extract([mismatched.build()], today=TODAY)

    checks = {check.rule: check for check in bad.validation}
    assert checks["amounts_sum"].ok is False
    assert "1.995,22" in checks["amounts_sum"].message
    assert bad.fields["total_amount"].normalized == "1995.22"
    assert decide(bad, threshold=0.5) == "review"
    assert bad.overall_confidence < good.overall_confidence - 0.3


def test_it_classifies_a_credit_note_and_takes_its_own_number():
    page = PageBuilder()
    _letterhead(page)
    page.text(0.08, 0.30, "Gutschrift", size=1.6)
    page.lines(0.60, 0.18, ["Gutschrift-Nr.: GS-2026-0042", "Datum: 10.11.2026"])
    page.text(0.08, 0.33, "zu Rechnung Nr. RE-2026-00123 vom 03.11.2026")
    _totals(page, net="100,00 €", vat="19,00 €", total="119,00 €")
    page.text(0.08, 0.53, "Der Betrag wird Ihrem Konto gutgeschrieben.")
    _footer(page)

    result = extract([page.build()], today=TODAY)

    assert result.document_type == "credit_note"
    assert result.fields["invoice_number"].normalized == "GS-2026-0042"
    assert result.fields["total_amount"].normalized == "119.00"
    assert "due_date" not in result.fields


def test_it_classifies_a_delivery_note_without_inventing_invoice_fields():
    page = PageBuilder()
    _letterhead(page)
    page.text(0.08, 0.30, "Lieferschein", size=1.6)
    page.lines(0.60, 0.18, ["Lieferschein-Nr.: LS-2026-00077", "Datum: 04.11.2026", "Ihre Bestellung: PO-00815"])
    page.text(0.08, 0.37, "Pos  Bezeichnung                         Menge   Einheit")
    page.text(0.08, 0.39, "1    Kopierpapier A4, 80 g/m², 500 Blatt   25      Stk.")
    page.text(0.08, 0.45, "Ware vollständig und einwandfrei erhalten:  ____________________")
    _footer(page)

    result = extract([page.build()], today=TODAY)

    assert result.document_type == "delivery_note"
    assert result.document_type_confidence > 0.7
    assert "invoice_number" not in result.fields
    assert "total_amount" not in result.fields
    assert result.fields["order_number"].normalized == "PO-00815"
    assert result.fields["supplier_name"].normalized == "Müller Bürobedarf GmbH"


def test_it_finds_no_total_in_a_letter_without_amounts():
    page = PageBuilder()
    _letterhead(page)
    page.text(0.60, 0.18, "Köln, 15.10.2026")
    page.text(0.08, 0.30, "Betriebsferien", size=1.3)
    page.lines(
        0.08,
        0.34,
        [
            "Sehr geehrte Damen und Herren,",
            "unser Betrieb bleibt vom 23. Dezember bis einschließlich 2. Januar geschlossen.",
            "Bestellungen, die bis zum 18. Dezember bei uns eingehen, liefern wir noch vor den Feiertagen aus.",
            "Mit freundlichen Grüßen",
        ],
    )
    _footer(page)

    result = extract([page.build()], today=TODAY)

    assert result.document_type == "letter"
    for name in ("total_amount", "net_amount", "vat_amount", "currency", "invoice_number"):
        assert name not in result.fields
    assert result.fields["iban"].normalized == IBAN
    assert decide(result, threshold=0.5) in {"auto_approve", "review"}


def test_it_reports_missing_required_fields_and_sends_them_to_review():
    page = PageBuilder()
    _letterhead(page)
    page.text(0.08, 0.30, "Rechnung", size=1.6)
    page.text(0.60, 0.18, "Datum: 03.11.2026")
    _totals(page)

    result = extract([page.build()], today=TODAY)

    required = next(check for check in result.validation if check.rule == "required_fields")
    assert required.ok is False
    assert required.fields == ("invoice_number",)
    assert "Rechnungsnummer" in required.message
    assert decide(result, threshold=0.0) == "review"


def test_it_flags_implausible_dates_and_a_due_date_before_the_invoice_date():
    page = PageBuilder()
    _letterhead(page)
    page.text(0.08, 0.30, "Rechnung", size=1.6)
    page.lines(0.60, 0.18, ["Rechnungsnummer: 4711", "Rechnungsdatum: 03.11.2029", "Fällig am: 01.11.2029"])
    _totals(page)

    result = extract([page.build()], today=TODAY)

    checks = {check.rule: check.ok for check in result.validation}
    assert checks["due_after_invoice_date"] is False
    assert checks["dates_plausible"] is False


def test_it_returns_unknown_for_an_empty_page():
    result = extract([PageBuilder().build()], today=TODAY)

    assert result.document_type == "unknown"
    assert result.fields == {}
    assert result.overall_confidence == 0.0
    assert decide(result, threshold=0.0) == "review"


# --- supplier master data and the BLZ registry ------------------------------------------------


def test_it_repairs_a_bic_whose_digits_ocr_read_as_look_alike_letters():
    # Volksbank Mittelhessen's BIC VBMHDE5FXXX as Tesseract reads it on the bench's scans: "5" -> "S".
    iban = german_iban("51390000", "1234567890")
    page = PageBuilder()
    _letterhead(page)
    page.text(0.08, 0.935, f"Volksbank Mittelhessen · IBAN {iban} · BIC VBMHDESFXXX", size=0.7)

    result = extract([page.build()], today=TODAY)

    assert result.fields["bic"].normalized == "VBMHDE5FXXX"
    assert result.fields["bic"].value == "VBMHDESFXXX"
    assert result.fields["bic"].rule.endswith("+blz-register")
    assert next(check for check in result.validation if check.rule == "bic_matches_blz").ok is True


def test_it_leaves_a_bic_of_another_bank_as_read_and_fails_it():
    page = PageBuilder()
    _letterhead(page)
    page.text(0.08, 0.935, f"Sparkasse KölnBonn · IBAN {IBAN_PRINTED} · BIC COKSDE33XXX", size=0.7)

    result = extract([page.build()], today=TODAY)

    assert result.fields["bic"].normalized == "COKSDE33XXX"
    assert next(check for check in result.validation if check.rule == "bic_matches_blz").ok is False


def test_it_puts_the_master_data_name_in_place_of_a_misread_one():
    result = extract([invoice_label_right().build()], today=TODAY)
    result.fields["supplier_name"].normalized = "Müller Hacobedart GmbH"
    confirmed = SupplierEvidence(name="Müller Bürobedarf GmbH", rule="vat_id", confidence=1.0)

    confirm_supplier(result, confirmed)

    name = result.fields["supplier_name"]
    assert (name.normalized, name.rule, name.confidence) == ("Müller Bürobedarf GmbH", "stammdaten:vat_id", 0.99)
    assert name.bbox is not None  # the printed name stays the evidence


def test_it_keeps_the_read_name_when_the_identifiers_contradict_each_other():
    result = extract([invoice_label_right().build()], today=TODAY)
    disputed = SupplierEvidence(name="Andere GmbH", rule="vat_id", confidence=0.5, conflicts=("iban",))

    confirm_supplier(result, disputed)

    assert result.fields["supplier_name"].normalized == "Müller Bürobedarf GmbH"


# --- Skonto ---------------------------------------------------------------------------------------


def _with_terms(terms: str) -> PageBuilder:
    page = invoice_label_right()
    page.text(0.08, 0.55, terms)
    return page


def _skonto(result) -> tuple:
    return tuple(result.fields[name].normalized if name in result.fields else None for name in SKONTO_FIELDS)


SKONTO_FIELDS = ("skonto_rate", "skonto_days", "skonto_amount")


def test_it_reads_skonto_rate_days_and_amount_from_the_payment_terms():
    result = extract([_with_terms("Bei Zahlung innerhalb 10 Tagen 2 % Skonto (39,70 €).").build()], today=TODAY)

    assert _skonto(result) == ("2", "10", "39.70")
    assert result.fields["skonto_rate"].rule == "zahlungsbedingung:skonto"
    assert next(check for check in result.validation if check.rule == "skonto_amount").ok is True
    # The net term stays the due date: 14 days, not the 10 of the discount.
    assert result.fields["due_date"].normalized == "2026-11-17"


@pytest.mark.parametrize(
    ("terms", "expected"),
    [
        ("1,5 % Skonto bei Zahlung innerhalb von 8 Tagen.", ("1.5", "8", None)),
        ("3 % discount (59,56 €) if paid within 7 days.", ("3", "7", "59.56")),
    ],
)
def test_it_reads_skonto_in_other_wordings(terms, expected):
    assert _skonto(extract([_with_terms(terms).build()], today=TODAY)) == expected


def test_it_fails_a_skonto_amount_that_is_not_the_rate_of_the_total():
    result = extract([_with_terms("Bei Zahlung innerhalb 10 Tagen 2 % Skonto (29,70 €).").build()], today=TODAY)

    check = next(check for check in result.validation if check.rule == "skonto_amount")
    assert check.ok is False
    assert check.message == "Skonto 2 % von 1.985,22 sind 39,70, gedruckt sind 29,70."


def test_it_reads_no_skonto_where_none_is_offered():
    assert _skonto(extract([invoice_label_right().build()], today=TODAY)) == (None, None, None)


def test_it_keeps_the_read_name_when_the_master_data_only_found_a_name_in_the_text():
    result = extract([invoice_label_right().build()], today=TODAY)
    mentioned = SupplierEvidence(name="Schmidt GmbH", rule="name_phrase", confidence=0.75)

    confirm_supplier(result, mentioned)

    assert result.fields["supplier_name"].normalized == "Müller Bürobedarf GmbH"
