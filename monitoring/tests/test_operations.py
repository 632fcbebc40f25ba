import json
import logging
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import OperationalError
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import path
from django.utils import timezone

from documents.models import Document, ExtractedField, OCRResult, ProcessingJob
from monitoring import lifecycle
from monitoring.errors import error_record, on_task_failure
from monitoring.models import BackendMetric, ErrorLog, WorkerHeartbeat
from monitoring.pii import mask_pii
from monitoring.services import accuracy_drift_notify, backend_metrics_aggregate
from notifications.models import Notification

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("admin@example.com", "x")


def make_document(owner, number=0, **fields):
    defaults = {
        "title": f"Rechnung {number}",
        "original_filename": "r.pdf",
        "mime_type": "application/pdf",
        "file_size": 1,
        "sha256": f"{number:064d}",
        "storage_key": f"k-{number}",
    }
    return Document.objects.create(owner=owner, **{**defaults, **fields})


def _fail(request):
    raise ValueError("Rechnung 4711 von max@example.com kaputt")


def _database_down(request):
    raise OperationalError("could not connect to server: Connection refused")


urlpatterns = [path("fail/", _fail), path("db/", _database_down), path("ok/", lambda request: HttpResponse("ok"))]


# --- health -------------------------------------------------------------------------------


def test_it_answers_alive_and_live_until_shutdown(client):
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/health/live").status_code == 200
    lifecycle.mark_shutting_down()
    try:
        assert client.get("/health/live").status_code == 503
        assert client.get("/health/ready").status_code == 503
    finally:
        lifecycle._shutting_down.clear()


def test_it_is_not_ready_without_workers_for_the_required_queues(client, settings):
    settings.ABLAGE_REQUIRED_QUEUES = ["default", "ocr_cpu"]
    WorkerHeartbeat.objects.create(hostname="cpu@a", queues=["ocr_cpu"])
    response = client.get("/health/ready")
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["database"]["status"] == "healthy"
    assert body["checks"]["storage"]["status"] == "healthy"
    assert "default" in body["checks"]["workers"]["error"]

    WorkerHeartbeat.objects.create(hostname="default@b", queues=["default"])
    WorkerHeartbeat.objects.create(
        hostname="old@c", queues=["ocr_gpu"], last_seen_at=timezone.now() - timedelta(minutes=5)
    )
    response = client.get("/health/ready")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["workers"]["details"]["workers"] == ["cpu@a", "default@b"]


def test_it_sees_a_real_worker_by_its_heartbeat(celery_worker, settings):
    from tests.helpers import wait_for

    wait_for(lambda: WorkerHeartbeat.objects.filter(stopping=False).exists(), timeout=30)
    worker = WorkerHeartbeat.objects.get()
    assert set(settings.ABLAGE_REQUIRED_QUEUES) <= set(worker.queues)
    assert Client().get("/health/ready").status_code == 200


# --- metrics ------------------------------------------------------------------------------


def test_it_serves_metrics_only_to_allowed_callers(client, settings):
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403
    settings.ABLAGE_METRICS_TOKEN = "geheim-123"
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer falsch").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer geheim-123").status_code == 200
    assert client.get("/metrics").status_code == 200  # loopback


def test_it_reports_documents_stages_backends_and_requests(client, owner):
    review = make_document(
        owner, 1, status=Document.Status.REVIEW, document_type="invoice", processed_at=timezone.now(), decision="review"
    )
    make_document(
        owner,
        2,
        status=Document.Status.APPROVED,
        document_type="invoice",
        decision="auto_approve",
        processed_at=timezone.now(),
    )
    ProcessingJob.objects.create(
        document=review,
        status="completed",
        backend="tesseract",
        finished_at=timezone.now(),
        timings_ms={"preflight": 80, "ocr": 2100.5, "extraction": 40},
    )
    client.get("/health")
    text = client.get("/metrics").content.decode()
    assert 'ablage_documents{document_type="invoice",status="review"} 1.0' in text
    assert "ablage_review_queue_size 1.0" in text
    assert "ablage_straight_through_ratio 0.5" in text
    assert 'ablage_stage_duration_seconds_bucket{le="5",stage="ocr"} 1.0' in text
    assert 'ablage_stage_duration_seconds_bucket{le="2",stage="ocr"} 0.0' in text
    assert 'ablage_ocr_backend_duration_seconds_count{backend="tesseract"} 1.0' in text
    assert 'ablage_queue_depth{queue="ocr_cpu"}' in text
    assert 'ablage_http_requests_total{method="GET",status="200",view="health"}' in text


