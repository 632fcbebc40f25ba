"""Nothing lost when services fail: real worker processes, real Redis, PostgreSQL, SMTP and HTTP
receivers on loopback, and the ledger (tests/ledger.py) as the judge of every scenario.

The scenarios marked ``faults`` take minutes and run in ``make test-faults`` (CI runs it
after ``make test``); the mail and webhook outage is quick enough for the default suite.
The killed worker process is tests/test_worker_faults.py.
"""

import contextlib
import datetime
import os
import subprocess
import time

import pytest
from django.utils import timezone

from documents import services
from documents.models import Document, ProcessingJob
from notifications.models import NotificationPreference, WebhookEndpoint
from notifications.tests.conftest import Receiver, Reply, SmtpServer
from tests.helpers import wait_for
from tests.ledger import Ledger, redis_queue_lengths
from tests.processes import RedisServer, Worker, free_port, producer_broker, terminate_other_sessions

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# How many documents the slow scenarios push through (the issue asks for 200 in flight; on a
# shared two-core CI machine the default keeps the run within minutes).
FAULT_DOCUMENTS = int(os.environ.get("ABLAGE_FAULT_DOCUMENTS", "20"))


def _invoices(count: int, *, seed: int = 1000) -> list[tuple[str, bytes]]:
    """Distinct invoices: XRechnung XML (read exactly) and born-digital PDFs (text layer), alternating."""
    from ablage.testing.einvoices import xrechnung_cii_xml
    from ablage.testing.invoice_pdf import render_pdf
    from ablage.testing.invoices import random_invoice

    files = []
    for number in range(count):
        spec = random_invoice(seed + number, layout="A")
        if number % 2:
            files.append((f"rechnung-{number}.pdf", render_pdf(spec, "A")))
        else:
            files.append((f"xrechnung-{number}.xml", xrechnung_cii_xml(spec)))
    return files


def _long_scan() -> bytes:
    """A scan of three pages: its OCR runs long enough to be interrupted in the middle."""
    from ablage.testing.invoices import random_invoice
    from ablage.testing.scans import render_scan

    return render_scan(random_invoice(21, layout="A", item_count=60), "A", seed=21, dpi=200, noise=2.0, fmt="tiff")


