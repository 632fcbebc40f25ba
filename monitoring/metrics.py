"""Prometheus metrics: what the pipeline did, read from the database at scrape time, plus
this web process's HTTP requests.

The pipeline runs in many worker processes on several machines; counting in-process there
would need a shared store. The database already records every job (stage timings, backend,
confidence, status), so the collector derives counters and histograms from it on each scrape
— one source of truth for the dashboard and for Prometheus. HTTP metrics are per web process
(the ``instance`` label of the scrape tells processes apart).
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

# How far back the histograms of stage and backend durations look.
HISTOGRAM_WINDOW = timedelta(hours=24)
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)
CONFIDENCE_BUCKETS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99, 1.0)

http_registry = CollectorRegistry()
HTTP_REQUESTS = Counter(
    "ablage_http_requests", "HTTP requests served by this process", ["method", "view", "status"], registry=http_registry
)
HTTP_DURATION = Histogram(
    "ablage_http_request_duration_seconds",
    "HTTP request duration in this process",
    ["method", "view"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5),
    registry=http_registry,
)
UPLOADS_SHED = Counter(
    "ablage_uploads_shed",
    "Uploads refused with 503 because the pipeline held more than ingest.max_queued_documents",
    ["entry"],
    registry=http_registry,
)


def _histogram(
    name: str, documentation: str, label: str, samples: dict[str, list[float]], buckets
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation, labels=[label])
    for value, observations in sorted(samples.items()):
        cumulative = [(str(bound), sum(1 for x in observations if x <= bound)) for bound in buckets]
        cumulative.append(("+Inf", len(observations)))
        family.add_metric([value], cumulative, sum_value=sum(observations))
    return family


def queue_depths() -> dict[str, int | None]:
    """Messages waiting per Celery queue (None where the broker cannot tell)."""
    from ablage.celery import app

    depths: dict[str, int | None] = {}
    try:
        with app.connection_for_read() as connection:
            channel = connection.default_channel
            for queue in settings.ABLAGE_QUEUES:
                try:
                    depths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
                except Exception:  # a queue nobody declared yet has no messages
                    depths[queue] = 0
    except Exception:
        return dict.fromkeys(settings.ABLAGE_QUEUES)
    return depths


class PipelineCollector:
    """Reads the pipeline's record on each scrape."""

    def collect(self):
        from documents.models import Document, DocumentPage, ProcessingJob

        alive = Document.objects.filter(deleted_at=None)
        documents = GaugeMetricFamily(
            "ablage_documents", "Documents by status and type", labels=["status", "document_type"]
        )
        for row in alive.values("status", "document_type").annotate(n=Count("id")):
            documents.add_metric([row["status"], row["document_type"]], row["n"])
        yield documents

        processed = CounterMetricFamily(
            "ablage_documents_processed", "Completed processing jobs by resulting document status", labels=["status"]
        )
        for row in (
            ProcessingJob.objects.filter(status=ProcessingJob.Status.COMPLETED)
            .values("document__status")
            .annotate(n=Count("id"))
        ):
            processed.add_metric([row["document__status"]], row["n"])
        yield processed

        review = alive.filter(status=Document.Status.REVIEW)
        oldest = review.aggregate(oldest=Min("processed_at"))["oldest"]
        yield GaugeMetricFamily("ablage_review_queue_size", "Documents waiting for review", value=review.count())
        yield GaugeMetricFamily(
            "ablage_review_queue_oldest_age_seconds",
            "Age of the oldest document waiting for review",
            value=(timezone.now() - oldest).total_seconds() if oldest else 0,
        )

        decided = alive.filter(processed_at__gte=timezone.now() - timedelta(days=7)).exclude(decision="")
        totals = decided.aggregate(all=Count("id"), auto=Count("id", filter=Q(decision=Document.Decision.AUTO_APPROVE)))
        yield GaugeMetricFamily(
            "ablage_straight_through_ratio",
            "Share of documents processed in the last 7 days that were approved without a person",
            value=(totals["auto"] / totals["all"]) if totals["all"] else 0,
        )

        since = timezone.now() - HISTOGRAM_WINDOW
        stages: dict[str, list[float]] = {}
        backends: dict[str, list[float]] = {}
        for backend, timings in ProcessingJob.objects.filter(
            status=ProcessingJob.Status.COMPLETED, finished_at__gte=since
        ).values_list("backend", "timings_ms"):
            for stage, milliseconds in (timings or {}).items():
                if isinstance(milliseconds, int | float):
                    stages.setdefault(stage, []).append(milliseconds / 1000)
            ocr = (timings or {}).get("ocr")
            if backend and isinstance(ocr, int | float):
                backends.setdefault(backend, []).append(ocr / 1000)
        yield _histogram(
            "ablage_stage_duration_seconds",
            "Pipeline stage durations of jobs finished in the last 24 hours",
            "stage",
            stages,
            DURATION_BUCKETS,
        )
        yield _histogram(
            "ablage_ocr_backend_duration_seconds",
            "OCR stage duration per backend, jobs finished in the last 24 hours",
            "backend",
            backends,
            DURATION_BUCKETS,
        )
        confidences: dict[str, list[float]] = {}
        for backend, confidence in DocumentPage.objects.filter(
            created_at__gte=since, ocr_confidence__isnull=False
        ).values_list("ocr_backend", "ocr_confidence"):
            confidences.setdefault(backend or "unknown", []).append(confidence)
        yield _histogram(
            "ablage_ocr_page_confidence",
            "Mean word confidence per page and backend, pages of the last 24 hours",
            "backend",
            confidences,
            CONFIDENCE_BUCKETS,
        )

        depth = GaugeMetricFamily("ablage_queue_depth", "Messages waiting per Celery queue", labels=["queue"])
        for queue, count in queue_depths().items():
            if count is not None:
                depth.add_metric([queue], count)
        yield depth

        yield from _delivery_metrics()
        yield from _model_metrics(since)


