"""PostgreSQL restarted under load (issue 13, scenario 6): a real daphne and a real Celery worker on a
private PostgreSQL cluster that the test stops and starts again.

While the database is down the web answers 503 with Retry-After (never 500, never a hang), the
worker's tasks retry with backoff, and afterwards the ledger (tests/ledger.py) holds.
"""

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.conf import settings
from django.db import connection

from documents.models import Document
from tests.helpers import wait_for
from tests.ledger import Ledger
from tests.processes import PostgresCluster, WebServer, Worker, database_at, terminate_other_sessions

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

OUTAGE_SECONDS = 6
# A refused connection answers at once; anything slower than this is a hang to the client.
ANSWER_WITHIN_SECONDS = 4


def _source_url() -> str:
    database = settings.DATABASES["default"]
    port = database["PORT"] or "5432"
    return f"postgres://{database['USER'] or 'postgres'}@{database['HOST'] or '127.0.0.1'}:{port}/{database['NAME']}"


@pytest.fixture
def cluster():
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("the restart scenario needs PostgreSQL as the test database")
    if reason := PostgresCluster.missing():
        pytest.skip(reason)
    terminate_other_sessions()  # pg_dump must see the committed state only; nothing else is connected
    cluster = PostgresCluster().init()
    cluster.start()
    try:
        cluster.copy_database(_source_url())
        with database_at(port=cluster.port):
            yield cluster
    finally:
        cluster.destroy()


def _uploader():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    from accounts.services import api_key_create

    user = get_user_model().objects.create_user("pg-restart@example.com", "restart-passwort-1")
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="documents", codename__in=["add_document", "view_document"])
    )
    _key, raw_key = api_key_create(user=user, actor=user, name="restart", scopes=["read", "write"])
    return user, raw_key


def _session_cookie(user) -> dict:
    from django.test import Client

    browser = Client()
    browser.force_login(user)
    return {settings.SESSION_COOKIE_NAME: browser.cookies[settings.SESSION_COOKIE_NAME].value}


def _invoices(count: int) -> list[tuple[str, bytes]]:
    from ablage.testing.einvoices import xrechnung_cii_xml
    from ablage.testing.invoice_pdf import render_pdf
    from ablage.testing.invoices import random_invoice

    files = []
    for number in range(count):
        spec = random_invoice(6000 + number, layout="A")
        if number % 2:
            files.append((f"rechnung-{number}.pdf", render_pdf(spec, "A")))
        else:
            files.append((f"xrechnung-{number}.xml", xrechnung_cii_xml(spec)))
    return files


def _timed(request) -> tuple[httpx.Response, float]:
    """The response and how long it took."""
    started = time.monotonic()
    response = request()
    return response, time.monotonic() - started


def test_it_answers_503_while_postgres_restarts_and_loses_no_document(cluster):
    user, key = _uploader()
    ledger = Ledger(user)
    api = httpx.Client(headers={"Authorization": f"Api-Key {key}"}, timeout=30)
    browser = httpx.Client(cookies=_session_cookie(user), timeout=30)
    env = {"TEST_DATABASE_URL": cluster.url(settings.DATABASES["default"]["NAME"])}
    web, worker = WebServer(env=env), Worker(env=env, concurrency=2)
    try:
        with ThreadPoolExecutor(max_workers=2) as starting:  # both take seconds to import Django
            list(starting.map(lambda process: process.start(), [web, worker]))
        for filename, data in _invoices(8):
            response = api.post(f"{web.url}/api/v1/documents/", files={"file": (filename, data)})
            assert response.status_code == 202, (response.status_code, response.text[:500])
            ledger.accept(Document.objects.get(id=response.json()["id"]), data)
        assert ledger.in_flight(), "every document finished before the outage: nothing was under load"

        cluster.stop()  # pg_ctl stop -m fast: every session ends, new connections are refused
        late_upload = {"file": ("spät.pdf", _invoices(2)[1][1])}
        requests = {
            "api list": lambda: api.get(f"{web.url}/api/v1/documents/"),
            "page": lambda: browser.get(f"{web.url}/"),
            "upload": lambda: api.post(f"{web.url}/api/v1/documents/", files=late_upload),
        }
        answers = []
        outage_ends = time.monotonic() + OUTAGE_SECONDS
        while time.monotonic() < outage_ends:
            for what, request in requests.items():
                answers.append((what, *_timed(request)))
            time.sleep(0.3)
        ready = httpx.get(f"{web.url}/health/ready", timeout=30)
        alive = httpx.get(f"{web.url}/health", timeout=30)
        cluster.start()
        connection.close()  # this process's session ended with the server

        for what, response, seconds in answers:
            assert response.status_code == 503, (what, response.status_code, response.text[:300], web.log_tail())
            assert seconds < ANSWER_WITHIN_SECONDS, (what, seconds)
            assert int(response.headers["Retry-After"]) > 0
        api_answer = next(response for what, response, _ in answers if what == "api list")
        assert api_answer.json()["error"]["code"] == "database_unavailable"
        page = next(response for what, response, _ in answers if what == "page")
        assert page.headers["Content-Type"].startswith("text/html") and "nicht erreichbar" in page.text
        assert alive.status_code == 200
        assert ready.status_code == 503 and ready.json()["checks"]["database"]["status"] == "down"

        wait_for(
            lambda: api.get(f"{web.url}/api/v1/documents/").status_code == 200,
            timeout=20,
            message="the web server to answer from the restarted database",
        )
        # No sweep: the tasks that met the outage must come back by their own retries.
        ledger.wait_drained(timeout=180)
    finally:
        worker.stop()
        web.stop()
        api.close()
        browser.close()
    problems = ledger.problems()
    assert not problems, "\n".join(problems) + f"\n--- worker log ---\n{worker.log_tail()}"
    assert "retry: Retry in" in worker.log_path.read_text(), "no task met the outage"
    assert len(ledger.entries) == 8 == Document.all_objects.count()  # the uploads refused meanwhile left no row