def _upload(client, ledger: Ledger, filename: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post("/api/v1/documents/", {"file": SimpleUploadedFile(filename, data)})
    assert response.status_code == 202, (response.status_code, response.content[:500])
    ledger.accept(Document.objects.get(id=response.json()["id"]), data)


def _sweep_later(*, minutes: int):
    """The stuck-job sweep as celery beat runs it, on a clock ``minutes`` ahead (past the stages' limits)."""

    def sweep():
        services.jobs_recover_stale(now=timezone.now() + datetime.timedelta(minutes=minutes))

    return sweep


def _assert_ledger_holds(ledger: Ledger, worker: Worker | None = None, **checks):
    problems = ledger.problems(**checks)
    assert not problems, "\n".join(problems[:40]) + (f"\n--- worker log ---\n{worker.log_tail()}" if worker else "")


@pytest.fixture
def ledger(owner):
    return Ledger(owner)


@pytest.fixture
def api_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def redis_server():
    server = RedisServer()
    server.start()
    yield server
    server.kill()


# --- mail and webhook receivers down, failing, slow, then back (default suite) ------------------


def test_it_delivers_every_mail_and_webhook_once_after_receivers_were_down(
    api_client, owner, reviewer, ledger, workers, settings
):
    smtp = SmtpServer(free_port())
    hook_port = free_port()
    outgoing = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
        "EMAIL_TIMEOUT": "5",
        "ABLAGE_OUTGOING_ALLOWED_PORTS": str(hook_port),
        "ABLAGE_OUTGOING_ALLOWED_NETWORKS": "127.0.0.1/32",
        "ABLAGE_WEBHOOK_TIMEOUT_SECONDS": "1",
    }
    # This process runs the send-due sweep (celery beat's job) and must reach the same receivers.
    settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT = outgoing["EMAIL_BACKEND"], "127.0.0.1", smtp.port
    settings.EMAIL_TIMEOUT = 5
    settings.ABLAGE_OUTGOING_ALLOWED_PORTS = [hook_port]
    settings.ABLAGE_OUTGOING_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.ABLAGE_WEBHOOK_TIMEOUT_SECONDS = 1.0
    # The uploader wants a mail for each processed document (the default is in-app only).
    NotificationPreference.objects.create(user=owner, notification_type="document_processed", channel="email")
    WebhookEndpoint.objects.create(
        owner=owner,
        name="Buchhaltung",
        url=f"http://127.0.0.1:{hook_port}/hook",
        events=["document.processed", "document.review_required", "document.approved", "document.rejected"],
    )
    worker = workers(env=outgoing)
    for filename, data in _invoices(2, seed=300):
        _upload(api_client, ledger, filename, data)

    # Both receivers are down while the worker processes and notifies: every first attempt fails.
    ledger.wait_drained(timeout=180)
    from notifications.models import EmailQueue, WebhookDelivery

    mails = EmailQueue.objects.filter(document_id__in=list(ledger.entries))
    hooks = WebhookDelivery.objects.filter(document_id__in=list(ledger.entries))
    wait_for(
        lambda: (
            mails.exists()
            and hooks.exists()
            and not mails.filter(attempts=0).exists()
            and not hooks.filter(attempts=0).exists()
        ),
        timeout=60,
        message="the worker's first delivery attempts",
    )
    assert not mails.filter(status=EmailQueue.Status.SENT).exists()
    assert not hooks.filter(status=WebhookDelivery.Status.DELIVERED).exists()
    assert all("refused" in error.lower() for error in mails.values_list("last_error", flat=True))

    # Back: SMTP answers; the webhook receiver fails once, then is too slow once, then accepts.
    smtp.start()
    receiver = Receiver(port=hook_port)
    receiver.script = [Reply(503), Reply(200, delay=2.5), Reply(200)]
    try:
        _send_due_until_settled(minutes_ahead=[15, 60, 180, 600, 1500])
        _assert_ledger_holds(ledger, worker, smtp_messages=smtp.messages, webhook_receiver=receiver)
        assert set(mails.values_list("status", flat=True)) == {EmailQueue.Status.SENT}
        assert len(receiver.requests) > hooks.count()  # the failing and the slow attempt were retried
    finally:
        receiver.close()
        smtp.stop()


def _send_due_until_settled(*, minutes_ahead):
    """The send-due sweep (celery beat, every minute) on clocks past each backoff step."""
    from notifications import email, webhooks

    for minutes in minutes_ahead:
        later = timezone.now() + datetime.timedelta(minutes=minutes)
        email.email_recover_stuck(now=later)
        webhooks.delivery_recover_stuck(now=later)
        for email_id in email.email_due_ids(now=later):
            email.email_send(email_id=email_id, now=later)
        for delivery_id in webhooks.delivery_due_ids(now=later):
            webhooks.delivery_attempt(delivery_id=delivery_id, now=later)


# --- the broker restarts with documents in flight (make test-faults) ---------------------------


@pytest.mark.faults
def test_it_brings_every_document_to_an_end_state_after_redis_restarts_mid_run(
    api_client, ledger, workers, redis_server, settings
):
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"]
    worker = workers(env={"TEST_REDIS_URL": redis_server.url}, concurrency=2)
    with producer_broker(redis_server.url):
        for filename, data in _invoices(FAULT_DOCUMENTS):
            _upload(api_client, ledger, filename, data)
        wait_for(
            lambda: ProcessingJob.objects.filter(status=ProcessingJob.Status.COMPLETED).count() >= 2,
            timeout=120,
            message="the first documents to complete",
        )
        queued = sum(redis_queue_lengths(redis_server.client(), prefix).values())
        redis_server.kill()  # without persistence: every queued and unacknowledged message is gone
        time.sleep(2)
        redis_server.start()
        assert sum(redis_queue_lengths(redis_server.client(), prefix).values()) == 0 < queued
        # Nothing would ever come for the lost messages; the sweeper finds their jobs once they
        # are older than a stage allows and sends them again.
        ledger.wait_drained(timeout=600, sweep=_sweep_later(minutes=31), sweep_every=20)
        wait_for(
            lambda: not any(redis_queue_lengths(redis_server.client(), prefix).values()),
            timeout=60,
            message="the broker queues to empty",
        )
    _assert_ledger_holds(ledger, worker, broker=redis_queue_lengths(redis_server.client(), prefix))


