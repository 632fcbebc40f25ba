import json
import re
from dataclasses import asdict
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ablage.testing.bad_files import corrupt_pdf
from ablage.testing.invoices import random_invoice, render_pdf
from ocr.benchmarks import (
    BenchConfig,
    BenchmarkError,
    Target,
    evaluate_targets,
    format_report,
    median,
    p95,
    percentile,
    ratio,
    run_workers,
    summarise,
)
from ocr.options import defaults


def test_it_takes_the_median_of_odd_and_even_counts():
    assert median([7.0]) == 7.0
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5


def test_it_interpolates_p95_between_closest_ranks():
    values = [float(value) for value in range(1, 21)]  # 1..20
    # Rank (20 - 1) * 0.95 = 18.05 lies between the 19th and 20th value.
    assert p95(values) == pytest.approx(19.05)
    assert p95([10.0, 20.0]) == pytest.approx(19.5)
    assert percentile([5.0, 1.0, 9.0], 0) == 1.0
    assert percentile([5.0, 1.0, 9.0], 100) == 9.0


def test_it_summarises_median_and_p95():
    assert summarise([100.0, 200.0, 300.0, 400.0, 1000.0]) == {"median": 300.0, "p95": 880.0}


def test_it_refuses_statistics_without_values_or_with_a_bad_percentile():
    with pytest.raises(ValueError, match="mindestens einen Messwert"):
        median([])
    with pytest.raises(ValueError, match="zwischen 0 und 100"):
        percentile([1.0], 101)


def test_it_divides_and_refuses_a_zero_denominator():
    assert ratio(3.0, 2.0) == 1.5
    with pytest.raises(ValueError, match="positiven Nenner"):
        ratio(1.0, 0.0)


def test_it_refuses_a_config_without_pages():
    with pytest.raises(ValueError, match="rss_pages muss mindestens 1 sein"):
        BenchConfig(rss_pages=0)


def test_it_passes_a_target_at_its_limit_and_fails_beyond():
    assert Target("t", 0.10, 0.10, "ratio", at_most=True).passed
    assert not Target("t", 0.11, 0.10, "ratio", at_most=True).passed
    assert Target("t", 1.8, 1.8, "x", at_most=False).passed
    assert not Target("t", 1.79, 1.8, "x", at_most=False).passed


def _figures(*, overhead: float, speedup: float, digital_ms: float, rss_bytes: int) -> dict:
    stats = {"median": 1000.0, "p95": 1200.0}
    figures = {
        "machine": {
            "cpu_model": "Test-CPU",
            "cores": 2,
            "usable_cores": 2,
            "load_average": [0.5, 0.4, 0.3],
            "load_average_at_end": [1.5, 0.9, 0.4],
            "tesseract": "tesseract 5.3.0",
            "languages": "deu+eng",
            "render_dpi": 300,
            "python": "3.11.7",
        },
        "config": {"scan_dpi": 300},
        "options": {"deskew": True, "searchable_pdf": True, "languages": "deu+eng"},
        "scanned": {
            "pages": 6,
            "second_attempts": 1,
            "pipeline_ms": stats,
            "cache_hit_ms": {"median": 21.0, "p95": 34.0},
            "bare_tesseract_ms": stats,
            "tesseract_peak_rss_bytes": 250_000_000,
            "ratio": {"median": 1.2, "p95": 1.3},
            "ocr_ms": stats,
            "outside_ocr_ms": stats,
            "overhead": {"median": overhead, "p95": overhead},
            "outside_share": {"median": 0.1, "p95": 0.1},
            "stages_ms": {"preflight": 100.0, "ocr": 900.0},
        },
        "born_digital": {
            "documents": 20,
            "pages": 21,
            "ms_per_page": {"median": digital_ms, "p95": digital_ms},
            "stages_ms_per_page": {"render": 10.0},
        },
        "throughput": {
            "pages": 6,
            "pages_per_s": {"1": 0.3, "2": 0.3 * speedup},
            "speedup": speedup,
            "speedup_workers": 2,
        },
        "worker_rss": {
            "pages": 50,
            "file_bytes": 89_000_000,
            "seconds": 180.0,
            "worker_peak_rss_bytes": rss_bytes,
        },
    }
    targets = evaluate_targets(figures)
    figures["targets"] = [asdict(target) for target in targets]
    failed = [target.name for target in targets if not target.passed]
    figures["summary"] = {"passed": 4 - len(failed), "total": 4, "failed": failed, "seconds": 200.0}
    return figures


