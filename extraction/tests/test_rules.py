"""Configured extraction rules on laid-out pages: every type, order and fallback, competition, broken rules."""

import time
from datetime import date

import pytest

from extraction.engine import extract
from extraction.layout import build_layouts
from extraction.rules import (
    AGREEMENT_CAP,
    DISAGREEMENT_FACTOR,
    GENERIC_STRENGTH,
    SUPPLIER_STRENGTH,
    RuleSpec,
    apply_rules,
    merge_hits,
    rule_config_errors,
    run_rule,
)
from extraction.tests.pages import PageBuilder
from extraction.types import FieldValue

TODAY = date(2026, 11, 20)
SUPPLIER = "5f0c1c8e-0000-4000-8000-000000000001"
OTHER_SUPPLIER = "5f0c1c8e-0000-4000-8000-000000000002"


def _page() -> PageBuilder:
    page = PageBuilder()
    page.text(0.08, 0.04, "Kaffeerösterei Lindner GmbH", size=1.8)
    page.lines(0.08, 0.08, ["Speicherstadt 3", "20457 Hamburg"])
    page.text(0.60, 0.18, "Beleg-Kennung:   LX/2026/0042")
    page.text(0.60, 0.20, "Vorgang")
    page.text(0.60, 0.215, "VG-99812")
    page.text(0.60, 0.30, "Auftrag 4711-B")
    page.text(0.08, 0.32, "Rechnung", size=1.6)
    page.text(0.08, 0.40, "Kaffee Espresso 1 kg                               2   Stk.   21,00   42,00")
    page.right(0.45, 0.45, "Nettobetrag").right(0.80, 0.45, "42,00 €")
    page.right(0.45, 0.47, "zzgl. 7 % USt").right(0.80, 0.47, "2,94 €")
    page.right(0.45, 0.49, "Gesamtbetrag").right(0.80, 0.49, "44,94 €")
    return page


@pytest.fixture(scope="module")
def layouts():
    return build_layouts([_page().build()])


def _rule(rule_type="regex", config=None, *, field_name="invoice_number", name="Regel", **extra) -> RuleSpec:
    return RuleSpec(
        id=extra.pop("id", name),
        name=name,
        field_name=field_name,
        rule_type=rule_type,
        config=config if config is not None else {"pattern": r"Beleg-Kennung:\s*(\S+)"},
        **extra,
    )


# --- each rule type ------------------------------------------------------------------------------


def test_it_finds_a_value_with_a_regex_rule_and_records_page_box_and_rule(layouts):
    hit, usage = run_rule(layouts, _rule(version=3, id="r-1"))

    assert (hit.value, hit.normalized, hit.page) == ("LX/2026/0042", "LX/2026/0042", 1)
    x0, y0, x1, y1 = hit.bbox
    assert 0.6 < x0 < x1 < 0.9 and 0.17 < y0 < y1 < 0.2  # the value's box, not the label's
    assert hit.rule.evidence == "regel:r-1@v3"
    assert usage.succeeded and usage.error == ""


def test_it_applies_regex_flags(layouts):
    rule = _rule(config={"pattern": r"beleg-kennung:\s*(\S+)", "flags": "i"})
    assert run_rule(layouts, rule)[0].value == "LX/2026/0042"
    assert run_rule(layouts, _rule(config={"pattern": r"beleg-kennung:\s*(\S+)"}))[0] is None


def test_it_reads_the_words_inside_a_position_box(layouts):
    rule = _rule(
        "position", {"page": 1, "x": 0.59, "y": 0.295, "width": 0.3, "height": 0.02}, field_name="order_number"
    )

    hit, _usage = run_rule(layouts, rule)

    assert hit.value == "Auftrag 4711-B"
    assert hit.bbox[1] == pytest.approx(0.30)


def test_it_narrows_a_position_box_with_a_pattern(layouts):
    config = {"x": 0.59, "y": 0.295, "width": 0.3, "height": 0.02, "pattern": r"\d{4}-[A-Z]"}
    hit, _usage = run_rule(layouts, _rule("position", config, field_name="order_number"))

    assert hit.value == "4711-B"
    assert hit.bbox[0] > 0.64  # only the matched word's box


def test_it_finds_nothing_in_an_empty_position_box(layouts):
    hit, usage = run_rule(layouts, _rule("position", {"x": 0.0, "y": 0.7, "width": 0.2, "height": 0.1}))

    assert hit is None
    assert usage.note == "Kein Treffer." and not usage.succeeded and usage.error == ""


