"""The review workspace in headless Chromium: claiming, click-to-assign, keyboard, inline
validation, rejection, a second clerk's live view, and hostile text staying inert.

Documents are created directly (no pipeline run) with a generated page image, so each test
takes seconds. Screenshots go to ``ABLAGE_SCREENSHOTS_DIR`` when set (``make screenshots``
style runs that refresh ``docs/screenshots``), else to the test's temporary directory.
"""

import io
import os
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageDraw

from documents.models import Document, DocumentPage
from documents.tests.factories import make_document
from monitoring.models import AuditLog
from tests import test_browser

browser = test_browser.browser  # the Chromium fixture, shared with the upload-to-approval test

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

PASSWORD = "Passwort-12345"
WORDS = [
    # text, bbox (normalised x0, y0, x1, y1)
    ("Rechnungsnummer:", (0.10, 0.10, 0.30, 0.13)),
    ("RE-4711", (0.32, 0.10, 0.45, 0.13)),
    ("Netto", (0.10, 0.60, 0.20, 0.63)),
    ("100,00", (0.60, 0.60, 0.72, 0.63)),
    ("USt", (0.10, 0.65, 0.20, 0.68)),
    ("19,00", (0.60, 0.65, 0.72, 0.68)),
    ("Brutto", (0.10, 0.70, 0.20, 0.73)),
    ("119,00", (0.60, 0.70, 0.72, 0.73)),
]
FIELDS = {
    "supplier_name": ("Stadtwerke Musterstadt", "Stadtwerke Musterstadt"),
    "invoice_number": ("RE-47", "RE-47"),
    "invoice_date": ("05.03.2026", "2026-03-05"),
    "net_amount": ("100,00", "100.00"),
    "vat_amount": ("19,00", "19.00"),
    "total_amount": ("119,00", "119.00"),
    "currency": ("EUR", "EUR"),
}


@pytest.fixture(autouse=True)
def _usable_connection(django_db_serialized_rollback, browser):
    # The serialized rollback restores the migration-seeded rows (permissions, configuration)
    # that an earlier transactional test's flush removed. Under Playwright's sync API the ORM
    # runs in Playwright's greenlet context, and Django keeps a connection per context: the one
    # an earlier celery_worker test left there was terminated by its teardown
    # (conftest._close_other_sessions). Reopen it.
    from django.db import connection

    if connection.connection is not None and not connection.is_usable():
        connection.close()


@pytest.fixture
def second_reviewer(django_user_model, reviewer):
    user = django_user_model.objects.create_user("zweite@example.com", PASSWORD, display_name="Zoe Zweite")
    user.groups.add(Group.objects.get(name="test-reviewers"))
    return user


