import re
from datetime import date
from decimal import Decimal

import pypdfium2 as pdfium
import pytest

from ablage.testing.german import format_amount, format_date, group_iban, is_valid_iban, is_valid_vat_id
from ablage.testing.invoices import LAYOUTS, SUPPLIERS, random_invoice, render_pdf

FIELDS = (
    "invoice_number",
    "invoice_date",
    "due_date",
    "supplier_name",
    "supplier_vat_id",
    "iban",
    "net_amount",
    "vat_amount",
    "total_amount",
    "currency",
    "bic",
    "order_number",
    "customer_number",
)
AMOUNT = re.compile(r"-?\d+\.\d{2}")


def _pdf_text(pdf: bytes) -> list[str]:
    document = pdfium.PdfDocument(pdf)
    try:
        return [document[index].get_textpage().get_text_bounded() for index in range(len(document))]
    finally:
        document.close()


@pytest.mark.parametrize("seed", range(60))
def test_it_produces_self_consistent_ground_truth(seed):
    truth = random_invoice(seed).ground_truth()

    assert set(FIELDS) <= truth.keys()
    for name in ("net_amount", "vat_amount", "total_amount"):
        assert AMOUNT.fullmatch(truth[name]), (name, truth[name])
    assert Decimal(truth["net_amount"]) + Decimal(truth["vat_amount"]) == Decimal(truth["total_amount"])
    breakdown = truth["vat_breakdown"]
    assert sum(Decimal(group["net_amount"]) for group in breakdown) == Decimal(truth["net_amount"])
    assert sum(Decimal(group["vat_amount"]) for group in breakdown) == Decimal(truth["vat_amount"])
    for group in breakdown:
        expected = (Decimal(group["net_amount"]) * Decimal(group["rate"]) / 100).quantize(
            Decimal("0.01"), "ROUND_HALF_UP"
        )
        assert Decimal(group["vat_amount"]) == expected
        assert group["rate"] in ("7", "19")
    items = truth["line_items"]
    assert sum(Decimal(item["net_amount"]) for item in items) == Decimal(truth["net_amount"])
    for item in items:
        assert Decimal(item["net_amount"]) == (Decimal(item["quantity"]) * Decimal(item["unit_price"])).quantize(
            Decimal("0.01"), "ROUND_HALF_UP"
        )
        assert item["unit"] in ("Stk.", "Std.", "kg")
    assert is_valid_iban(truth["iban"]) and re.fullmatch(r"DE\d{20}", truth["iban"])
    assert is_valid_vat_id(truth["supplier_vat_id"]) and re.fullmatch(r"DE\d{9}", truth["supplier_vat_id"])
    assert truth["currency"] == "EUR"
    assert date.fromisoformat(truth["due_date"]) > date.fromisoformat(truth["invoice_date"])


def test_it_draws_from_at_least_six_suppliers_with_valid_bank_data():
    assert len(SUPPLIERS) >= 6
    assert len({supplier.iban for supplier in SUPPLIERS}) == len(SUPPLIERS)
    assert all(is_valid_iban(supplier.iban) and is_valid_vat_id(supplier.vat_id) for supplier in SUPPLIERS)
    assert len({random_invoice(seed).supplier.name for seed in range(80)}) >= 6


def test_it_often_reaches_four_digit_totals_and_mixes_vat_rates():
    specs = [random_invoice(seed) for seed in range(40)]
    assert sum(spec.total_amount >= 1000 for spec in specs) >= 20
    assert any(len(spec.vat_groups) == 2 for spec in specs)


def test_it_is_reproducible_from_the_seed():
    assert random_invoice(11).ground_truth() == random_invoice(11).ground_truth()
    assert random_invoice(11).ground_truth() != random_invoice(12).ground_truth()
    assert render_pdf(random_invoice(11)) == render_pdf(random_invoice(11))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_it_prints_number_amounts_and_iban_into_the_text_layer(layout):
    spec = random_invoice(21, layout=layout)
    text = "\n".join(_pdf_text(render_pdf(spec)))

    assert spec.invoice_number in text
    assert format_date(spec.invoice_date) in text
    assert format_amount(spec.total_amount) in text
    assert format_amount(spec.net_amount) in text
    assert spec.supplier.iban in text or group_iban(spec.supplier.iban) in text
    assert spec.supplier.vat_id in text
    assert spec.supplier.name in text  # umlauts and ß survive the font embedding


def test_it_prints_thousands_with_a_dot():
    spec = next(spec for spec in map(random_invoice, range(50)) if spec.total_amount >= 1000)
    text = "\n".join(_pdf_text(render_pdf(spec)))
    assert re.search(r"\d{1,3}\.\d{3},\d{2}", text)


