import json
import random
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ablage.testing.invoices import random_invoice, render_pdf
from ocr.benchmarks.preprocessing import (
    CONDITIONS,
    VARIANT_NAMES,
    PreprocessingConfig,
    character_error_rate,
    character_errors,
    edit_distance,
    normalise_text,
    plan_scans,
    text_layer_lines,
    verdict,
)


def _plain_levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, start=1):
        current = [i]
        for j, other in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other)))
        previous = current
    return previous[-1]


def test_it_counts_edits_between_fixed_strings():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("flaw", "lawn") == 2
    assert edit_distance("Rechnung", "Rechnung") == 0
    assert edit_distance("", "abc") == 3
    assert edit_distance("abc", "") == 3
    assert edit_distance("Straße", "Strasse") == 2


def test_it_agrees_with_the_textbook_dynamic_programme_on_random_strings():
    rng = random.Random(7)
    for _ in range(200):
        a = "".join(rng.choice("abcä €1") for _ in range(rng.randint(0, 12)))
        b = "".join(rng.choice("abcä €1") for _ in range(rng.randint(0, 12)))
        assert edit_distance(a, b) == _plain_levenshtein(a, b), (a, b)


def test_it_finds_a_line_anywhere_in_the_ocr_text_without_paying_for_the_rest():
    assert edit_distance("Rechnung", "Firma GmbH Rechnunq Nr. 12", free_ends_in_b=True) == 1
    assert edit_distance("Rechnung", "Rechnung", free_ends_in_b=True) == 0
    assert edit_distance("IBAN", "", free_ends_in_b=True) == 4


def test_it_normalises_whitespace_before_comparing():
    assert normalise_text("  Summe \t netto\r\n 12,50 € ") == "Summe netto 12,50 €"
    assert character_error_rate(["Summe   netto", "12,50 €"], "Summe netto\n\n12,50 €") == 0.0


def test_it_rates_character_errors_over_lines_in_any_order():
    truth = ["Rechnung Nr. 12", "Datum 01.06.2026"]
    # Tesseract read the date block first and took a zero for an O.
    ocr = "Datum 01.06.2O26 Rechnung Nr. 12"
    assert character_errors(truth, ocr) == (1, 31)
    assert character_error_rate(truth, ocr) == pytest.approx(1 / 31)
    # A line the OCR lost costs its length, less what it shares by chance with the rest.
    assert character_errors(["Rechnung 12", "XYZ"], "Rechnung 12") == (3, 14)
    assert character_errors(truth, "Datum 01.06.2026")[0] <= 15


def test_it_refuses_a_rate_against_an_empty_truth():
    with pytest.raises(ValueError, match="Vergleichstext ist leer"):
        character_error_rate(["  ", ""], "Rechnung")


def test_it_reads_the_true_lines_from_the_born_digital_text_layer():
    spec = random_invoice(3, layout="A", item_count=3)
    (lines,) = text_layer_lines(render_pdf(spec))
    text = "\n".join(lines)
    assert spec.invoice_number in text
    assert all(line.strip() for line in lines)


def test_it_plans_every_condition_on_every_layout():
    scans = plan_scans(PreprocessingConfig(count=18, seed=5))
    assert [scan.seed for scan in scans] == list(range(5, 23))
    pairs = {(scan.condition.name, scan.layout) for scan in scans}
    assert len(pairs) == 18 == len(CONDITIONS) * 3
    assert any(scan.condition.dpi == 150 and scan.condition.jpeg_quality == 40 for scan in scans)


def _figures(correct: int, cer: float) -> dict:
    return {"core_correct": correct, "cer": cer}


def test_it_judges_a_step_by_fields_first_and_the_error_rate_where_fields_tie():
    baseline = _figures(140, 0.050)
    assert verdict(_figures(142, 0.060), baseline) == "helps"
    assert verdict(_figures(138, 0.040), baseline) == "hurts"
    assert verdict(_figures(140, 0.045), baseline) == "helps"
    assert verdict(_figures(140, 0.056), baseline) == "hurts"
    # Within one field and within 5 % of the error rate: no verdict either way.
    assert verdict(_figures(141, 0.049), baseline) == "neutral"
    # Fewer fields right but fewer character errors: the two disagree.
    assert verdict(_figures(139, 0.030), baseline) == "neutral"


def test_it_refuses_a_measurement_without_scans():
    with pytest.raises(CommandError, match="mindestens 1 sein, nicht 0"):
        call_command("bench", "preprocessing", "--count", "0", stdout=StringIO(), stderr=StringIO())


@pytest.mark.e2e
@pytest.mark.django_db  # the defaults in force are read from SystemConfig
def test_it_measures_every_variant_on_a_real_scan():
    stdout = StringIO()
    call_command("bench", "preprocessing", "--count", "1", "--jobs", "1", "--json", stdout=stdout, stderr=StringIO())
    figures = json.loads(stdout.getvalue())

    assert [variant["name"] for variant in figures["variants"]] == list(VARIANT_NAMES)
    for variant in figures["variants"]:
        assert variant["documents"] == 1
        assert variant["core_expected"] == 9
        # A clean 300-dpi scan: Tesseract reads most fields and most characters whatever the step.
        assert variant["core_correct"] >= 6, variant
        assert 0 <= variant["cer"] < 0.15, variant
        assert 0.5 < variant["confidence"] <= 1.0, variant
        assert variant["ocr_ms_per_page"] > 0
        assert variant["verdict"] in ({""} if variant["name"] == "baseline" else {"helps", "neutral", "hurts"})
    by_name = {variant["name"]: variant for variant in figures["variants"]}
    assert by_name["baseline"]["preprocess_ms_per_page"] < by_name["denoise"]["preprocess_ms_per_page"]
    # Only the last variant may read a page twice.
    assert all(by_name[name]["second_attempts"] == 0 for name in VARIANT_NAMES[:-1])
    assert figures["defaults"]["deskew"] is True
