"""The operations dashboard in headless Chromium, with a screenshot for the README."""

import os
from datetime import timedelta
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
    page = browser.new_page(locale="de-DE", viewport={"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/konto/anmelden/")
    page.fill("#id_username", admin.email)
    page.fill("#id_password", "Passwort-12345")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/betrieb/")
    assert page.locator("svg.chart").count() == 4
    assert page.locator("svg.chart rect[fill]").count() > 4  # bars were drawn
    assert "6 Dokumente warten auf Prüfung" in page.content()
    # ABLAGE_SCREENSHOT_DIR=docs refreshes the README's picture; otherwise it stays in tmp.
    target = Path(os.environ.get("ABLAGE_SCREENSHOT_DIR") or tmp_path) / "screenshot-dashboard.png"
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 10_000
