"""Failure modes seen on Tesseract output of generated scans (see the evaluation in the commit message)."""

from datetime import date

from extraction.engine import extract
from extraction.layout import group_lines
from extraction.tests.pages import PageBuilder
from ocr.types import Word

TODAY = date(2026, 11, 20)


def _header(page: PageBuilder):
    page.text(0.08, 0.04, "Grünwald Garten- und Landschaftsbau GmbH", size=1.8)
    page.text(0.08, 0.16, "Grünwald Garten- und Landschaftsbau GmbH · Am Mühlbach 12 · 70597 Stuttgart", size=0.7)
    page.lines(0.08, 0.18, ["Schreinerei Hoffmann GmbH", "Werkstattweg 4", "48143 Münster"])
    page.text(0.08, 0.26, "Rechnungsnummer: AR20266367     Rechnungsdatum: 03.05.2026")


def test_it_computes_a_misread_vat_line_from_rate_and_base():
    page = PageBuilder(source="ocr", confidence=0.93)
    _header(page)
    page.right(0.60, 0.45, "Nettobetrag").right(0.85, 0.45, "2.351,30 €")
    # Tesseract dropped the decimal comma of "1,11 €"; 7 % of 15,80 is 1,11.
    page.right(0.60, 0.47, "zzgl. 7 % MwSt. auf 15,80").right(0.85, 0.47, "111€")
    page.right(0.60, 0.49, "zzgl. 19 % MwSt. auf 2.335,50").right(0.85, 0.49, "443,75 €")
    page.right(0.60, 0.51, "Gesamtbetrag").right(0.85, 0.51, "2.796,16 €")

    result = extract([page.build()], today=TODAY)

    assert result.fields["vat_amount"].normalized == "444.86"
    assert result.fields["net_amount"].normalized == "2351.30"
    assert result.fields["total_amount"].normalized == "2796.16"
    assert next(check for check in result.validation if check.rule == "amounts_sum").ok


def test_it_never_takes_the_base_of_a_vat_line_as_the_tax():
    page = PageBuilder(source="ocr", confidence=0.93)
    _header(page)
    page.right(0.60, 0.47, "Umsatzsteuer 7 % auf 71,40").right(0.85, 0.47, "--500€")
    page.right(0.60, 0.49, "Umsatzsteuer 19 % auf 1.330,00").right(0.85, 0.49, "252,70 €")
    page.right(0.60, 0.51, "Rechnungsbetrag").right(0.85, 0.51, "1.659,10 €")

    result = extract([page.build()], today=TODAY)

    # The unreadable "Summe netto" is the sum of the printed bases, and 5,00 + 252,70 the tax.
    assert result.fields["vat_amount"].normalized == "257.70"
    assert result.fields["net_amount"].normalized == "1401.40"
    assert result.fields["net_amount"].rule == "summe:bemessungsgrundlagen"


def test_it_does_not_report_the_net_amount_as_total_when_the_total_is_unreadable():
    page = PageBuilder(source="ocr", confidence=0.93)
    _header(page)
    page.right(0.60, 0.45, "Zwischensumme").right(0.85, 0.45, "1.233,50")
    page.right(0.60, 0.47, "MwSt. 19%").right(0.85, 0.47, "234,37")
    page.right(0.60, 0.49, "Endbetrag EUR").right(0.85, 0.49, "1467/87")

    result = extract([page.build()], today=TODAY)

    assert "total_amount" not in result.fields


def test_it_keeps_a_letterhead_on_one_line_despite_a_speck_and_overlapping_boxes():
    words = [
        Word("-", (0.08105, 0.04447, 0.08185, 0.04532), 0.08),
        Word("Krause", (0.09556, 0.04561, 0.17863, 0.05815), 0.96),
        Word("IT-Service", (0.1875, 0.04447, 0.30605, 0.05787), 0.93),
        Word("UG", (0.31492, 0.04504, 0.35, 0.05787), 0.92),
        Word("Elektro", (0.24597, 0.10934, 0.35484, 0.12416), 0.97),
        Word("GmbH", (0.5129, 0.09965, 0.64073, 0.12416), 0.93),
        Word("&", (0.61613, 0.09851, 0.63185, 0.13072), 0.93),
        Word("KG", (0.70968, 0.10962, 0.75282, 0.12929), 0.97),
    ]

    lines = [" ".join(word.text for word in line.words) for line in group_lines(words)]

    assert lines == ["- Krause IT-Service UG", "Elektro GmbH & KG"]


def test_it_reads_an_ocr_misspelt_unit_after_the_quantity():
    page = PageBuilder(source="ocr", confidence=0.9)
    _header(page)
    page.text(0.08, 0.37, "Pos  Bezeichnung                        Menge  Einheit   Einzelpreis   USt     Gesamt")
    page.text(0.08, 0.39, "1    Netzwerk-Switch 24 Port, verwaltet     2    Sik.         189,00   19 %     378,00")
    page.text(0.08, 0.41, "2    Arbeitszeit Geselle                    2    Std:          54,00   19 %     108,00")

    items = extract([page.build()], today=TODAY).line_items

    assert [(item["quantity"], item["unit"], item["description"]) for item in items] == [
        ("2", "Stk.", "Netzwerk-Switch 24 Port, verwaltet"),
        ("2", "Std.", "Arbeitszeit Geselle"),
    ]


