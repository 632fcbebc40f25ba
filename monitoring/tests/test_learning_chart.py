"""The dashboard's extraction-accuracy chart: from reviewed fields through the daily
``ModelPerformance`` rows to the SVG and its table fallback."""

import uuid
from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from documents.tests.factories import make_document
from extraction.models import ExtractionRule, ModelPerformance, TrainingData
from extraction.services import model_performance_compute
from monitoring.selectors import extraction_accuracy
from suppliers.models import Supplier

pytestmark = [pytest.mark.django_db]

FIELDS = ("invoice_number", "invoice_date", "total_amount", "customer_number")


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("admin@example.com", "x")


def _reviewed(owner, supplier, *, day, right: int, fields=FIELDS) -> None:
    """A document of ``supplier`` reviewed on ``day`` whose first ``right`` fields needed no correction."""
    document = make_document(owner, supplier=supplier, status="approved")
    moment = timezone.make_aware(datetime.combine(day, time(10)))
    for position, name in enumerate(fields):
        TrainingData.objects.create(
            document=document,
            field_name=name,
            expected_value=f"{name}-richtig",
            extracted_value=f"{name}-richtig" if position < right else "",
            was_correct=position < right,
            confidence=0.8,
            validated_at=moment,
        )


@pytest.fixture
def history(owner):
    """Lindner improves from 1 of 4 to 4 of 4 right fields; a second supplier stays at 1 of 2."""
    today = timezone.localdate()
    lindner = Supplier.objects.create(name="Gartenbau Lindner GmbH")
    hostile = Supplier.objects.create(name="Müller & <Söhne>")
    _reviewed(owner, lindner, day=today - timedelta(days=10), right=1)
    _reviewed(owner, lindner, day=today, right=5, fields=(*FIELDS, "document_type"))  # the type: its own line
    _reviewed(owner, hostile, day=today, right=1, fields=FIELDS[:2])
    _reviewed(owner, lindner, day=today - timedelta(days=45), right=0)  # outside the 30 days
    for day in (today - timedelta(days=45), today - timedelta(days=10), today):
        model_performance_compute(day=day)
    ExtractionRule.objects.create(
        name="Gelernt: invoice_number",
        supplier=lindner,
        field_name="invoice_number",
        rule_type="anchor",
        rule_config={"label": "Vorgang:"},
        learned_from=2,
    )
    # Rows that name no supplier any more (deleted) or none at all stay out of the chart.
    for version in (f"lieferant:{uuid.uuid4()}", "lieferant:kaputt"):
        ModelPerformance.objects.create(
            model_name="extraction", model_version=version, metric_date=today, accuracy=0.1, total_predictions=9
        )
    return {"today": today, "lindner": lindner, "hostile": hostile}


def test_it_reads_accuracy_per_day_and_per_supplier_from_the_daily_figures(history):
    lindner, hostile = history["lindner"], history["hostile"]

    accuracy = extraction_accuracy()

    days = accuracy["days"]
    assert len(days) == 30 and days[-1] == history["today"]
    overall = accuracy["series"]["overall"]
    assert overall[-1] == pytest.approx(5 / 6, abs=1e-3)  # 4 of 4 and 1 of 2 today
    assert overall[-11] == 0.25
    assert sum(value is not None for value in overall) == 2  # no point on a day nobody reviewed
    assert list(accuracy["series"]) == ["overall", str(lindner.id), str(hostile.id), "document_type"]
    assert accuracy["series"]["document_type"][-1] == 1.0 and accuracy["series"]["document_type"][-11] is None
    assert accuracy["series"][str(lindner.id)][-11:] == [0.25, *[None] * 9, 1.0]
    lindner_row, hostile_row = accuracy["suppliers"]
    assert (lindner_row["name"], lindner_row["total"], lindner_row["learned_rules"]) == (lindner.name, 8, 1)
    assert lindner_row["accuracy"] == 5 / 8 and lindner_row["recent"] == 1.0 and lindner_row["before"] == 0.25
    assert (hostile_row["accuracy"], hostile_row["before"], hostile_row["learned_rules"]) == (0.5, None, 0)


def test_it_limits_the_lines_to_the_suppliers_with_the_most_reviewed_fields(history):
    accuracy = extraction_accuracy(lines=1, suppliers=1)

    assert list(accuracy["series"]) == ["overall", str(history["lindner"].id), "document_type"]
    assert [row["name"] for row in accuracy["suppliers"]] == ["Gartenbau Lindner GmbH"]


def test_it_draws_the_chart_with_a_table_and_escapes_supplier_names(client, admin_user, history):
    client.force_login(admin_user)

    body = client.get("/betrieb/").content.decode()

    section = body[body.index('id="learning"') : body.index('id="queues"')]
    assert "<svg" in section and "Genauigkeit der Extraktion pro Tag" in section
    today = history["today"].strftime("%d.%m.")
    assert f"<title>{today}: Felder, alle Lieferanten 83 %</title>" in section
    assert f"<title>{today}: Dokumenttyp erkannt 100 %</title>" in section
    assert f"<title>{today}: Gartenbau Lindner GmbH 100 %</title>" in section
    assert "Müller &amp; &lt;Söhne&gt;" in section and "<Söhne>" not in section
    # Overall and Lindner: two days 10 days apart still make a line; the other supplier has one point.
    assert section.count("<polyline") == 2
    table = section[section.index('id="learning-days"') :]
    assert history["today"].strftime("%d.%m.%Y") in table and "83,3 %" in table
    suppliers = section[section.index('id="learning-suppliers"') :]
    assert f'href="/lieferanten/{history["lindner"].id}/"' in suppliers
    assert "62,5 %" in suppliers and "25,0 %" in suppliers
    assert 'href="/admin/extraction/extractionrule/suggestions/"' in section


def test_it_says_when_there_are_no_figures_yet(client, admin_user):
    client.force_login(admin_user)

    body = client.get("/betrieb/").content.decode()

    section = body[body.index('id="learning"') : body.index('id="queues"')]
    assert "Noch keine Kennzahlen" in section and "<svg" not in section


def test_it_joins_a_rates_points_across_days_without_figures_only_when_asked():
    from monitoring import charts

    points = {"Genauigkeit": [0.5, None, None, 0.75, None]}

    assert charts.lines("Quote", list("abcde"), points, y_max=1.0).count("<polyline") == 0
    joined = charts.lines("Quote", list("abcde"), points, y_max=1.0, join_gaps=True)
    assert joined.count("<polyline") == 1 and joined.count("<circle") == 2


def test_it_cuts_a_long_legend_name_and_keeps_it_whole_on_hover():
    from monitoring import charts

    long_name = "Sehr langer Lieferantenname GmbH & Co. KG"
    chart = charts.lines("Quote", ["a"], {long_name: [0.5], "Zweiter": [0.6]}, y_max=1.0)

    assert ">Sehr langer Lieferan…<title>Sehr langer Lieferantenname GmbH &amp; Co. KG</title>" in chart
    assert ">Zweiter<title>Zweiter</title>" in chart
    alone = charts.lines("Quote", ["a"], {long_name: [0.5]}, y_max=1.0)  # nothing to run into
    assert ">Sehr langer Lieferantenname GmbH &amp; Co. KG<title>" in alone
