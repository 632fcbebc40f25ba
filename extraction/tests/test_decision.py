import uuid

import pytest

from extraction.decision import OCR_FIELD_FLOOR, decide, decide_with_reason, in_quality_sample, sample_bucket
from extraction.types import ExtractionResult, FieldValue, SupplierEvidence, ValidationCheck

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


# --- thresholds per type -------------------------------------------------------------------------

THRESHOLDS = {"invoice": 0.85, "credit_note": 0.9, "receipt": 0.8, "delivery_note": 0.8}


def test_it_applies_the_threshold_of_the_documents_type():
    credit_note = _result("credit_note", confidence=0.87)

    assert decide(credit_note, threshold=0.85) == "auto_approve"
    assert decide(credit_note, threshold=0.85, thresholds_by_type=THRESHOLDS) == "review"
    assert decide(_result(confidence=0.87), threshold=0.95, thresholds_by_type=THRESHOLDS) == "auto_approve"


def test_it_falls_back_to_the_general_threshold_for_types_without_their_own():
    delivery = _result("delivery_note", fields=("supplier_name",), confidence=0.82)
    reminder = _result("reminder", fields=("invoice_number", "total_amount", "supplier_name"), confidence=0.82)

    assert decide(delivery, threshold=0.9, thresholds_by_type=THRESHOLDS) == "auto_approve"
    assert decide(reminder, threshold=0.9, thresholds_by_type=THRESHOLDS) == "review"


def test_it_refuses_a_type_threshold_outside_zero_to_one():
    with pytest.raises(ValueError, match="Schwellenwert für „receipt“"):
        decide(_result(), threshold=0.85, thresholds_by_type={"receipt": 80})


# --- quality sample ------------------------------------------------------------------------------


def test_it_draws_the_same_documents_for_the_sample_every_time():
    keys = [str(uuid.UUID(int=index)) for index in range(2_000)]

    first = [in_quality_sample(key, 0.05) for key in keys]

    assert first == [in_quality_sample(key, 0.05) for key in keys]
    # Pinned buckets: SHA-256 is fixed by its standard, so a document keeps its bucket on every
    # machine and in every release ("a" hashes to ca978112ca1bbdca..., 0xca978112ca1bbdca % 10000).
    assert sample_bucket("a") == 2250
    assert sample_bucket("doc-1") == 3401
    assert sample_bucket("00000000-0000-0000-0000-000000000000") == 8868


def test_it_samples_five_percent_of_ten_thousand_documents():
    keys = [str(uuid.UUID(int=index * 7919 + 1)) for index in range(10_000)]

    sampled = sum(in_quality_sample(key, 0.05) for key in keys)

    assert 0.043 <= sampled / 10_000 <= 0.057


def test_it_samples_nothing_at_rate_zero_and_everything_at_rate_one():
    keys = [f"doc-{index}" for index in range(500)]

    assert not any(in_quality_sample(key, 0.0) for key in keys)
    assert all(in_quality_sample(key, 1.0) for key in keys)


def test_it_sends_a_sampled_document_to_review_that_would_have_been_approved():
    drawn = next(f"doc-{index}" for index in range(1_000) if in_quality_sample(f"doc-{index}", 0.05))
    spared = next(f"doc-{index}" for index in range(1_000) if not in_quality_sample(f"doc-{index}", 0.05))

    assert decide(_result(), threshold=0.9, sample_key=drawn, sample_rate=0.05) == "review"
    assert decide(_result(), threshold=0.9, sample_key=spared, sample_rate=0.05) == "auto_approve"
    assert decide(_result(), threshold=0.9, sample_key=drawn) == "auto_approve"


def test_it_needs_a_key_to_draw_a_sample_and_a_rate_between_zero_and_one():
    with pytest.raises(ValueError, match="Schlüssel"):
        decide(_result(), threshold=0.9, sample_rate=0.05)
    with pytest.raises(ValueError, match="Stichprobenanteil"):
        decide(_result(), threshold=0.9, sample_key="doc-1", sample_rate=5)


# --- reasons -------------------------------------------------------------------------------------


def test_it_names_the_sample_as_the_reason():
    drawn = next(f"doc-{index}" for index in range(1_000) if in_quality_sample(f"doc-{index}", 0.05))

    assert decide_with_reason(_result(), threshold=0.9, sample_key=drawn, sample_rate=0.05) == (
        "review",
        "Stichprobe zur Qualitätssicherung (5 %)",
    )


