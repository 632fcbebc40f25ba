import pytest
from django.core.management import CommandError, call_command

from extraction.evaluation import EvaluationCase, evaluate, format_report, plan
from extraction.types import ExtractionResult, FieldValue

TRUTH = {
    "invoice_number": "RE-1", "invoice_date": "2026-01-02", "supplier_name": "Müller GmbH",
    "supplier_vat_id": "DE123456789", "iban": "DE44370501981902345678", "net_amount": "100.00",
    "vat_amount": "19.00", "total_amount": "119.00", "currency": "EUR", "due_date": None, "bic": None,
    "order_number": None, "customer_number": None,
}  # fmt: skip


def _case(name, *, decision="auto_approve", **overrides) -> EvaluationCase:
    values = {key: value for key, value in TRUTH.items() if value is not None} | overrides
    fields = {key: FieldValue(key, value, value, 0.9) for key, value in values.items() if value is not None}
    result = ExtractionResult("invoice", 0.9, fields=fields)
    return EvaluationCase(name, "invoice", "A", "scan", TRUTH, result, decision)


def test_it_scores_fields_and_counts_a_wrong_auto_approval():
    report = evaluate([
        _case("right"),
        _case("wrong-total", total_amount="191.00"),
        _case("reviewed", decision="review", iban=None, bic="COLSDE33XXX"),
    ])  # fmt: skip

    assert report.rate("total_amount") == pytest.approx(2 / 3)
    assert report.rate("iban") == pytest.approx(2 / 3)
    assert report.fields["bic"].false_positives == 1
    assert report.auto_approved == 2 and report.auto_approved_correct == 1
    assert report.wrong_auto_approvals == ["wrong-total"]
    assert report.auto_approve_precision == 0.5
    assert "Präzision 50.0 %" in format_report(report)


def test_it_plans_layouts_in_turn_from_consecutive_seeds():
    planned = plan(4, seed=7, layouts=("A", "B"))

    assert [(case.seed, case.layout) for case in planned] == [(7, "A"), (8, "B"), (9, "A"), (10, "B")]


def test_it_refuses_an_unknown_layout_in_the_command():
    with pytest.raises(CommandError, match="Ungültige Layouts: D"):
        call_command("evaluate_extraction", "--layouts", "A,D")


@pytest.mark.django_db
def test_it_prints_the_table_for_born_digital_documents(capsys):
    call_command("evaluate_extraction", "--count", "3")

    output = capsys.readouterr().out
    assert "Digitale PDFs: 3 Dokumente" in output
    assert "*total_amount" in output and "100.0 %" in output
