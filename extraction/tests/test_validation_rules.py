"""Checks that need more than the page: duplicate invoice numbers and the supplier template's own rules."""

import pytest

from extraction.decision import decide_with_reason
from extraction.types import ExtractionResult, FieldValue, ValidationCheck
from extraction.validation import duplicate_invoice_check, invoice_number_key, template_checks


def _fields(**values: str) -> dict[str, FieldValue]:
    return {name: FieldValue(name, value, value, 0.95) for name, value in values.items()}


def _by_rule(checks) -> dict[str, ValidationCheck]:
    return {check.rule: check for check in checks}


# --- duplicate invoice number --------------------------------------------------------------------


def test_it_compares_invoice_numbers_without_spaces_and_case():
    assert invoice_number_key(" re-2026 0042 ") == invoice_number_key("RE-20260042") == "RE-20260042"


def test_it_passes_an_invoice_number_new_for_the_supplier():
    check = duplicate_invoice_check("RE-1", [])
    assert (check.rule, check.ok, check.fields) == ("duplicate_invoice_number", True, ("invoice_number",))


def test_it_fails_a_known_invoice_number_and_names_the_earlier_document():
    check = duplicate_invoice_check("RE-1", ["„Rechnung März“ vom 03.03.2026"])

    assert check.ok is False
    assert check.message == (
        "Mögliche Doppelerfassung: Rechnungsnummer RE-1 dieses Lieferanten gibt es schon "
        "(„Rechnung März“ vom 03.03.2026)."
    )


def test_a_duplicate_blocks_auto_approval_however_confident():
    fields = _fields(
        invoice_number="RE-1",
        invoice_date="2026-03-03",
        total_amount="119.00",
        net_amount="100.00",
        vat_amount="19.00",
        currency="EUR",
        supplier_name="Lindner GmbH",
    )
    checks = [
        ValidationCheck("amounts_sum", True, "ok"),
        duplicate_invoice_check("RE-1", ["„alt“ vom 01.03.2026"]),
    ]
    result = ExtractionResult("invoice", 1.0, fields, validation=checks, overall_confidence=0.99)

    decision, reason = decide_with_reason(result, threshold=0.5)

    assert decision == "review"
    assert "Mögliche Doppelerfassung" in reason


# --- supplier template validation rules ----------------------------------------------------------

AMOUNTS = _fields(
    net_amount="100.00",
    vat_amount="19.00",
    total_amount="119.00",
    invoice_date="2026-03-03",
    invoice_number="RE-1",
    currency="EUR",
)


def _template(rules, fields=AMOUNTS, checks=()):
    return _by_rule(template_checks(fields, rules, template="Lindner Standard", checks=list(checks)))


def test_it_passes_the_templates_required_fields_when_present():
    check = _template({"required_fields": ["invoice_number", "total_amount"]})["template_required_fields"]
    assert check.ok is True


def test_it_fails_the_templates_required_fields_and_names_the_missing_ones():
    check = _template({"required_fields": ["invoice_number", "order_number"]})["template_required_fields"]

    assert check.ok is False
    assert check.message == "Vorlage Lindner Standard verlangt Bestellnummer."
    assert check.fields == ("order_number",)


@pytest.mark.parametrize(
    ("field", "condition", "value", "ok"),
    [
        ("total_amount", "greater_than", 0, True),
        ("total_amount", "greater_than", 119, False),
        ("total_amount", "greater_or_equal", "119.00", True),
        ("total_amount", "less_than", 100, False),
        ("total_amount", "less_or_equal", 119, True),
        ("currency", "equals", "EUR", True),
        ("currency", "not_equals", "EUR", False),
        ("invoice_number", "matches", r"RE-\d+", True),
        ("invoice_number", "matches", r"GS-\d+", False),
        ("currency", "one_of", ["EUR", "CHF"], True),
        ("currency", "one_of", ["USD"], False),
        ("invoice_date", "greater_or_equal", "2026-01-01", True),
        ("invoice_date", "less_than", "2026-01-01", False),
    ],
)
def test_it_runs_the_templates_custom_checks(field, condition, value, ok):
    check = _template({"custom_checks": [{"field": field, "condition": condition, "value": value}]})[
        "template_custom_check"
    ]
    assert check.ok is ok
    assert check.fields == (field,)


def test_it_explains_a_failed_custom_check_in_german():
    rules = {"custom_checks": [{"field": "total_amount", "condition": "less_than", "value": 100}]}
    check = _template(rules)["template_custom_check"]
    assert check.message == "Vorlage Lindner Standard: Gesamtbetrag „119.00“ ist nicht kleiner als 100."


def test_it_skips_a_custom_check_on_a_field_that_was_not_read():
    rules = {"custom_checks": [{"field": "iban", "condition": "matches", "value": "DE.*"}]}
    assert _template(rules) == {}


def test_it_fails_a_custom_check_that_cannot_compare_its_values():
    rules = {"custom_checks": [{"field": "total_amount", "condition": "greater_than", "value": "viel"}]}
    check = _template(rules)["template_custom_check"]
    assert check.ok is False and "lässt sich nicht mit viel vergleichen" in check.message


def test_it_fails_an_incomplete_custom_check_instead_of_ignoring_it():
    check = _template({"custom_checks": [{"field": "total_amount", "condition": "bigger"}]})["template_custom_check"]
    assert check.ok is False and "unvollständig" in check.message


def test_it_requires_the_amounts_sum_check_when_the_template_says_so():
    passed = _template({"total_must_equal_sum": True}, checks=[ValidationCheck("amounts_sum", True, "")])
    missing = _template({"total_must_equal_sum": True}, checks=[])

    assert passed["template_total_equals_sum"].ok is True
    assert missing["template_total_equals_sum"].ok is False


def test_it_checks_how_the_dates_are_printed():
    printed = {"invoice_date": FieldValue("invoice_date", "03.03.2026", "2026-03-03", 0.9)}
    other = {"invoice_date": FieldValue("invoice_date", "3. März 2026", "2026-03-03", 0.9)}

    assert _template({"date_format": "DD.MM.YYYY"}, printed)["template_date_format"].ok is True
    check = _template({"date_format": "DD.MM.YYYY"}, other)["template_date_format"]
    assert check.ok is False and check.fields == ("invoice_date",)


def test_it_fails_unknown_template_rules_so_a_typo_is_seen():
    check = _template({"requried_fields": ["invoice_number"]})["template_rules"]
    assert check.ok is False
    assert check.message == "Vorlage Lindner Standard: unbekannte Prüfregeln requried_fields."
