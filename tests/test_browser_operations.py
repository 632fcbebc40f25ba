"""The operations dashboard in headless Chromium, with a screenshot for the README."""

import os
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from documents.models import Document
from tests.test_browser import browser  # noqa: F401 - the shared Chromium fixture

# Serialized rollback like the other live-server tests: a plain flush re-creates content types
# under new ids, and the next test that restores the serialized database collides with them.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture(autouse=True)
def _usable_connection(django_db_serialized_rollback, browser):  # noqa: F811
    # Under Playwright's sync API the ORM runs in Playwright's context, where the connection an
    # earlier celery_worker test left may have been terminated (conftest._close_other_sessions).
    if connection.connection is not None and not connection.is_usable():
        connection.close()


def test_it_draws_the_dashboard_for_an_admin(live_server, browser, django_user_model, owner, tmp_path):  # noqa: F811
    admin = django_user_model.objects.create_superuser("chefin@example.com", "Passwort-12345")
    now = timezone.now()
    statuses = [Document.Status.APPROVED, Document.Status.REVIEW, Document.Status.APPROVED, Document.Status.REJECTED]
    from documents.models import ExtractedField, ProcessingJob
    from suppliers.models import Supplier

    suppliers = [Supplier.objects.create(name=name) for name in ("Bürobedarf Schmidt GmbH", "Elektro Wagner KG")]
    for number in range(24):
        document = Document.objects.create(
            owner=owner,
            title=f"Rechnung {number}",
            original_filename="r.pdf",
            mime_type="application/pdf",
            file_size=1,
            sha256=f"{number:064d}",
            storage_key=f"k-{number}",
            status=statuses[number % 4],
            decision="auto_approve" if number % 4 == 0 else "review",
            overall_confidence=0.55 + (number % 9) * 0.05,
            processed_at=now - timedelta(days=number % 8),
            status_reason="Doppelt eingereicht" if statuses[number % 4] == Document.Status.REJECTED else "",
            supplier=suppliers[number % 3] if number % 3 < 2 else None,
            reviewed_at=now - timedelta(days=number % 12),
        )
        ProcessingJob.objects.create(
            document=document,
            status="completed",
            backend="tesseract",
            finished_at=now - timedelta(days=number % 8),
            timings_ms={"ocr": 1800 + 150 * (number % 5), "preflight": 60, "extraction": 45},
        )
        for name in ("invoice_number", "total_amount"):
            corrected = number % 7 == 0 and name == "total_amount"
            ExtractedField.objects.create(
                document=document,
                name=name,
                value="1,00" if corrected else "x",
                extracted_value="x",
                source="manual" if corrected else "rule",
            )
    Document.objects.update(created_at=now - timedelta(days=3))
    _learning_history(Document.objects.filter(status=Document.Status.APPROVED, supplier__isnull=False))
    page = browser.new_page(locale="de-DE", viewport={"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/konto/anmelden/")
    page.fill("#id_username", admin.email)
    page.fill("#id_password", "Passwort-12345")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/betrieb/")
    assert page.locator("svg.chart").count() == 5
    assert page.locator("svg.chart rect[fill]").count() > 4  # bars were drawn
    assert "6 Dokumente warten auf Prüfung" in page.content()
    # Learning from corrections: the accuracy lines and, on demand, the same values as a table.
    assert page.locator("#learning svg.chart polyline").count() >= 2
    assert not page.locator("#learning-days").is_visible()
    page.click("#learning summary")
    assert page.locator("#learning-days tbody tr").count() == 4
    assert page.locator("#learning-suppliers tbody tr").count() == 2
    # ABLAGE_SCREENSHOT_DIR=docs refreshes the README's picture; otherwise it stays in tmp.
    target = Path(os.environ.get("ABLAGE_SCREENSHOT_DIR") or tmp_path) / "screenshot-dashboard.png"
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 10_000


def _learning_history(documents):
    """Reviewed fields on four days, fewer corrections each day, and the daily figures from them."""
    from extraction.models import TrainingData
    from extraction.services import model_performance_compute

    today = timezone.localdate()
    days = [today - timedelta(days=offset) for offset in (9, 6, 3, 0)]
    for position, document in enumerate(documents):
        day_index = position % len(days)
        for field_index, name in enumerate(("invoice_number", "invoice_date", "total_amount", "iban")):
            right = field_index <= day_index  # 1 of 4 right on the first day, 4 of 4 on the last
            TrainingData.objects.create(
                document=document,
                field_name=name,
                expected_value="richtig",
                extracted_value="richtig" if right else "falsch",
                was_correct=right,
                validated_at=timezone.make_aware(datetime.combine(days[day_index], time(11))),
            )
    for day in days:
        model_performance_compute(day=day)
