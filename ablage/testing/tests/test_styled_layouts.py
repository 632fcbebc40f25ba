from datetime import date, timedelta
from decimal import Decimal

import pypdfium2 as pdfium
import pytest

from ablage.testing.german import (
    format_amount,
    format_amount_as,
    format_date_as,
    group_iban,
    is_valid_iban,
    is_valid_vat_id,
)
from ablage.testing.invoices import (
    ALL_LAYOUTS,
    HELD_OUT_LAYOUTS,
    SUPPLIERS,
    TUNING_LAYOUTS,
    random_invoice,
    render_pdf,
)
from ablage.testing.styled_layouts import STYLES

NEW_LAYOUTS = tuple(STYLES)


def _text(pdf: bytes) -> str:
    document = pdfium.PdfDocument(pdf)
    try:
        return "\n".join(document[index].get_textpage().get_text_bounded() for index in range(len(document)))
    finally:
        document.close()


def test_it_offers_at_least_eight_layouts_two_of_them_held_out():
    assert len(ALL_LAYOUTS) >= 8
    assert HELD_OUT_LAYOUTS == ("H", "I")
    assert set(TUNING_LAYOUTS) | set(HELD_OUT_LAYOUTS) == set(ALL_LAYOUTS)
    assert random_invoice(3, layout="H").held_out and not random_invoice(3, layout="D").held_out


def test_it_draws_the_newer_layouts_from_thirty_suppliers_with_valid_checksums():
    assert len(SUPPLIERS) >= 30
    assert len({supplier.iban for supplier in SUPPLIERS}) == len(SUPPLIERS)
    assert len({supplier.vat_id for supplier in SUPPLIERS}) == len(SUPPLIERS)
    assert all(is_valid_iban(supplier.iban) and is_valid_vat_id(supplier.vat_id) for supplier in SUPPLIERS)
    drawn = {random_invoice(seed, layout=NEW_LAYOUTS[seed % len(NEW_LAYOUTS)]).supplier.name for seed in range(300)}
    assert len(drawn) >= 30


def test_it_keeps_the_classic_layouts_drawing_from_the_classic_suppliers():
    # Documents of A-C are named by seed in earlier tests and benchmarks; they must not change.
    classic = {random_invoice(seed, layout="B").supplier.name for seed in range(80)}
    assert classic <= {supplier.name for supplier in SUPPLIERS[:7]}


@pytest.mark.parametrize(
    ("value", "style", "printed"),
    [
        (date(2026, 12, 31), "dmy", "31.12.2026"),
        (date(2026, 12, 31), "dmy2", "31.12.26"),
        (date(2026, 12, 31), "long", "31. Dezember 2026"),
        (date(2026, 3, 1), "long", "1. März 2026"),
        (date(2026, 12, 31), "iso", "2026-12-31"),
    ],
)
def test_it_formats_dates_the_ways_invoices_print_them(value, style, printed):
    assert format_date_as(value, style) == printed


@pytest.mark.parametrize(
    ("style", "printed"),
    [
        ("plain", "1.234,56"),
        ("ungrouped", "1234,56"),
        ("euro_prefix", "€ 1.234,56"),
        ("eur_suffix", "1.234,56 EUR"),
        ("euro_suffix", "1.234,56 €"),
    ],
)
def test_it_formats_amounts_the_ways_invoices_print_them(style, printed):
    assert format_amount_as(Decimal("1234.56"), style) == printed
    with pytest.raises(ValueError, match="Betragsformat"):
        format_amount_as(Decimal("1"), "roman")


@pytest.mark.parametrize("layout", NEW_LAYOUTS)
def test_it_prints_every_ground_truth_identifier_in_the_layouts_own_formats(layout):
    style = STYLES[layout]
    spec = random_invoice(21, layout=layout)
    text = _text(render_pdf(spec))
    truth = spec.ground_truth()

    assert spec.invoice_number in text and spec.supplier.name in text and spec.supplier.vat_id in text
    assert group_iban(spec.supplier.iban) in text and spec.supplier.bic in text
    assert format_date_as(spec.invoice_date, style.date_style) in text
    assert format_amount_as(spec.total_amount, style.amount_style) in text
    assert truth["customer_number"] in text and truth["order_number"] in text
    assert style.wording.number["invoice"] in text


def test_it_labels_in_english_or_german_as_the_style_says():
    english = _text(render_pdf(random_invoice(4, layout="D")))
    german = _text(render_pdf(random_invoice(4, layout="E")))

    assert all(label in english for label in ("Invoice No.:", "Invoice Date:", "Subtotal", "VAT 19 %", "Total"))
    assert all(label in german for label in ("RECHNUNG", "Rechnungs-Nr.", "Warenwert", "Zu zahlen"))


def test_it_prints_a_credit_note_negative_where_the_style_says_but_reports_it_positive():
    spec = random_invoice(5, layout="F", document_type="credit_note")
    text = _text(render_pdf(spec))
    truth = spec.ground_truth()

    assert "-" + format_amount(spec.total_amount).replace(".", "") in text
    assert Decimal(truth["total_amount"]) == spec.total_amount > 0
    assert "-" not in format_amount_as(spec.total_amount, STYLES["D"].amount_style)


def test_it_offers_skonto_and_keeps_the_net_term_as_the_due_date():
    spec = next(
        spec
        for seed in range(40)
        if (spec := random_invoice(seed, layout="E")).skonto_rate is not None and not spec.due_date_printed
    )
    text = _text(render_pdf(spec))
    truth = spec.ground_truth()

    assert f"Zahlbar innerhalb {spec.payment_days} Tagen netto." in text
    assert f"Bei Zahlung innerhalb {spec.skonto_days} Tagen" in text and "Skonto" in text
    assert spec.payment_days > spec.skonto_days
    assert truth["due_date"] == (spec.invoice_date + timedelta(days=spec.payment_days)).isoformat()
    assert truth["skonto_days"] == spec.skonto_days and Decimal(truth["skonto_rate"]) == spec.skonto_rate


def test_it_mixes_zero_seven_and_nineteen_percent_vat():
    rates = {group.rate for seed in range(120) for group in random_invoice(seed, layout="G").vat_groups}
    assert {Decimal("0"), Decimal("7"), Decimal("19")} <= rates


def test_it_is_reproducible_from_the_seed_in_the_newer_layouts():
    assert render_pdf(random_invoice(11, layout="F")) == render_pdf(random_invoice(11, layout="F"))
    assert random_invoice(11, layout="F").ground_truth() == random_invoice(11, layout="F").ground_truth()