def test_it_names_the_failed_checks_as_the_reason():
    result = _result(checks=("amounts_sum",))
    result.validation.append(ValidationCheck("iban_checksum", False, "Die Prüfsumme der IBAN stimmt nicht."))

    assert decide_with_reason(result, threshold=0.5) == (
        "review",
        "Prüfung fehlgeschlagen: Die Prüfsumme der IBAN stimmt nicht.",
    )


def test_it_names_confidence_and_threshold_of_the_type_as_the_reason():
    decision, reason = decide_with_reason(
        _result("credit_note", confidence=0.72), threshold=0.85, thresholds_by_type={"credit_note": 0.855}
    )

    assert (decision, reason) == ("review", "Sicherheit 72 % unter Schwelle 85,5 %")


def test_it_names_the_missing_required_fields_as_the_reason():
    result = _result(fields=("invoice_date", "supplier_name", "net_amount", "vat_amount", "currency"))

    assert decide_with_reason(result, threshold=0.5) == (
        "review",
        "Pflichtfelder fehlen: Rechnungsnummer, Gesamtbetrag",
    )


def test_it_names_unproven_amounts_and_an_unknown_type_as_reasons():
    without_net = tuple(name for name in REQUIRED if name != "net_amount")

    assert decide_with_reason(_result(fields=without_net), threshold=0.5) == (
        "review",
        "Beträge nicht belegt, es fehlen: Nettobetrag",
    )
    assert decide_with_reason(_result(checks=("required_fields",)), threshold=0.5)[1] == (
        "Beträge nicht belegt: Netto + USt = Gesamtbetrag wurde nicht geprüft."
    )
    assert decide_with_reason(_result("unknown"), threshold=0.0) == ("review", "Dokumenttyp nicht erkannt.")


def test_it_says_why_it_approved():
    assert decide_with_reason(_result(confidence=0.953), threshold=0.85) == (
        "auto_approve",
        "Alle Prüfungen bestanden; Sicherheit 95,3 %, Schwelle 85 %.",
    )


# --- the scan gate ------------------------------------------------------------------------------

CONFIRMED = SupplierEvidence(name="Müller Bürobedarf GmbH", rule="vat_id", confidence=1.0)


def test_it_sends_a_scan_whose_supplier_is_not_in_the_master_data_to_review():
    decision, reason = decide_with_reason(_result(), threshold=0.5, content_source="ocr", supplier=None)

    assert decision == "review"
    assert reason == "Gescannter Beleg: Lieferant nicht in den Stammdaten gefunden."


def test_it_approves_the_same_born_digital_document_without_master_data():
    assert decide(_result(), threshold=0.5, content_source="text_layer", supplier=None) == "auto_approve"


def test_it_approves_a_scan_whose_supplier_an_identifier_confirms():
    assert decide(_result(), threshold=0.5, content_source="ocr", supplier=CONFIRMED) == "auto_approve"


@pytest.mark.parametrize(
    ("supplier", "expected"),
    [
        (SupplierEvidence("Müller GmbH", "vat_id", 1.0, conflicts=("iban",)), "Kennungen gehören zu verschiedenen"),
        (SupplierEvidence("Müller GmbH", "name_fuzzy", 0.86), "nicht sicher bestätigt (86 %)"),
        (SupplierEvidence("Müller GmbH", "sender_email", 1.0), "nicht sicher bestätigt (100 %)"),
    ],
)
def test_it_sends_a_scan_with_an_unconfirmed_or_conflicting_supplier_to_review(supplier, expected):
    decision, reason = decide_with_reason(_result(), threshold=0.5, content_source="ocr", supplier=supplier)

    assert decision == "review"
    assert expected in reason


def test_it_sends_a_scan_with_one_weak_field_to_review_however_confident_the_rest():
    result = _result(confidence=0.99)
    result.fields["total_amount"].confidence = OCR_FIELD_FLOOR - 0.01

    decision, reason = decide_with_reason(result, threshold=0.5, content_source="ocr", supplier=CONFIRMED)

    assert decision == "review"
    assert reason.startswith("Gescannter Beleg: unsicher gelesen")
    assert "Gesamtbetrag" in reason
    # The same field on a born-digital page is no reason: its text layer is exact.
    assert decide(result, threshold=0.5, content_source="text_layer") == "auto_approve"


def test_it_holds_a_weak_iban_on_a_scan_back_too():
    result = _result(fields=(*REQUIRED, "iban"))
    result.fields["iban"].confidence = 0.5

    assert decide(result, threshold=0.5, content_source="ocr", supplier=CONFIRMED) == "review"