def test_it_reads_the_value_right_of_an_anchor_label(layouts):
    rule = _rule("anchor", {"label": "beleg kennung", "direction": "right", "max_distance": 0.2})

    hit, _usage = run_rule(layouts, rule)

    assert hit.value == "LX/2026/0042"


def test_it_reads_the_value_below_an_anchor_label(layouts):
    hit, _usage = run_rule(layouts, _rule("anchor", {"label": "Vorgang", "direction": "below", "max_distance": 0.05}))

    assert hit.value == "VG-99812"


def test_it_ignores_a_value_further_from_the_label_than_allowed(layouts):
    rule = _rule("anchor", {"label": "Vorgang", "direction": "below", "max_distance": 0.001})
    assert run_rule(layouts, rule)[0] is None


def test_it_applies_an_anchor_rules_pattern(layouts):
    config = {"label": "Beleg-Kennung", "pattern": r"/(\d{4})/"}
    assert run_rule(layouts, _rule("anchor", config))[0].value == "2026"


def test_it_uses_the_supplier_templates_pattern_for_a_template_rule(layouts):
    patterns = {
        "belegnummer": {"pattern": r"Beleg-Kennung:\s*(\S+)", "position": {"x": 0.6, "y": 0.18, "tolerance": 0.2}}
    }
    rule = _rule("template", {"field_mapping": {"invoice_number": "belegnummer"}}, template_patterns=patterns)

    assert run_rule(layouts, rule)[0].value == "LX/2026/0042"


def test_it_drops_a_template_match_far_from_the_templates_position(layouts):
    patterns = {
        "invoice_number": {"pattern": r"Beleg-Kennung:\s*(\S+)", "position": {"x": 0.1, "y": 0.9, "tolerance": 0.05}}
    }
    assert run_rule(layouts, _rule("template", {}, template_patterns=patterns))[0] is None


def test_it_applies_the_templates_validation_regex(layouts):
    patterns = {"invoice_number": {"pattern": r"Beleg-Kennung:\s*(\S+)", "validation": r"RE-\d+"}}
    hit, usage = run_rule(layouts, _rule("template", {}, template_patterns=patterns))

    assert hit is None
    assert "Prüfausdruck" in usage.note


def test_it_reports_a_template_rule_without_a_pattern_for_its_field(layouts):
    hit, usage = run_rule(layouts, _rule("template", {}, template_patterns={"total_amount": {"pattern": "x"}}))

    assert hit is None
    assert usage.error == "Die Vorlage enthält kein Muster für „invoice_number“."


def test_it_reports_a_template_rule_whose_template_is_switched_off(layouts):
    _hit, usage = run_rule(layouts, _rule("template", {}, template_patterns=None))
    assert usage.error == "Die Regel verweist auf keine aktive Lieferantenvorlage."


# --- values: normalised per field, checked by the validation regex ------------------------------


def test_it_normalises_a_rule_value_for_its_field(layouts):
    rule = _rule(config={"pattern": r"Gesamtbetrag\s+([\d.,]+ €)"}, field_name="total_amount")
    hit, _usage = run_rule(layouts, rule)

    assert (hit.value, hit.normalized) == ("44,94 €", "44.94")


def test_it_rejects_a_value_that_is_no_valid_value_of_the_field(layouts):
    hit, usage = run_rule(layouts, _rule(field_name="invoice_date"))

    assert hit is None
    assert usage.note == "„LX/2026/0042“ ist kein gültiger Wert: Kein gültiges Datum"


def test_it_rejects_a_value_that_fails_the_validation_regex(layouts):
    hit, usage = run_rule(layouts, _rule(validation_regex=r"RE-\d{4}"))

    assert hit is None
    assert usage.note == "„LX/2026/0042“ erfüllt den Prüfausdruck nicht."


# --- order: supplier before generic, priority, fallback -----------------------------------------

GENERIC = _rule(name="allgemein", priority=100, config={"pattern": r"Vorgang\s+(\S+)"})
FOR_SUPPLIER = _rule(name="lieferant", priority=0, supplier_id=SUPPLIER)


def test_it_prefers_a_supplier_rule_over_a_generic_rule_of_higher_priority(layouts):
    outcome = apply_rules(layouts, [GENERIC, FOR_SUPPLIER], document_type="invoice", supplier_id=SUPPLIER)

    assert outcome.hits["invoice_number"].value == "LX/2026/0042"
    assert [usage.rule.name for usage in outcome.usage] == ["lieferant"]  # the generic one was not needed


