"""Credit notes name the invoice they correct: that number is the reference, never their own."""

from datetime import date

import pytest

from extraction.engine import extract
from extraction.tests.pages import PageBuilder
from extraction.tests.test_engine import _footer, _letterhead, _totals

TODAY = date(2026, 11, 20)


def _credit_note(header: list[str], body: str, *, title="Gutschrift"):
    page = PageBuilder()
    _letterhead(page)
    page.text(0.08, 0.30, title, size=1.6)
    page.lines(0.60, 0.18, header)
    page.text(0.08, 0.33, body)
    _totals(page, net="100,00 €", vat="19,00 €", total="119,00 €")
    _footer(page)
    return extract([page.build()], today=TODAY)


@pytest.mark.parametrize(
    "body",
    [
        "Bezug: Rechnung RE-2026-0042",
        "Gutschrift zu Rechnung Nr. RE-2026-0042 vom 03.11.2026",
        "Bezugnehmend auf unsere Rechnung Nr. RE-2026-0042 schreiben wir Ihnen gut:",
        "Korrektur zu Ihrer Rechnung RE-2026-0042",
        "Originalrechnung: RE-2026-0042",
        "Credit note referring to invoice no. RE-2026-0042",
        "Credit for invoice RE-2026-0042 dated 03.11.2026",
        "Original invoice: RE-2026-0042",
    ],
)
def test_it_reads_the_referenced_invoice_apart_from_the_own_number(body):
    result = _credit_note(["Gutschrift-Nr.: GS-2026-0007", "Datum: 10.11.2026"], body)

    assert result.document_type == "credit_note"
    assert result.fields["invoice_number"].normalized == "GS-2026-0007"
    assert result.fields["reference_invoice_number"].normalized == "RE-2026-0042"


@pytest.mark.parametrize(
    "body",
    [
        "Bezug: Rechnung Nr. RE-2026-0042",
        "Ihre Rechnung RE-2026-0042 vom 03.11.2026 wird wie folgt korrigiert.",
        "Storno zu Rechnung RE-2026-0042",
        "Credit note for invoice RE-2026-0042",
    ],
)
def test_it_leaves_the_own_number_empty_rather_than_take_the_reference(body):
    result = _credit_note(["Datum: 10.11.2026"], body)

    assert result.document_type == "credit_note"
    assert "invoice_number" not in result.fields
    assert result.fields["reference_invoice_number"].normalized == "RE-2026-0042"
    failed = {check.rule for check in result.validation if not check.ok}
    assert "required_fields" in failed


def test_it_reads_a_reference_printed_under_its_label():
    page = PageBuilder()
    _letterhead(page)
    page.text(0.08, 0.30, "GUTSCHRIFT", size=1.6)
    page.text(0.08, 0.33, "Gutschrift Nr.      Datum          Kundennummer      Zu Rechnung")
    page.text(0.08, 0.345, "GS-2026-0007        10.11.2026     KD-4711           RE-2026-0042")
    _totals(page, net="100,00 €", vat="19,00 €", total="119,00 €")
    _footer(page)

    result = extract([page.build()], today=TODAY)

    assert result.fields["invoice_number"].normalized == "GS-2026-0007"
    assert result.fields["reference_invoice_number"].normalized == "RE-2026-0042"


def test_it_ignores_reference_wording_that_introduces_no_invoice():
    result = _credit_note(
        ["Gutschrift-Nr.: GS-2026-0007", "Datum: 10.11.2026"], "Bezug: Ihre Bestellung vom 01.11.2026"
    )

    assert result.fields["invoice_number"].normalized == "GS-2026-0007"
    assert "reference_invoice_number" not in result.fields