# --- the whole worker killed (make test-faults; one pool process killed: test_worker_faults.py) --


@pytest.mark.faults
def test_it_completes_every_document_once_after_the_whole_worker_is_killed(api_client, ledger, workers):
    first = workers()
    for filename, data in [("lang.tif", _long_scan()), *_invoices(5, seed=4000)]:
        _upload(api_client, ledger, filename, data)
    running = wait_for(
        lambda: ProcessingJob.objects.filter(status=ProcessingJob.Status.RUNNING, current_stage="ocr").first(),
        timeout=120,
        interval=0.05,
        message="the scan's job to reach OCR",
    )
    first.kill()  # SIGKILL to main process and pool: its messages sit unacknowledged in Redis for an hour
    second = workers()
    ledger.wait_drained(timeout=300, sweep=_sweep_later(minutes=31), sweep_every=10)
    _assert_ledger_holds(ledger, second)
    running.refresh_from_db()
    assert running.status == ProcessingJob.Status.COMPLETED and running.attempts == 2


@pytest.mark.faults
def test_it_finishes_or_hands_back_the_running_document_on_sigterm(api_client, ledger, workers):
    import signal

    first = workers()
    for filename, data in [("lang.tif", _long_scan()), *_invoices(3, seed=5000)]:
        _upload(api_client, ledger, filename, data)
    running = wait_for(
        lambda: ProcessingJob.objects.filter(status=ProcessingJob.Status.RUNNING, current_stage="ocr").first(),
        timeout=120,
        interval=0.05,
        message="the scan's job to reach OCR",
    )
    first.process.send_signal(signal.SIGTERM)
    assert first.process.wait(timeout=120) == 0  # warm shutdown within the limit: the task ran to its end
    running.refresh_from_db()
    assert running.status == ProcessingJob.Status.COMPLETED and running.attempts == 1
    second = workers()  # what the first one had not started yet is still in the queue
    ledger.wait_drained(timeout=300, sweep=_sweep_later(minutes=31), sweep_every=10)
    _assert_ledger_holds(ledger, second)


# --- a document that takes its worker process down every time (make test-faults) --------------


def _kill_whoever_reads_the_scan(worker: Worker, stop) -> list[int]:
    """Until ``stop`` is set: SIGKILL each pool process the moment a Tesseract runs under it.

    Only the poison document is a scan (the others are XML and text-layer PDFs and never reach
    Tesseract), so this is that document crashing whichever process picks it up, every time."""
    import signal

    killed = []
    while not stop.is_set():
        for child in worker.children():
            # A page read ("tesseract …/page.pgm …"), not the version check a fresh process makes.
            found = subprocess.run(
                ["pgrep", "-P", str(child), "-f", r"tesseract .*\.pgm"], capture_output=True, text=True
            )
            if found.stdout.strip() and child not in killed:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
                killed.append(child)
        time.sleep(0.05)
    return killed


@pytest.mark.faults
def test_a_document_that_kills_its_worker_every_time_ends_dead_while_the_others_flow(api_client, ledger, workers):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    worker = workers(concurrency=2)
    stop = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        killer = pool.submit(_kill_whoever_reads_the_scan, worker, stop)
        _upload(api_client, ledger, "gift.tif", _long_scan())
        poison = Document.objects.get(original_filename="gift.tif")
        for filename, data in _invoices(6, seed=6000):
            _upload(api_client, ledger, filename, data)
        try:
            ledger.wait_drained(timeout=240, sweep=_sweep_later(minutes=31), sweep_every=10)
        finally:
            stop.set()
        killed = killer.result()

    _assert_ledger_holds(ledger, worker)
    poison.refresh_from_db()
    job = poison.jobs.get()
    assert poison.status == Document.Status.DEAD
    assert job.error_code == "too_many_attempts" and job.attempts == job.max_attempts + 1
    assert len(killed) == job.max_attempts, "one crash per attempt, none after the document was given up"
    assert "3 Versuchen abgebrochen" in poison.status_reason
    assert "bei jedem Versuch beendet" in poison.status_reason and "zuletzt im Schritt" in poison.status_reason
    others = ledger.documents().exclude(id=poison.id)
    assert set(others.values_list("status", flat=True)) <= {Document.Status.REVIEW, Document.Status.APPROVED}
    assert worker.process.poll() is None, "the worker itself kept running"


