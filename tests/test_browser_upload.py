"""The upload page in headless Chromium: many files at once, one request each, and a visible
result per file (accepted / duplicate / rejected with the reason), then the processing state."""

import pytest
from playwright.sync_api import expect

from ablage.testing import bad_uploads
from documents.models import Document
from tests.test_browser import browser, clerk  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@pytest.fixture(autouse=True)
def _serialized_rollback(django_db_serialized_rollback):
    """Leave the database as the worker tests expect it (like ``celery_worker``): a plain
    transactional flush re-creates the content types, which the next serialized test then
    fails to load."""


@pytest.fixture
def chromium(browser, django_db_blocker):  # noqa: F811
    """The browser, and a live database connection for the ORM calls made while it runs.

    With Playwright's event loop running in this thread, Django's connection is the one of
    that context; a previous worker test's cleanup (``_close_other_sessions``) may have ended
    it. A dead one is replaced before the test's first query.
    """
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.connection is not None and not connection.is_usable():
            connection.close()
    return browser


def _login(page, live_server, user):
    page.goto(f"{live_server.url}/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", "Passwort-12345")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_it_uploads_each_file_on_its_own_and_shows_each_result(live_server, chromium, clerk, tmp_path):  # noqa: F811
    pdf = bad_uploads.pdf_with_pages(1)
    files = {
        "Rechnung.pdf": pdf,
        "Rechnung Kopie.pdf": pdf,
        "leer.pdf": b"",
        "Bild.pdf": bad_uploads.png(),
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    page = chromium.new_page(locale="de-DE")
    page.set_default_timeout(20_000)
    posts = []
    page.on("request", lambda request: posts.append(request) if request.method == "POST" else None)
    _login(page, live_server, clerk)

    page.goto(f"{live_server.url}/hochladen/")
    page.set_input_files("#id_files", [str(tmp_path / name) for name in files])
    page.click("form[data-upload] button[type=submit]")
    # A locator wait, not wait_for_function: the CSP (script-src 'self') forbids the eval it uses.
    expect(page.locator("#upload-results li:not(.pending)")).to_have_count(4)

    upload_posts = [request for request in posts if request.url.endswith("/hochladen/")]
    assert len(upload_posts) == 4  # one request per file
    lines = {line.locator(".name").inner_text(): line for line in page.locator("#upload-results li").all()}
    assert lines["leer.pdf"].locator(".state").inner_text() == "abgelehnt: „leer.pdf“ ist leer."
    assert lines["Bild.pdf"].locator(".state").inner_text() == (
        "abgelehnt: „Bild.pdf“: Die Endung „.pdf“ passt nicht zum Inhalt: die Datei ist eine PNG-Datei."
    )
    # The same bytes twice, sent at the same time: exactly one is the original.
    states = sorted(
        lines[name].locator(".state").inner_text().split(":")[0] for name in ("Rechnung.pdf", "Rechnung Kopie.pdf")
    )
    assert states == ["Duplikat", "angenommen"]
    assert Document.objects.filter(is_duplicate=False).count() == 1
    assert Document.objects.filter(is_duplicate=True).count() == 1
    # Then the processing state, live (no worker runs here: it stays queued).
    lines["Rechnung.pdf"].locator(".processing.status-queued").wait_for()
    assert "In Warteschlange" in lines["Rechnung.pdf"].locator(".processing").inner_text()
    original = Document.objects.get(is_duplicate=False)
    link = page.locator(f'#upload-results a[href="/dokumente/{original.id}/"]')
    assert link.count() == 1


def test_it_takes_files_dropped_onto_the_drop_zone(live_server, chromium, clerk):  # noqa: F811
    page = chromium.new_page(locale="de-DE")
    page.set_default_timeout(20_000)
    _login(page, live_server, clerk)
    page.goto(f"{live_server.url}/hochladen/")

    page.evaluate(
        """(bytes) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([new Uint8Array(bytes)], "Gezogen.pdf", {type: "application/pdf"}));
            const zone = document.querySelector("form[data-upload]");
            zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
        }""",
        list(bad_uploads.pdf_with_pages(2)),
    )

    page.locator("#upload-results li.ok").wait_for()
    assert page.locator("#upload-results li.ok .name").inner_text() == "Gezogen.pdf"
    assert Document.objects.get().original_filename == "Gezogen.pdf"
