"""Field rules for the formats and wordings of the labelled corpus (layouts D-G), on laid-out pages."""

from datetime import date

from extraction.engine import extract
from extraction.tests.pages import PageBuilder
from extraction.tests.test_engine import _footer, _letterhead, _positions, _totals
from extraction.values import find_amounts, find_dates, find_identifier

TODAY = date(2026, 11, 20)


def _words(text: str):
    return PageBuilder().text(0.1, 0.1, text).build().words


def _invoice(*, net="1.668,25 €", total="1.985,22 €", header=None, terms="Zahlbar innerhalb von 14 Tagen ohne Abzug."):
    page = PageBuilder()
    _letterhead(page)
    page.lines(0.60, 0.18, header or ["Rechnungsnummer:   RE-2026-00123", "Rechnungsdatum:    03.11.2026"])
    page.text(0.08, 0.32, "Rechnung", size=1.6)
    _positions(page)
    _totals(page, net=net, total=total)
    page.text(0.08, 0.53, terms)
    _footer(page)
    return extract([page.build()], today=TODAY)


def _values(result) -> dict[str, str]:
    return {name: field.normalized for name, field in result.fields.items()}


def test_it_reads_the_four_date_formats():
    text = "31.12.2026 · 31.12.26 · 31. Dezember 2026 · 2026-12-31"
    assert [found.normalized for found in find_dates(_words(text))] == ["2026-12-31"] * 4


def test_it_reads_the_five_amount_formats():
    text = "1.234,56   1234,56   € 1.234,56   1.234,56 EUR   -1234,56"
    assert [found.normalized for found in find_amounts(_words(text))] == ["1234.56"] * 4 + ["-1234.56"]


def test_it_keeps_a_letter_prefix_of_an_invoice_number_while_repairing_its_digits():
    assert find_identifier(_words("FS25-0142O")).normalized == "FS25-01420"
    assert find_identifier(_words("LB0001183")).normalized == "LB0001183"
    assert find_identifier(_words("2O26-0815")).normalized == "2026-0815"


def test_it_rebuilds_a_misread_net_amount_from_the_positions_when_the_total_agrees():
    result = _invoice(net="1.663,25 €")

    net = result.fields["net_amount"]
    assert (net.normalized, net.rule) == ("1668.25", "summe:positionen")
    assert _values(result)["vat_amount"] == "316.97" and _values(result)["total_amount"] == "1985.22"
    assert any(check.rule == "amounts_sum" and check.ok for check in result.validation)


def test_it_does_not_rebuild_amounts_when_positions_and_total_disagree():
    result = _invoice(net="1.663,25 €", total="1.985,20 €")

    assert result.fields.get("net_amount") is None or result.fields["net_amount"].rule != "summe:positionen"
    assert not any(check.rule == "amounts_sum" and check.ok for check in result.validation)


def test_it_reads_english_labels_and_payment_terms():
    header = ["Invoice No.:    INV-2026-0042", "Invoice Date:   2026-11-03", "Customer No.:   KD04711"]
    result = _invoice(header=header, terms="Payment due within 30 days net. 2 % discount if paid within 10 days.")

    values = _values(result)
    assert values["invoice_number"] == "INV-2026-0042"
    assert values["invoice_date"] == "2026-11-03" and values["due_date"] == "2026-12-03"
    assert values["customer_number"] == "KD04711"


def test_it_takes_the_net_term_not_the_skonto_term_as_the_due_date():
    result = _invoice(terms="Zahlbar innerhalb 30 Tagen netto. Bei Zahlung innerhalb 10 Tagen 2 % Skonto.")

    assert _values(result)["due_date"] == "2026-12-03"
