"""Learning from corrections, end to end in headless Chromium with a real Celery worker.

A supplier prints its invoice number and date under labels no built-in extractor knows
("Vorgang:", "Erstellt:"). A clerk types the right values into the review screen of two of its
invoices and approves them; the worker learns supplier rules from those corrections (default:
after 2 reviewed documents); the supplier's next invoice arrives with both fields read, and the
review screen says the value was learned from the corrections.
"""

import time

import pytest

from documents import services as document_services
from documents.models import Document
from extraction.models import ExtractionRule
from extraction.tests.test_learning import DOCUMENTS, VAT_ID, _unseen_invoice
from suppliers.models import Supplier
from tests import test_browser
from tests.test_browser_review import _login, screenshots  # noqa: F401 - fixture

browser = test_browser.browser

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

DATES_ISO = {"03.02.2025": "2025-02-03", "17.03.2025": "2025-03-17", "28.04.2025": "2025-04-28"}


@pytest.fixture(autouse=True)
def _usable_connection(celery_worker, browser):
    # As in test_browser_review: Playwright's greenlet gets its own Django connection, which an
    # earlier worker test's teardown may have terminated (conftest._close_other_sessions).
    # The worker is set up before the browser so that it is torn down after it, back in the
    # main context: its teardown then terminates the greenlet's connection, not the one
    # pytest-django flushes the database with.
    from django.db import connection

    if connection.connection is not None and not connection.is_usable():
        connection.close()


def _until(check, *, timeout: float, what: str, worker):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            log = worker.log_path.read_text()[-3000:]
            pytest.fail(f"{what} did not happen within {timeout:.0f} s; worker log:\n{log}")
        time.sleep(0.5)


def _processed(owner, number: str, day: str, customer: str, *, worker) -> Document:
    document = document_services.document_ingest(
        owner=owner, filename=f"lindner-{number[-4:]}.pdf", data=_unseen_invoice(number, day, customer)
    )

    def done():
        document.refresh_from_db()
        return document.status not in (Document.Status.QUEUED, Document.Status.PROCESSING)

    _until(done, timeout=120, what=f"Processing of {number}", worker=worker)
    return document


def test_it_reads_the_suppliers_next_invoice_right_after_a_clerk_corrected_two_in_the_browser(
    live_server,
    celery_worker,
    browser,
    owner,
    reviewer,
    screenshots,  # noqa: F811
):
    supplier = Supplier.objects.create(name="Gartenbau Lindner GmbH", vat_id=VAT_ID)
    first, second = (_processed(owner, *values, worker=celery_worker) for values in DOCUMENTS[:2])
    assert first.supplier_id == second.supplier_id == supplier.id
    page = _login(browser, live_server, reviewer)

    for document, (number, day, _customer) in ((first, DOCUMENTS[0]), (second, DOCUMENTS[1])):
        page.goto(f"{live_server.url}/dokumente/{document.id}/")
        # Nothing knows "Vorgang:" yet: the invoice number is not read and there is no learned evidence.
        assert page.input_value("#field_invoice_number") == ""
        assert page.locator(".evidence-learned").count() == 0
        page.fill("#field_invoice_number", number)
        page.fill("#field_invoice_date", day)
        page.click('button[value="approve"]')
        page.wait_for_url(f"{live_server.url}/")
        document.refresh_from_db()
        assert document.status == Document.Status.APPROVED
        assert document.fields.get(name="invoice_number").normalized_value == number

    # The second approval enqueued the learning run; the worker derives and activates the rules.
    rule = _until(
        lambda: ExtractionRule.objects.filter(
            supplier=supplier, field_name="invoice_number", learned_from__gt=0, is_active=True
        ).first(),
        timeout=120,
        what="Learning a rule for the invoice number",
        worker=celery_worker,
    )
    assert rule.rule_config["label"] == "Vorgang:"

    number, day, customer = DOCUMENTS[2]
    third = _processed(owner, number, day, customer, worker=celery_worker)
    page.goto(f"{live_server.url}/dokumente/{third.id}/")

    assert page.input_value("#field_invoice_number") == number
    evidence = page.locator('tr[data-field="invoice_number"] .evidence-learned')
    assert evidence.inner_text() == "gelernt aus 2 Korrekturen"
    assert page.input_value("#field_invoice_date") == day
    assert third.fields.get(name="invoice_date").normalized_value == DATES_ISO[day]
    assert third.fields.get(name="invoice_number").rule == f"regel:{rule.id}@v{rule.version}"
    page.locator('tr[data-field="invoice_number"]').screenshot(path=str(screenshots / "review-learned.png"))