def _delivery_metrics():
    from notifications.models import EmailQueue, WebhookDelivery

    mails = CounterMetricFamily("ablage_email_deliveries", "E-mails by delivery outcome", labels=["status"])
    for row in EmailQueue.objects.values("status").annotate(n=Count("id")):
        mails.add_metric([row["status"]], row["n"])
    yield mails
    hooks = CounterMetricFamily("ablage_webhook_deliveries", "Webhook deliveries by outcome", labels=["status"])
    for row in WebhookDelivery.objects.values("status").annotate(n=Count("id")):
        hooks.add_metric([row["status"]], row["n"])
    yield hooks


def _model_metrics(since):
    """Model-assisted extraction (extraction.llm): runs by outcome, tokens, and call latency."""
    from django.db.models import Sum

    from extraction.models import ModelRun

    runs = CounterMetricFamily("ablage_model_runs", "Model requests by outcome", labels=["status", "trigger"])
    for row in ModelRun.objects.values("status", "trigger").annotate(n=Count("id")):
        runs.add_metric([row["status"], row["trigger"]], row["n"])
    yield runs
    totals = ModelRun.objects.aggregate(prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens"))
    tokens = CounterMetricFamily("ablage_model_tokens", "Tokens sent to and received from the model", labels=["kind"])
    tokens.add_metric(["prompt"], totals["prompt"] or 0)
    tokens.add_metric(["completion"], totals["completion"] or 0)
    yield tokens
    latencies: dict[str, list[float]] = {}
    for model, milliseconds in ModelRun.objects.filter(created_at__gte=since, latency_ms__isnull=False).values_list(
        "model_name", "latency_ms"
    ):
        latencies.setdefault(model or "unknown", []).append(milliseconds / 1000)
    yield _histogram(
        "ablage_model_latency_seconds",
        "Duration of model requests (retries included) in the last 24 hours",
        "model",
        latencies,
        DURATION_BUCKETS,
    )


def metrics_text() -> bytes:
    registry = CollectorRegistry()
    registry.register(PipelineCollector())
    return generate_latest(registry) + generate_latest(http_registry)


class RequestMetricsMiddleware:
    """Counts requests and their duration by view name (not path: ids would explode labels)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match is not None and match.view_name else "unmatched"
        HTTP_REQUESTS.labels(request.method, view, str(response.status_code)).inc()
        HTTP_DURATION.labels(request.method, view).observe(time.perf_counter() - started)
        return response
