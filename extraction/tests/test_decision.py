import pytest

from extraction.decision import decide
from extraction.types import ExtractionResult, FieldValue, ValidationCheck

REQUIRED = ("invoice_number", "invoice_date", "total_amount", "supplier_name", "net_amount", "vat_amount", "currency")


def _result(
    document_type="invoice", *, fields=REQUIRED, checks_ok=True, confidence=0.95, checks=("amounts_sum",)
) -> ExtractionResult:
    return ExtractionResult(
        document_type=document_type,
        document_type_confidence=0.9,
        fields={name: FieldValue(name, "x", "x", 0.95) for name in fields},
        validation=[ValidationCheck(rule, checks_ok, "") for rule in checks],
        overall_confidence=confidence,
    )


def test_it_auto_approves_a_complete_consistent_confident_invoice():
    assert decide(_result(), threshold=0.9) == "auto_approve"


def test_it_sends_a_document_below_the_threshold_to_review():
    assert decide(_result(confidence=0.89), threshold=0.9) == "review"


def test_it_sends_a_document_with_a_failed_check_to_review_however_confident():
    assert decide(_result(checks_ok=False, confidence=1.0), threshold=0.5) == "review"


def test_it_sends_a_document_without_a_required_field_to_review():
    assert decide(_result(fields=REQUIRED[:3]), threshold=0.5) == "review"


@pytest.mark.parametrize("document_type", ["invoice", "credit_note"])
def test_it_sends_an_invoice_without_net_amount_to_review_because_its_sum_is_unchecked(document_type):
    without_net = tuple(name for name in REQUIRED if name != "net_amount")
    result = _result(document_type, fields=without_net, checks=("iban_checksum", "required_fields"))

    assert decide(result, threshold=0.5) == "review"


def test_it_sends_an_invoice_whose_sum_check_did_not_run_to_review():
    assert decide(_result(checks=("required_fields",)), threshold=0.5) == "review"


def test_it_approves_other_types_by_their_own_required_fields():
    assert decide(_result("delivery_note", fields=("supplier_name",)), threshold=0.9) == "auto_approve"


def test_it_never_auto_approves_an_unknown_document():
    assert decide(_result("unknown"), threshold=0.0) == "review"


def test_it_refuses_a_threshold_outside_zero_to_one():
    with pytest.raises(ValueError, match="Schwellenwert"):
        decide(_result(), threshold=1.5)


def test_it_sends_an_invoice_without_currency_to_review():
    without_currency = tuple(name for name in REQUIRED if name != "currency")

    assert decide(_result(fields=without_currency), threshold=0.5) == "review"