# --- the database drops the worker's connections (make test-faults) ----------------------------


@pytest.mark.faults
def test_it_completes_every_document_once_when_the_database_drops_worker_connections(api_client, ledger, workers):
    worker = workers(concurrency=2)
    for filename, data in _invoices(FAULT_DOCUMENTS // 2, seed=2000):
        _upload(api_client, ledger, filename, data)
    terminated = 0
    deadline = time.monotonic() + 60
    while ledger.in_flight() and time.monotonic() < deadline:
        time.sleep(1.5)
        terminated += terminate_other_sessions()
    assert terminated, "the worker never held a database connection to drop"
    ledger.wait_drained(timeout=600, sweep=_sweep_later(minutes=0), sweep_every=10)
    _assert_ledger_holds(ledger, worker)


# --- the load benchmark (make test-faults) -----------------------------------------------------


@pytest.mark.faults
def test_it_benchmarks_concurrent_uploads_and_loses_none_of_them(workers):
    import json
    from io import StringIO

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from documents.load_benchmark import _invoice

    worker = workers(concurrency=2)
    out = StringIO()
    # Every phase, small. The websocket phase needs the Redis channel layer, which the test
    # settings configure only when REDIS_URL is set.
    options = {"uploads": 8, "concurrency": 8, "clients": 4, "reads": 40, "seed": 7000, "documents": 100}
    options |= {"web_processes": 2, "ws_clients": 4, "ws_documents": 2, "sustained": 8, "overload": 6}
    arguments = [f"--{name.replace('_', '-')}={value}" for name, value in options.items()]
    call_command("bench", "load", *arguments, "--json", stdout=out)
    figures = json.loads(out.getvalue())

    assert figures["web_processes"] == 2
    assert figures["uploads"]["accepted"] == 8 and figures["uploads"]["statuses"] == {"202": 8}
    assert figures["uploads"]["latency_seconds"]["p95"] > 0
    assert figures["drain"]["measured"] and figures["drain"]["left_in_queue"] == 0
    assert figures["reads"]["documents"] == 100
    assert figures["reads"]["api_list"]["statuses"] == {"200": 40}
    assert figures["reads"]["review_screen"]["statuses"] == {"200": 40}
    sockets = figures["websockets"]
    if sockets["measured"]:  # REDIS_URL set for the test run
        assert sockets["deliveries"] == sockets["expected_deliveries"] == 4 * 2
        assert sockets["outsider_deliveries"] == 0
    else:
        assert "Channel-Layer" in sockets["reason"]
    for phase in ("sustained", "overload"):
        assert figures[phase]["measured"] and figures[phase]["accepted"] >= 1, figures[phase]
        assert figures[phase]["nothing_lost"] and figures[phase]["drain"]["left_in_queue"] == 0
    assert figures["overload"]["reads"]["requests"] > 0
    ledger = Ledger(get_user_model().objects.get(email=figures["bench_user"]))
    # The generated documents of the screens phase are gone again; what is left was uploaded.
    for document in Document.objects.filter(owner=ledger.owner):
        seed = int(document.original_filename.removeprefix("bench-").split(".")[0])
        filename, data = _invoice(seed)
        assert filename == document.original_filename
        ledger.accept(document, data)
    paced = figures["sustained"]["accepted"] + figures["overload"]["accepted"]
    assert len(ledger.entries) == 8 + paced
    _assert_ledger_holds(ledger, worker)
