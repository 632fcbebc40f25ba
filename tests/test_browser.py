"""The clerk's path in headless Chromium: log in, upload, watch it process, review, approve."""

import shutil
from pathlib import Path

import pytest
from django.conf import settings

from documents.models import Document
from monitoring.models import AuditLog
from system.models import SystemConfig

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between page actions are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed (Debian package 'chromium'); `make test` installs it.")
    with playwright_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield instance
        instance.close()


@pytest.fixture
def clerk(reviewer):
    from django.contrib.auth.models import Permission

    reviewer.user_permissions.add(Permission.objects.get(codename="add_document"))
    return reviewer


def test_it_takes_a_scanned_invoice_from_upload_to_approval(
    live_server, celery_worker, browser, clerk, scanned_png, invoice_spec, tmp_path
):
    # Make sure this document lands in review, whatever its confidence.
    # (every would-be automatic approval goes to the quality sample)
    SystemConfig.objects.update_or_create(
        key="extraction.quality_sample_rate",
        defaults={"value": 1.0, "value_type": SystemConfig.ValueType.FLOAT, "validation_rules": {"min": 0, "max": 1}},
    )
    scan = tmp_path / "Rechnung-Scan.png"
    scan.write_bytes(scanned_png)
    page = browser.new_page(locale="de-DE")
    page.set_default_timeout(20_000)

    page.goto(f"{live_server.url}/")
    page.fill("#id_username", clerk.email)
    page.fill("#id_password", "Passwort-12345")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.set_input_files("#id_files", str(scan))
    page.click("form[data-dropzone] button[type=submit]")
    page.wait_for_selector(".upload-results li.ok")
    document = Document.objects.get()

    # No reload: the list updates itself (htmx polling without Redis, websocket with it).
    row = page.locator(f"#doc-{document.id}")
    row.locator(".status-review").wait_for(timeout=180_000)
    truth = invoice_spec.ground_truth()
    amount = row.locator("td.num").inner_text()
    assert amount.replace("\xa0", " ").startswith(_german_amount(truth["total_amount"]))

    page.goto(f"{live_server.url}/dokumente/{document.id}/")
    assert page.input_value("#field_invoice_number") == _printed(document, "invoice_number")
    page.focus("#field_total_amount")
    assert page.locator('.box.active[data-field="total_amount"]').count() == 1
    page.screenshot(path=str(Path(settings.DATA_DIR) / "review.png"), full_page=True)

    page.fill("#field_customer_number", "K-4711")
    page.click('button[value="approve"]')
    page.wait_for_url(f"{live_server.url}/")
    document.refresh_from_db()
    assert document.status == Document.Status.APPROVED
    assert document.reviewed_by == clerk
    assert AuditLog.objects.filter(object_id=str(document.id), action="document.approved", actor=clerk).exists()
    assert document.fields.get(name="customer_number").value == "K-4711"


def _printed(document, name):
    return document.fields.get(name=name).value


def _german_amount(normalized: str) -> str:
    euros, cents = normalized.split(".")
    groups = []
    while len(euros) > 3:
        groups.insert(0, euros[-3:])
        euros = euros[:-3]
    groups.insert(0, euros)
    return f"{'.'.join(groups)},{cents}"