@pytest.fixture
def screenshots(tmp_path) -> Path:
    target = Path(os.environ.get("ABLAGE_SCREENSHOTS_DIR") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


def _page_image(words) -> str:
    image = Image.new("RGB", (850, 1100), "white")
    draw = ImageDraw.Draw(image)
    for text, (x0, y0, _x1, _y1) in words:
        draw.text((x0 * 850, y0 * 1100), text, fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    return default_storage.save("pages/test/p1.jpg", ContentFile(buffer.getvalue()))


def review_document(owner, *, title="Stadtwerke März", words=WORDS, fields=FIELDS, **columns) -> Document:
    document = make_document(owner, title=title, fields=fields, page_count=1, **columns)
    DocumentPage.objects.create(
        document=document,
        page_number=1,
        image_key=_page_image(words),
        width_px=850,
        height_px=1100,
        dpi=100,
        text=" ".join(text for text, _ in words),
        text_source="ocr",
        words=[{"text": text, "bbox": list(bbox), "confidence": 0.9} for text, bbox in words],
    )
    return document


def _login(browser_instance, live_server, user, *, viewport=None):
    context = browser_instance.new_context(locale="de-DE", viewport=viewport or {"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("dialog", lambda dialog: pytest.fail(f"Unexpected dialog: {dialog.message}"))
    page.goto(f"{live_server.url}/konto/anmelden/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


def test_it_gives_two_clerks_claiming_at_the_same_moment_different_documents(
    live_server, browser, reviewer, second_reviewer, owner
):
    documents = [review_document(owner, title=f"Beleg {n}") for n in range(2)]
    first = _login(browser, live_server, reviewer)
    second = _login(browser, live_server, second_reviewer)
    for page in (first, second):
        page.goto(f"{live_server.url}/pruefung/")

    # Both requests are in flight together: neither click waits for its navigation.
    first.click("main form button.primary", no_wait_after=True)
    second.click("main form button.primary", no_wait_after=True)
    pattern = re.compile(r".*/dokumente/[0-9a-f-]{36}/$")
    first.wait_for_url(pattern)
    second.wait_for_url(pattern)

    assert first.url != second.url
    claims = {document.claimed_by_id for document in Document.objects.filter(id__in=[d.id for d in documents])}
    assert claims == {reviewer.id, second_reviewer.id}


def test_it_fills_the_focused_field_from_a_clicked_word_and_approves_by_keyboard(
    live_server, browser, reviewer, owner, screenshots
):
    document = review_document(owner)
    page = _login(browser, live_server, reviewer)
    page.goto(f"{live_server.url}/dokumente/{document.id}/")

    page.focus("#field_invoice_number")
    assert page.locator('.box.active[data-field="invoice_number"]').count() == 1
    page.click('.word[data-text="RE-4711"]')
    assert page.input_value("#field_invoice_number") == "RE-4711"
    page.screenshot(path=str(screenshots / "review.png"), full_page=False)

    page.keyboard.press("Escape")  # leave the field: single-key shortcuts apply outside inputs
    page.keyboard.press("?")
    assert page.locator("#shortcuts").is_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("a")
    page.wait_for_url(f"{live_server.url}/")

    document.refresh_from_db()
    assert document.status == Document.Status.APPROVED and document.reviewed_by == reviewer
    assert document.fields.get(name="invoice_number").value == "RE-4711"
    assert AuditLog.objects.filter(action="document.fields_corrected", object_id=str(document.id)).exists()


def test_it_shows_a_sum_mismatch_while_typing_and_clears_it_when_corrected(live_server, browser, reviewer, owner):
    document = review_document(owner)
    page = _login(browser, live_server, reviewer)
    page.goto(f"{live_server.url}/dokumente/{document.id}/")

    page.fill("#field_total_amount", "119,50")
    message = page.locator("#validation li.error", has_text="Netto + USt ≠ Brutto")
    message.wait_for()
    assert page.get_attribute("#field_total_amount", "aria-invalid") == "true"

    page.fill("#field_total_amount", "119,00")
    message.wait_for(state="detached")
    page.locator("#validation li.ok", has_text="Netto + USt ergibt den Gesamtbetrag").wait_for()
    assert page.get_attribute("#field_total_amount", "aria-invalid") is None


def test_it_refuses_a_save_from_a_stale_tab_and_keeps_what_the_clerk_typed(live_server, browser, reviewer, owner):
    document = review_document(owner)
    first = _login(browser, live_server, reviewer)
    first.goto(f"{live_server.url}/dokumente/{document.id}/")
    second = _login(browser, live_server, reviewer)
    second.goto(f"{live_server.url}/dokumente/{document.id}/")

    first.fill("#field_invoice_number", "RE-48")
    first.click('#review-form button[value="save"]')
    first.locator(".message", has_text="Änderungen gespeichert").wait_for()
    second.fill("#field_due_date", "31.03.2026")
    second.click('#review-form button[value="approve"]')

    second.locator("#changed-since", has_text="Rechnungsnummer „RE-47“ → „RE-48“").wait_for()
    assert second.locator(".message", has_text="Das Dokument wurde geändert").is_visible()
    assert second.input_value("#field_due_date") == "31.03.2026"
    assert second.input_value("#field_invoice_number") == "RE-48"  # the other tab's correction, not the stale value
    document.refresh_from_db()
    assert document.status == Document.Status.REVIEW and not document.fields.filter(name="due_date").exists()

    second.click('#review-form button[value="approve"]')  # now based on the version it was shown
    second.wait_for_url(f"{live_server.url}/")
    document.refresh_from_db()
    assert document.status == Document.Status.APPROVED
    assert document.fields.get(name="due_date").normalized_value == "2026-03-31"
    assert document.fields.get(name="invoice_number").value == "RE-48"


def test_it_rejects_with_a_reason_from_the_keyboard(live_server, browser, reviewer, owner):
    document = review_document(owner)
    page = _login(browser, live_server, reviewer)
    page.goto(f"{live_server.url}/dokumente/{document.id}/")

    page.keyboard.press("r")
    page.keyboard.type("Doppelt eingereicht")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/")

    document.refresh_from_db()
    assert document.status == Document.Status.REJECTED and document.status_reason == "Doppelt eingereicht"


def test_it_shows_a_second_clerk_the_approval_made_in_another_session(
    live_server, browser, reviewer, second_reviewer, owner
):
    document = review_document(owner)
    clerk = _login(browser, live_server, reviewer)
    clerk.goto(f"{live_server.url}/dokumente/{document.id}/")  # claims it
    watcher = _login(browser, live_server, second_reviewer)
    watcher.goto(f"{live_server.url}/dokumente/{document.id}/")
    assert "Rita Reviewer bearbeitet dieses Dokument" in watcher.inner_text("#claim-banner")
    assert watcher.locator('button[value="approve"]').count() == 0

    clerk.click('button[value="approve"]')
    clerk.wait_for_url(f"{live_server.url}/")

    # No reload on the watcher's side: the page polls (or gets a websocket push) and says so.
    watcher.locator(".changed-banner", has_text="Rita Reviewer hat dieses Dokument geändert").wait_for(timeout=15_000)
    assert "Freigegeben" in watcher.inner_text(".changed-banner")


def test_it_keeps_hostile_filenames_and_ocr_text_inert(live_server, browser, reviewer, owner, screenshots):
    payload = '<img src=x onerror="window.__xss=1">'
    document = review_document(
        owner,
        title=payload,
        original_filename=f"{payload}.pdf",
        words=[(payload, (0.1, 0.1, 0.5, 0.15)), *WORDS[1:]],
        fields={**FIELDS, "supplier_name": (payload, payload)},
    )
    page = _login(browser, live_server, reviewer)
    page.goto(f"{live_server.url}/")
    page.locator(f"#doc-{document.id}").wait_for()
    page.screenshot(path=str(screenshots / "inbox.png"), full_page=False)
    assert payload in page.inner_text(f"#doc-{document.id}")

    page.goto(f"{live_server.url}/dokumente/{document.id}/")
    assert page.input_value("#field_supplier_name") == payload
    assert page.get_attribute(".word >> nth=0", "data-text") == payload
    page.wait_for_timeout(300)  # an injected onerror would have fired by now
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src='x']").count() == 0


def test_it_renders_the_queue_for_screenshots(live_server, browser, reviewer, owner, screenshots):
    for number in range(3):
        review_document(owner, title=f"Rechnung {number + 1}")
    page = _login(browser, live_server, reviewer, viewport={"width": 1366, "height": 768})
    page.goto(f"{live_server.url}/pruefung/")
    assert page.locator("#queue-table tbody tr").count() == 3
    page.screenshot(path=str(screenshots / "queue.png"), full_page=False)