def test_it_ignores_rules_of_another_supplier_and_other_document_types(layouts):
    rules = [FOR_SUPPLIER, _rule(name="gutschrift", document_type="credit_note"), GENERIC]
    outcome = apply_rules(layouts, rules, document_type="invoice", supplier_id=OTHER_SUPPLIER)

    assert outcome.hits["invoice_number"].value == "VG-99812"
    assert [usage.rule.name for usage in outcome.usage] == ["allgemein"]


def test_it_tries_higher_priority_first_and_falls_back_when_it_finds_nothing(layouts):
    high = _rule(name="hoch", priority=10, config={"pattern": r"Lieferschein\s+(\S+)"})
    low = _rule(name="niedrig", priority=1)
    outcome = apply_rules(layouts, [low, high], document_type="invoice")

    assert outcome.hits["invoice_number"].rule.name == "niedrig"
    assert [(usage.rule.name, usage.succeeded) for usage in outcome.usage] == [("hoch", False), ("niedrig", True)]


def test_it_falls_back_when_a_rules_value_fails_validation(layouts):
    strict = _rule(name="streng", priority=5, validation_regex=r"RE-\d+")
    loose = _rule(name="locker", priority=1, config={"pattern": r"Vorgang\s+(\S+)"})

    outcome = apply_rules(layouts, [strict, loose], document_type="invoice")

    assert outcome.hits["invoice_number"].value == "VG-99812"


# --- broken rules never break extraction --------------------------------------------------------


def test_it_reports_a_pattern_that_does_not_compile_and_carries_on(layouts):
    broken = _rule(name="kaputt", priority=5, config={"pattern": "(unclosed"})
    outcome = apply_rules(layouts, [broken, _rule(name="heil")], document_type="invoice")

    assert outcome.hits["invoice_number"].value == "LX/2026/0042"
    assert "„pattern“ ist kein gültiger regulärer Ausdruck" in outcome.usage[0].error
    [check] = outcome.error_checks()
    assert (check.rule, check.ok, check.fields) == ("extraction_rule_error", False, ("invoice_number",))
    assert check.message.startswith("Regel „kaputt“ (invoice_number) ist fehlerhaft:")


def test_it_stops_a_catastrophically_backtracking_pattern_and_reports_the_timeout():
    page = PageBuilder()
    page.text(0.05, 0.1, "a" * 4000 + "!")
    layouts = build_layouts([page.build()])
    rule = _rule(config={"pattern": r"(a+)+$"})

    started = time.perf_counter()
    hit, usage = run_rule(layouts, rule, timeout=0.1)

    assert time.perf_counter() - started < 5
    assert hit is None
    assert usage.error == "Regulärer Ausdruck nach 0,1 s abgebrochen (zu aufwendig für diesen Text)."


def test_it_reports_a_rule_whose_stored_config_is_broken(layouts):
    _hit, usage = run_rule(layouts, _rule("position", {"x": 2}))
    assert "„x“ muss eine Zahl zwischen 0 und 1 sein" in usage.error


# --- competition with the built-in extractors ----------------------------------------------------


def _builtin(normalized: str, confidence: float) -> dict[str, FieldValue]:
    return {"invoice_number": FieldValue("invoice_number", normalized, normalized, confidence, rule="label:Rechnung")}


def _hits(layouts, rule):
    return apply_rules(layouts, [rule], document_type="invoice", supplier_id=SUPPLIER).hits


def test_it_takes_a_rule_value_where_the_built_in_extractors_found_none(layouts):
    merged = merge_hits({}, _hits(layouts, FOR_SUPPLIER))

    field = merged["invoice_number"]
    assert (field.normalized, field.confidence, field.rule_id) == ("LX/2026/0042", SUPPLIER_STRENGTH, "lieferant")


def test_it_raises_the_confidence_when_rule_and_built_in_agree(layouts):
    merged = merge_hits(_builtin("LX/2026/0042", 0.8), _hits(layouts, FOR_SUPPLIER))

    assert merged["invoice_number"].confidence == pytest.approx(min(AGREEMENT_CAP, 1 - 0.2 * 0.05))
    assert merged["invoice_number"].rule == "regel:lieferant@v1"


def test_it_lets_a_confident_rule_win_a_disagreement_at_a_discount(layouts):
    merged = merge_hits(_builtin("RE-1", 0.7), _hits(layouts, FOR_SUPPLIER))

    assert merged["invoice_number"].normalized == "LX/2026/0042"
    assert merged["invoice_number"].confidence == pytest.approx(SUPPLIER_STRENGTH * DISAGREEMENT_FACTOR, abs=1e-3)


