"""The newer layouts (D-G) read by the real pipeline: their wordings, formats and conventions.

Held-out layouts (H, I) are deliberately absent: no test may tune rules on them; they are measured
only by ``manage.py bench extraction``. Born-digital documents cost milliseconds, so each tuned
layout is read with an invoice and a credit note; two scans cover Tesseract on the new formats.
"""

from dataclasses import asdict

import pytest

from ablage.testing.styled_layouts import HELD_OUT_LAYOUTS, STYLES
from extraction.benchmarks import HEADER_FIELDS, measure_case
from ocr.options import defaults

TUNED_NEW_LAYOUTS = tuple(layout for layout in STYLES if layout not in HELD_OUT_LAYOUTS)


def _read(seed: int, layout: str, document_type: str, variant: str = "born_digital") -> dict:
    planned = {"seed": seed, "layout": layout, "document_type": document_type, "variant": variant}
    return measure_case(planned | {"held_out": False}, asdict(defaults().but(quality_sample_rate=0.0)))


def _wrong(case: dict, names=HEADER_FIELDS) -> dict:
    got = {name: case["fields"].get(name, [None])[0] for name in names}
    return {name: (got[name], case["truth"][name]) for name in names if got[name] != case["truth"][name]}


@pytest.mark.parametrize("layout", TUNED_NEW_LAYOUTS)
@pytest.mark.parametrize(("seed", "document_type"), [(31, "invoice"), (32, "credit_note"), (40, "invoice")])
def test_it_reads_every_header_field_of_the_newer_layouts_born_digital(layout, seed, document_type):
    case = _read(seed, layout, document_type)

    assert case["document_type_read"] == document_type
    assert not _wrong(case)


def test_it_reports_a_credit_note_printed_negative_with_positive_amounts():
    case = _read(5, "F", "credit_note")

    assert not _wrong(case, ("net_amount", "vat_amount", "total_amount"))
    assert float(case["fields"]["total_amount"][0]) > 0
    assert case["decision"] == "auto_approve"


def test_it_works_out_the_due_date_from_english_and_skonto_terms():
    english = _read(32, "D", "invoice")  # "Payment due within 14 days net."
    assert english["fields"]["due_date"][0] == english["truth"]["due_date"]
    skonto = _read(2, "E", "invoice")  # "Zahlbar innerhalb 30 Tagen netto. Bei Zahlung innerhalb 7 Tagen 3 % Skonto"
    assert skonto["fields"]["due_date"][0] == skonto["truth"]["due_date"]


def test_it_reads_positions_under_english_column_heads():
    case = _read(5, "D", "invoice")

    assert [(item["quantity"], item["unit_price"], item["line_total"]) for item in case["items"]] == [
        (item["quantity"], item["unit_price"], item["net_amount"]) for item in case["truth_items"]
    ]


@pytest.mark.parametrize(("seed", "layout", "document_type"), [(13, "E", "invoice"), (14, "F", "credit_note")])
def test_it_reads_the_core_fields_of_scans_in_the_newer_formats(seed, layout, document_type):
    case = _read(seed, layout, document_type, variant="scan")

    core = ("invoice_number", "invoice_date", "supplier_vat_id", "iban", "total_amount", "currency")
    assert not _wrong(case, core)
    # A wrong field in an approved document is the error nobody catches.
    if case["decision"] == "auto_approve":
        assert not _wrong(case)
