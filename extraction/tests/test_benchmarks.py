import json

import pytest
from django.core.management import CommandError, call_command

from ablage.testing.invoices import ALL_LAYOUTS, HELD_OUT_LAYOUTS
from extraction.benchmarks import HEADER_FIELDS, ExtractionBenchConfig, format_extraction_report, plan, score

TRUTH = dict.fromkeys(HEADER_FIELDS) | {
    "document_type": "invoice", "invoice_number": "RE-1", "invoice_date": "2026-01-02", "supplier_name": "Müller GmbH",
    "net_amount": "100.00", "vat_amount": "19.00", "total_amount": "119.00", "currency": "EUR",
}  # fmt: skip
ITEMS = [{"quantity": "2", "unit_price": "50.00", "net_amount": "100.00"}]


def _case(*, decision="auto_approve", confidence=0.97, items=None, **got) -> dict:
    values = {name: TRUTH[name] for name in HEADER_FIELDS if TRUTH[name] is not None} | got
    return {
        "seed": 1, "layout": "D", "document_type": "invoice", "variant": "scan", "held_out": False,
        "truth": TRUTH, "truth_items": ITEMS, "document_type_read": "invoice",
        "fields": {name: [value, confidence] for name, value in values.items() if value is not None},
        "items": [{"quantity": "2", "unit_price": "50.00", "line_total": "100.00"}] if items is None else items,
        "decision": decision, "confidence": confidence, "seconds": 1.0,
    }  # fmt: skip


def test_it_scores_precision_recall_and_the_errors_nobody_reviews():
    figures = score([
        _case(),
        _case(total_amount="191.00", confidence=0.85),  # wrong and approved: an unseen error
        _case(decision="review", net_amount=None, bic="COLSDE33XXX", items=[]),  # missed + invented
    ])  # fmt: skip

    total, net, bic = (figures["fields"][name] for name in ("total_amount", "net_amount", "bic"))
    assert (total["tp"], total["fp"], total["fn"]) == (2, 1, 1)
    assert total["precision"] == pytest.approx(2 / 3, abs=1e-4) and total["recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert (net["precision"], net["recall"]) == (1.0, pytest.approx(2 / 3, abs=1e-4))
    assert bic["precision"] == 0.0 and bic["recall"] is None
    assert figures["fully_correct"] == pytest.approx(1 / 3, abs=1e-4)
    assert figures["straight_through"] == pytest.approx(1 / 3, abs=1e-4)
    assert figures["auto_approved"] == pytest.approx(2 / 3, abs=1e-4)
    # 7 fields in each of two approved documents, one of them wrong.
    assert figures["auto_approved_fields"] == 14
    assert figures["auto_approved_field_error_rate"] == pytest.approx(1 / 14, abs=1e-4)
    assert figures["line_items"] == {"precision": 1.0, "recall": pytest.approx(2 / 3, abs=1e-4)}
    top = figures["calibration"][-1]
    assert (top["low"], top["count"], top["right"]) == (0.95, 14, 13)
    assert figures["calibration"][3]["count"] == 7 and figures["calibration"][3]["right"] == 6


def test_it_plans_every_layout_with_born_digital_and_three_scan_variants():
    planned = plan(ExtractionBenchConfig(count=200, seed=5))

    assert {case["layout"] for case in planned} == set(ALL_LAYOUTS)
    assert {case["variant"] for case in planned} == {"born_digital", "scan", "rotated", "noisy"}
    assert 80 <= sum(case["variant"] != "born_digital" for case in planned) <= 120
    assert all(case["held_out"] == (case["layout"] in HELD_OUT_LAYOUTS) for case in planned)
    assert [case["seed"] for case in planned[:3]] == [5, 6, 7]
    for layout in ALL_LAYOUTS:
        variants = {case["variant"] for case in planned if case["layout"] == layout}
        assert len(variants) == 4, layout


def test_it_refuses_a_count_below_one():
    with pytest.raises(CommandError, match="--count"):
        call_command("bench", "extraction", "--count", "0")


def test_it_formats_a_table_with_targets():
    case = _case()
    groups = {name: score([case]) for name in ("born_digital", "scanned", "held_out_born_digital")}
    groups["held_out_scanned"] = score([])
    figures = {
        "corpus": {"documents": 3, "layouts": ["D"], "held_out_layouts": ["H", "I"], "suppliers": 1,
                   "variants": {"scan": 3}},
        "seconds": 1.0, "threshold": 0.85, "groups": groups,
        "scan_variants": {"scan": 1.0, "rotated": None, "noisy": None},
        "targets": {"scanned_header_f1": {"value": 1.0, "target": 0.97, "met": True},
                    "fully_correct": {"value": 1.0, "target": 0.8, "met": True},
                    "auto_approved_field_error_rate": {"value": 0.01, "target": 0.005, "met": False}},
    }  # fmt: skip

    text = format_extraction_report(figures)
    assert "total_amount" in text and "Kalibrierung" in text
    assert "erreicht" in text and "VERFEHLT" in text


@pytest.mark.django_db
def test_it_runs_the_real_pipeline_and_prints_json(capsys):
    # Three documents: A born-digital, B as an ordinary scan (Tesseract), C born-digital.
    call_command("bench", "extraction", "--count", "3", "--jobs", "1", "--json", verbosity=0)

    figures = json.loads(capsys.readouterr().out)
    assert figures["corpus"]["documents"] == 3
    assert figures["groups"]["born_digital"]["documents"] == 2
    assert figures["groups"]["scanned"]["documents"] == 1
    assert figures["groups"]["born_digital"]["header"]["f1"] == 1.0
    assert set(figures["targets"]) == {"scanned_header_f1", "fully_correct", "auto_approved_field_error_rate"}
