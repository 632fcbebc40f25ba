import pytest

from documents.benchmarks import PagesConfig, format_pages_report, run_pages_benchmark
from documents.models import Document

pytestmark = [pytest.mark.django_db]


def test_it_measures_every_screen_and_leaves_the_database_as_it_was():
    figures = run_pages_benchmark(PagesConfig(documents=100, repeat=5), log=lambda line: None)

    assert set(figures["screens"]) == {
        "Dokumentliste",
        "Dokumentliste, gefiltert",
        "Dokumentliste, Seite 50",
        "Prüfwarteschlange",
        "Prüfansicht",
        "Suche",
    }
    assert all(row["p95_ms"] >= row["p50_ms"] > 0 for row in figures["screens"].values())
    assert "Prüfansicht" in format_pages_report(figures)
    assert not Document.objects.exists()


def test_it_refuses_a_benchmark_too_small_to_mean_anything():
    with pytest.raises(ValueError):
        PagesConfig(documents=10)