def test_it_drops_ocr_specks_before_the_supplier_name():
    page = PageBuilder(source="ocr", confidence=0.9)
    page.text(0.45, 0.04, ". Hofmann & Söhne Druckerei OHG", size=1.8)
    page.text(0.08, 0.16, "Hofmann & Söhne Druckerei OHG : Gießener Straße 21 - 35390 Gießen", size=0.7)
    page.lines(0.08, 0.18, ["Bergmann Maschinenbau AG", "Rheinuferstraße 112", "67061 Ludwigshafen"])

    result = extract([page.build()], today=TODAY)

    assert result.fields["supplier_name"].normalized == "Hofmann & Söhne Druckerei OHG"


def test_it_reports_the_legal_form_haftungsbeschraenkt_with_its_umlaut_when_ocr_dropped_it():
    page = PageBuilder(source="ocr", confidence=0.9)
    page.text(0.08, 0.04, "Krause IT-Service UG (haftungsbeschrankt)", size=1.8)
    page.lines(0.08, 0.18, ["Bergmann Maschinenbau AG", "Rheinuferstraße 112", "67061 Ludwigshafen"])

    supplier = extract([page.build()], today=TODAY).fields["supplier_name"]

    assert supplier.normalized == "Krause IT-Service UG (haftungsbeschränkt)"
    assert supplier.value == "Krause IT-Service UG (haftungsbeschrankt)"


def test_it_derives_the_net_amount_from_total_minus_vat_when_the_positions_add_up_to_it():
    page = PageBuilder(source="ocr", confidence=0.93)
    _header(page)
    page.text(0.08, 0.37, "Pos  Bezeichnung                        Menge  Einheit   Einzelpreis   USt     Gesamt")
    page.text(0.08, 0.39, "1    Netzwerk-Switch 24 Port, verwaltet     2    Stk.         189,00   19 %     378,00")
    page.text(0.08, 0.41, "2    Arbeitszeit Geselle                    2    Std.          54,00   19 %     108,00")
    # The "Summe netto" line merged with the frame beside it and was lost entirely.
    page.right(0.60, 0.47, "Umsatzsteuer 19 %").right(0.85, 0.47, "92,34 €")
    page.right(0.60, 0.49, "Rechnungsbetrag").right(0.85, 0.49, "578,34 €")

    result = extract([page.build()], today=TODAY)

    assert result.fields["net_amount"].normalized == "486.00"
    assert result.fields["net_amount"].rule == "differenz:gesamt-ust=summe-positionen"
    assert next(check for check in result.validation if check.rule == "amounts_sum").ok


def test_it_spells_and_co_of_a_legal_form_one_way():
    page = PageBuilder(source="ocr", confidence=0.9)
    page.text(0.08, 0.04, "Elektro Schröder GmbH & co. KG", size=1.8)
    page.lines(0.08, 0.18, ["Bergmann Maschinenbau AG", "Rheinuferstraße 112", "67061 Ludwigshafen"])

    assert extract([page.build()], today=TODAY).fields["supplier_name"].normalized == "Elektro Schröder GmbH & Co. KG"


def test_it_ends_the_table_at_a_totals_column_beside_the_payment_box_when_the_net_line_is_lost():
    page = PageBuilder(source="ocr", confidence=0.93)
    _header(page)
    page.text(0.08, 0.37, "Pos  Bezeichnung                        Menge  Einheit   Einzelpreis   USt     Gesamt")
    page.text(0.08, 0.39, "1    Broschüre Jahresbericht                1000 Stk.          3,85    7 %   3.850,00")
    page.text(0.08, 0.41, "2    Briefbogen mit Logo                      20 Stk.        119,00   19 %   2.380,00")
    page.text(0.08, 0.45, "Empfänger: Hofmann & Söhne Druckerei OHG")
    page.right(0.62, 0.45, "Umsatzsteuer 7 % auf 3.850,00").right(0.85, 0.45, "269,50 €")
    page.text(0.08, 0.47, "IBAN: DE12 5139 0000 0056 7812 34")
    page.right(0.62, 0.47, "Umsatzsteuer 19 % auf 2.380,00").right(0.85, 0.47, "452,20 €")
    page.right(0.62, 0.49, "Rechnungsbetrag").right(0.85, 0.49, "6.951,70 €")

    result = extract([page.build()], today=TODAY)

    assert len(result.line_items) == 2
    assert result.fields["vat_amount"].normalized == "721.70"
    assert result.fields["net_amount"].normalized == "6230.00"


def test_it_ignores_a_detached_dash_before_the_net_amount_when_the_sum_needs_it_positive():
    page = PageBuilder(source="ocr", confidence=0.93)
    _header(page)
    page.right(0.60, 0.45, "Nettobetrag").right(0.85, 0.45, "- 2.047,00 €")
    page.right(0.60, 0.47, "zzgl. 19 % MwSt.").right(0.85, 0.47, "388,93 €")
    page.right(0.60, 0.49, "Gesamtbetrag").right(0.85, 0.49, "2.435,93 €")

    result = extract([page.build()], today=TODAY)

    assert result.fields["net_amount"].normalized == "2047.00"
    assert next(check for check in result.validation if check.rule == "amounts_sum").ok


def test_it_computes_an_illegible_vat_amount_from_its_rate_when_net_and_total_agree():
    page = PageBuilder(source="ocr", confidence=0.93)
    _header(page)
    page.right(0.60, 0.45, "Zwischensumme").right(0.85, 0.45, "1.535,50")
    page.right(0.60, 0.47, "MwSt. 19 %").right(0.85, 0.47, "291,715")
    page.right(0.60, 0.49, "Endbetrag EUR").right(0.85, 0.49, "1.827,25")

    result = extract([page.build()], today=TODAY)

    assert result.fields["vat_amount"].normalized == "291.75"
    assert result.fields["vat_amount"].rule == "berechnet:satz-mal-netto"