def test_it_uses_the_wording_of_each_layout():
    texts = {layout: "\n".join(_pdf_text(render_pdf(random_invoice(5, layout=layout)))) for layout in LAYOUTS}

    assert all(label in texts["A"] for label in ("Rechnungsnummer:", "Rechnungsdatum:", "Kundennummer:"))
    assert "Nettobetrag" in texts["A"] and "MwSt." in texts["A"] and "Gesamtbetrag" in texts["A"]
    assert "RECHNUNG" in texts["B"] and "Rechnung Nr." in texts["B"]
    assert all(label in texts["B"] for label in ("Summe netto", "Umsatzsteuer", "Rechnungsbetrag"))
    spec_c = random_invoice(5, layout="C")
    assert f"Rechnung Nr. {spec_c.invoice_number} vom {format_date(spec_c.invoice_date)}" in texts["C"]
    assert all(label in texts["C"] for label in ("Zwischensumme", "MwSt.", "Endbetrag", "IBAN: DE", "BIC: "))


def test_it_states_the_due_date_or_the_payment_term():
    specs = [random_invoice(seed, layout="A") for seed in range(12)]
    explicit = next(spec for spec in specs if spec.due_date_printed)
    term = next(spec for spec in specs if not spec.due_date_printed)

    assert f"Fällig am {format_date(explicit.due_date)}" in "".join(_pdf_text(render_pdf(explicit)))
    assert f"Zahlbar innerhalb {term.payment_days} Tagen ohne Abzug" in "".join(_pdf_text(render_pdf(term)))


def test_it_marks_a_credit_note_as_gutschrift():
    spec = random_invoice(3, layout="A", document_type="credit_note")
    text = "".join(_pdf_text(render_pdf(spec)))
    truth = spec.ground_truth()

    assert "Gutschrift" in text and "Gutschriftsnummer" in text
    assert "Rechnungsnummer" not in text
    assert truth["document_type"] == "credit_note"
    assert truth["due_date"] is None
    assert truth["reference_invoice_number"] == spec.reference_invoice_number


def test_it_leaves_amounts_out_of_a_delivery_note():
    spec = random_invoice(3, layout="B", document_type="delivery_note")
    text = "".join(_pdf_text(render_pdf(spec)))
    truth = spec.ground_truth()

    assert "LIEFERSCHEIN" in text and spec.invoice_number in text
    assert "Rechnungsbetrag" not in text
    assert truth["invoice_number"] is None and truth["total_amount"] is None
    assert truth["document_number"] == spec.invoice_number


def test_it_continues_a_long_table_on_the_next_page_with_totals_at_the_end():
    spec = random_invoice(9, layout="A", item_count=45)
    pages = _pdf_text(render_pdf(spec))
    total = format_amount(spec.total_amount)

    assert len(pages) >= 2
    assert "Übertrag" in pages[0] and "Übertrag" in pages[1]
    assert total not in pages[0] and "Gesamtbetrag" not in pages[0]
    assert total in pages[-1] and "Gesamtbetrag" in pages[-1]
    for item in spec.line_items:
        assert any(item.description in page for page in pages)


def test_it_refuses_unknown_layouts_and_types():
    with pytest.raises(ValueError, match="Layout"):
        random_invoice(1, layout="Z")
    with pytest.raises(ValueError, match="Dokumenttyp"):
        random_invoice(1, document_type="rechnung")
    with pytest.raises(ValueError, match="Layout"):
        render_pdf(random_invoice(1), "Z")


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("document_type", ("invoice", "credit_note", "delivery_note", "letter"))
def test_it_lists_in_the_ground_truth_only_identifiers_the_page_prints(layout, document_type):
    spec = random_invoice(7, layout=layout, document_type=document_type)
    text = "\n".join(_pdf_text(render_pdf(spec)))
    truth = spec.ground_truth()

    for name in ("iban", "bic", "customer_number", "order_number"):
        if truth[name] is not None:
            printed = {truth[name], group_iban(truth[name])} if name == "iban" else {truth[name]}
            assert any(value in text for value in printed), (name, truth[name])
    # The order number stands alone after its label, not as "Ihre Bestellung: Bestellung 0614".
    assert not any(random_invoice(seed).order_number.startswith("Bestellung") for seed in range(40))


def test_it_leaves_out_of_the_ground_truth_what_a_layout_does_not_print():
    letter_b = random_invoice(7, layout="B", document_type="letter").ground_truth()
    delivery_b = random_invoice(7, layout="B", document_type="delivery_note").ground_truth()
    letter_c = random_invoice(7, layout="C", document_type="letter").ground_truth()
    credit_b = random_invoice(7, layout="B", document_type="credit_note").ground_truth()

    assert letter_b["iban"] is None and letter_b["bic"] is None and delivery_b["iban"] is None
    assert letter_c["customer_number"] is None and letter_c["iban"] is not None
    assert credit_b["order_number"] is None