def test_it_reports_each_target_with_pass_or_fail_and_a_summary_line():
    figures = _figures(overhead=0.23, speedup=1.9, digital_ms=42.0, rss_bytes=1_200_000_000)

    report = format_report(figures)

    assert figures["summary"]["failed"] == ["overhead_outside_ocr", "worker_peak_rss"]
    assert "FAIL  Zeit außerhalb OCR / OCR-Zeit (Median)" in report
    assert "23.0 % (Ziel <= 10 %)" in report
    assert "PASS  Speed-up 2 gegen 1 Worker" in report
    assert "PASS  Digitale Seite, ms (Median)" in report
    assert "FAIL  Speicherspitze Worker" in report
    assert "1200 MB (Ziel < 1000 MB)" in report
    assert "Tesseract-Prozess (Spitze 250 MB)" in report
    assert re.search(r"erneut hochgeladen \(Ergebnis-Cache\) +21 ms +34 ms", report)
    assert report.splitlines()[-1].startswith("Zusammenfassung: 2/4 Ziele erreicht; nicht erreicht: Zeit außerhalb OCR")
    assert report.splitlines()[0].startswith("== bench pipeline: Test-CPU, 2 Kerne")
    assert "Last (1/5/15 min) beim Start 0.50/0.40/0.30, am Ende 1.50/0.90/0.40" in report
    assert "Optionen: deskew=True, searchable_pdf=True" in report
    assert "Zweiter OCR-Versuch (retry) auf 1 von 6 Seiten" in report


def test_it_refuses_a_page_count_below_one():
    with pytest.raises(CommandError, match="scanned_pages muss mindestens 1 sein"):
        call_command("bench", "pipeline", "--pages", "0", stdout=StringIO(), stderr=StringIO())


@pytest.mark.e2e
@pytest.mark.django_db  # the pipeline options are read from SystemConfig
def test_it_measures_every_figure_with_real_pages_tesseract_and_worker_processes():
    out, err = StringIO(), StringIO()

    call_command(
        "bench", "pipeline", "--quick", "--pages", "1", "--born-digital", "2", "--rss-pages", "2", "--json",
        stdout=out, stderr=err,
    )  # fmt: skip

    figures = json.loads(out.getvalue())
    assert figures["machine"]["cores"] >= 1
    assert figures["machine"]["tesseract"].startswith("tesseract")
    assert figures["options"]["languages"]
    scanned = figures["scanned"]
    assert scanned["pages"] == 1
    for key in ("pipeline_ms", "bare_tesseract_ms", "ratio", "ocr_ms", "overhead", "outside_share"):
        assert scanned[key]["median"] > 0, key
        assert scanned[key]["p95"] >= scanned[key]["median"], key
    # The OCR stage is part of the pipeline's wall time, never more.
    assert scanned["ocr_ms"]["median"] < scanned["pipeline_ms"]["median"]
    assert scanned["stages_ms"]["ocr"] > 0
    assert scanned["stages_ms"]["preprocess"] > 0
    digital = figures["born_digital"]
    assert digital["documents"] == 2
    assert digital["pages"] >= 2
    assert digital["ms_per_page"]["median"] > 0
    assert "ocr" not in digital["stages_ms_per_page"]
    throughput = figures["throughput"]
    assert throughput["pages_per_s"]["1"] > 0
    assert throughput["pages_per_s"]["2"] > 0
    assert throughput["speedup"] > 0
    rss = figures["worker_rss"]
    assert rss["pages"] == 2
    # A worker with Django, numpy, OpenCV and two decoded 300-dpi pages cannot fit in 50 MB.
    assert rss["worker_peak_rss_bytes"] > 50_000_000
    # Tesseract with deu+eng data loaded on a 300-dpi page, measured on its own process.
    assert scanned["tesseract_peak_rss_bytes"] > 50_000_000
    assert {target["name"] for target in figures["targets"]} == {
        "overhead_outside_ocr",
        "speedup_two_workers",
        "born_digital_ms_per_page",
        "worker_peak_rss",
    }
    assert figures["summary"]["total"] == 4
    assert "Durchsatz mit Worker-Prozessen" in err.getvalue()


@pytest.mark.e2e
def test_it_reports_a_failing_worker_instead_of_waiting_for_it(tmp_path):
    warmup = tmp_path / "warmup.pdf"
    warmup.write_bytes(render_pdf(random_invoice(1, layout="A")))
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(corrupt_pdf())

    with pytest.raises(BenchmarkError, match=r"(?s)Worker-Prozess ist fehlgeschlagen.*StopProcessing"):
        run_workers([broken], workers=1, options=defaults(), warmup=warmup)