def test_it_keeps_a_more_confident_built_in_value_against_a_weak_rule(layouts):
    weak = _rule(name="schwach", config={"pattern": r"Beleg-Kennung:\s*(\S+)", "confidence": 0.5})
    merged = merge_hits(_builtin("RE-1", 0.9), _hits(layouts, weak))

    assert merged["invoice_number"].normalized == "RE-1"
    assert merged["invoice_number"].confidence == pytest.approx(0.9 * DISAGREEMENT_FACTOR, abs=1e-3)


def test_it_gives_generic_rules_less_strength_than_supplier_rules(layouts):
    assert _hits(layouts, GENERIC)["invoice_number"].confidence == GENERIC_STRENGTH < SUPPLIER_STRENGTH


def test_the_engine_merges_rule_hits_and_reports_broken_rules():
    pages = [_page().build()]
    broken = _rule(name="kaputt", field_name="order_number", priority=5, config={"pattern": "(a"})
    rules = [
        FOR_SUPPLIER,
        broken,
        _rule(name="auftrag", field_name="order_number", config={"pattern": r"Auftrag (\S+)"}),
    ]

    result = extract(pages, today=TODAY, rules=rules, supplier_id=SUPPLIER)

    assert result.fields["invoice_number"].normalized == "LX/2026/0042"
    assert result.fields["invoice_number"].rule_version == 1
    assert result.fields["order_number"].normalized == "4711-B"
    assert [(usage.rule.name, usage.succeeded) for usage in result.rule_usage] == [
        ("lieferant", True),
        ("kaputt", False),
        ("auftrag", True),
    ]
    [reported] = [check for check in result.validation if check.rule == "extraction_rule_error"]
    assert reported.ok is False and reported.fields == ("order_number",)
    assert result.fields["total_amount"].normalized == "44.94"  # built-in fields stay


def test_the_engine_without_rules_reports_no_rule_usage():
    result = extract([_page().build()], today=TODAY)
    assert result.rule_usage == []
    assert all(check.rule != "extraction_rule_error" for check in result.validation)


# --- configuration is validated with clear messages ---------------------------------------------


@pytest.mark.parametrize(
    ("rule_type", "config", "message"),
    [
        ("regex", {}, "„pattern“ fehlt"),
        ("regex", {"pattern": "(x"}, "„pattern“ ist kein gültiger regulärer Ausdruck"),
        ("regex", {"pattern": "(x)", "group": 2}, "„group“ muss eine Gruppennummer zwischen 0 und 1 sein."),
        ("regex", {"pattern": "x", "flags": "g"}, "„flags“ darf nur die Buchstaben i, m und s enthalten."),
        ("regex", {"pattern": "x", "confidence": 1.5}, "„confidence“ muss eine Zahl größer 0 und höchstens 1 sein."),
        ("position", {"x": 0.5, "y": 0.5, "width": 0.6, "height": 0.1}, "ragt über den Seitenrand"),
        ("position", {"x": 0.5, "y": 0.5, "width": 0.1, "height": 0.1, "page": 0}, "„page“ muss eine Seitenzahl"),
        ("anchor", {"direction": "right"}, "„label“ fehlt"),
        ("anchor", {"label": "Nr.", "direction": "left"}, "„direction“ muss „right“"),
        ("anchor", {"label": "Nr.", "max_distance": 0}, "„max_distance“ muss eine Zahl größer 0"),
        ("template", {"field_mapping": ["x"]}, "„field_mapping“ muss ein JSON-Objekt"),
        ("ml_model", {}, "Unbekannter Regeltyp „ml_model“."),
        ("regex", ["pattern"], "Erwartet wird ein JSON-Objekt."),
    ],
)
def test_it_explains_what_is_wrong_with_a_rule_config(rule_type, config, message):
    errors = rule_config_errors(rule_type, config)
    assert any(message in error for error in errors), errors


@pytest.mark.parametrize(
    ("rule_type", "config"),
    [
        ("regex", {"pattern": r"Nr\.\s*(\d+)", "group": 1, "flags": "im", "confidence": 0.9}),
        ("position", {"page": 2, "x": 0.5, "y": 0.1, "width": 0.4, "height": 0.05}),
        ("anchor", {"label": "Rechnungsnr.", "direction": "below", "max_distance": 0.1, "pattern": r"\d+"}),
        ("template", {"field_mapping": {"invoice_number": "nummer"}}),
    ],
)
def test_it_accepts_a_complete_config_of_each_type(rule_type, config):
    assert rule_config_errors(rule_type, config) == []