# --- errors -------------------------------------------------------------------------------


@override_settings(ROOT_URLCONF=__name__)
def test_it_records_web_errors_once_and_counts_repeats_with_pii_masked():
    client = Client(raise_request_exception=False)
    assert client.get("/fail/").status_code == 500
    assert client.get("/fail/").status_code == 500
    error = ErrorLog.objects.get()
    assert error.occurrence_count == 2 and error.request_path == "/fail/"
    assert error.error_type == "builtins.ValueError" and error.severity == "error"
    assert "max@example.com" not in error.message and "[email:…example.com]" in error.message


@override_settings(ROOT_URLCONF=__name__)
def test_it_alerts_admins_about_a_new_critical_error(admin_user, owner):
    Client(raise_request_exception=False).get("/db/")
    error = ErrorLog.objects.get()
    assert error.severity == "critical"
    alert = Notification.objects.get()
    assert alert.user == admin_user and alert.type == "system_alert" and "OperationalError" in alert.title


def test_it_records_worker_task_failures(owner):
    class FakeTask:
        name = "notifications.tasks.send_email"

    try:
        raise ConnectionError("SMTP 10.0.0.5:25 refused")
    except ConnectionError as error:
        on_task_failure(sender=FakeTask(), task_id="t-1", exception=error, args=["x"])
    recorded = ErrorLog.objects.get()
    assert recorded.context == {"source": "worker", "task": "notifications.tasks.send_email", "task_id": "t-1"}
    assert recorded.severity == "critical"


def test_it_never_raises_while_recording():
    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError("no")

    assert error_record(Unprintable()) is None


def test_it_masks_identifiers():
    text = "IBAN DE89 3704 0044 0532 0130 00, USt-IdNr DE123456789, StNr 12/345/67890, a.b@firma.de, Tel 0221 1234567"
    masked = mask_pii(text)
    for secret in ("3704 0044", "123456789", "345/67890", "a.b@", "1234567"):
        assert secret not in masked, masked


def test_it_logs_json_with_the_request_id_and_masks(client, caplog):
    from ablage.logs import ContextFilter, JsonFormatter, correlation_id

    response = client.get("/health", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    assert client.get("/health", HTTP_X_REQUEST_ID="<script>")["X-Request-ID"] != "<script>"
    token = correlation_id.set("req-42")
    try:
        record = logging.LogRecord("ablage", logging.INFO, __file__, 1, "Mail an %s", ("x@y.de",), None)
        record.text = "Rechnung Mustermann GmbH"
        ContextFilter().filter(record)
        entry = json.loads(JsonFormatter().format(record))
    finally:
        correlation_id.reset(token)
    assert entry["correlation_id"] == "req-42" and "x@y.de" not in entry["message"]
    assert entry["text_length"] == 24 and "text" not in entry


# --- aggregation, drift -------------------------------------------------------------------


def test_it_aggregates_backend_metrics_per_hour_and_day(owner):
    now = timezone.now()
    for number, ocr_ms in enumerate([1000, 2000, 3000, 4000], start=1):
        document = make_document(owner, number, page_count=2)
        job = ProcessingJob.objects.create(
            document=document, status="completed", backend="tesseract", finished_at=now, timings_ms={"ocr": ocr_ms}
        )
        OCRResult.objects.create(
            document=document,
            job=job,
            backend="tesseract",
            content_source="ocr",
            text="x" * 100,
            average_confidence=0.9,
        )
    failed = ProcessingJob.objects.create(
        document=make_document(owner, 9), status="failed", backend="tesseract", finished_at=now
    )
    assert failed.pk
    assert backend_metrics_aggregate(now=now) >= 2
    hourly = BackendMetric.objects.get(backend="tesseract", hour_of_day=timezone.localtime(now).hour)
    assert (hourly.total_requests, hourly.successful_requests, hourly.failed_requests) == (5, 4, 1)
    assert (hourly.p50_processing_ms, hourly.p95_processing_ms, hourly.max_processing_ms) == (2000, 4000, 4000)
    assert hourly.pages_processed == 8 and hourly.characters_extracted == 400
    assert BackendMetric.objects.filter(backend="tesseract", hour_of_day=None).count() == 1
    backend_metrics_aggregate(now=now)  # rewrites, never duplicates
    assert BackendMetric.objects.filter(backend="tesseract").count() == 2


def test_it_notices_an_accuracy_drop_and_tells_admins_once(owner, admin_user):
    now = timezone.now()
    for number in range(20):
        last_week = number < 10
        document = make_document(owner, number, reviewed_at=now - timedelta(days=10 if last_week else 2))
        wrong = not last_week and number % 2 == 0
        ExtractedField.objects.create(
            document=document,
            name="invoice_number",
            value="KORR" if wrong else "RE-1",
            extracted_value="RE-1",
            source="manual" if wrong else "rule",
        )
    assert accuracy_drift_notify(now=now) == ["invoice_number"]
    assert accuracy_drift_notify(now=now) == []
    assert Notification.objects.get(user=admin_user).title == "Genauigkeit gesunken: invoice_number"


def test_it_shows_the_dashboard_to_admins_and_team_leads_only(client, admin_user, owner, outsider):
    make_document(
        owner, 1, status=Document.Status.REVIEW, overall_confidence=0.72, processed_at=timezone.now(), decision="review"
    )
    client.force_login(outsider)
    assert client.get("/betrieb/").status_code == 403
    outsider.user_permissions.add(Permission.objects.get(codename="view_systemmetric"))
    body = client.get("/betrieb/").content.decode()
    assert "<svg" in body and "0 Dokumente warten" in body  # a team lead sees only what they may see
    client.force_login(admin_user)
    body = client.get("/betrieb/").content.decode()
    assert "1 Dokument wartet auf Prüfung" in body and 'id="accuracy"' in body


def test_it_reports_mail_and_webhook_delivery_outcomes(client, owner):
    import uuid

    from notifications.models import EmailQueue, WebhookDelivery, WebhookEndpoint

    for status in ("sent", "sent", "failed"):
        EmailQueue.objects.create(
            to_address="a@example.com",
            subject="s",
            text_body="t",
            status=status,
            sent_at=timezone.now() if status == "sent" else None,
            last_error="550" if status == "failed" else "",
        )
    endpoint = WebhookEndpoint.objects.create(
        owner=owner, url="https://erp.example.com/h", events=["document.processed"], secret="whsec_test"
    )
    WebhookDelivery.objects.create(
        endpoint=endpoint,
        event="document.processed",
        event_id=uuid.uuid4(),
        payload={},
        status="delivered",
        delivered_at=timezone.now(),
    )
    text = client.get("/metrics").content.decode()
    assert 'ablage_email_deliveries_total{status="sent"} 2.0' in text
    assert 'ablage_email_deliveries_total{status="failed"} 1.0' in text
    assert 'ablage_webhook_deliveries_total{status="delivered"} 1.0' in text


def test_it_marks_a_worker_stopping_on_sigterm_and_lets_it_finish(celery_worker):
    """Celery's warm shutdown on SIGTERM: the heartbeat says "stopping" (readiness drops it)."""
    import signal

    from tests.helpers import wait_for

    wait_for(lambda: WorkerHeartbeat.objects.filter(stopping=False).exists(), timeout=30)
    celery_worker.process.send_signal(signal.SIGTERM)
    wait_for(lambda: WorkerHeartbeat.objects.filter(stopping=True).exists(), timeout=30)
    assert celery_worker.process.wait(timeout=60) == 0  # a warm shutdown, not a crash
    assert Client().get("/health/ready").status_code == 503
