"""Operational records: the audit log (and, as they arrive, metrics, errors, health checks)."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ablage.models import BaseModel


class AuditLog(BaseModel):
    """Append-only, tamper-evident record of who did what to which object.

    Each entry carries ``sequence`` (1, 2, 3 … without gaps) and ``entry_hash`` = SHA-256 over
    its own content and ``previous_hash`` (the hash of entry ``sequence - 1``), so changing,
    removing or inserting an entry breaks the chain (``monitoring.audit.audit_chain_verify``,
    ``manage.py audit_verify`` and a daily check). On PostgreSQL a trigger refuses UPDATE
    and DELETE for every role but a superuser (migration 0005). Never updated or deleted.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_entries"
    )
    action = models.CharField(_("Aktion"), max_length=100, db_index=True)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64, db_index=True)
    changes = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    sequence = models.BigIntegerField(_("Laufende Nummer"), unique=True, null=True, editable=False)
    previous_hash = models.CharField(max_length=64, blank=True, editable=False)
    entry_hash = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        verbose_name = _("Audit-Eintrag")
        verbose_name_plural = _("Audit-Protokoll")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["object_type", "object_id", "created_at"], name="audit_object_idx")]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.object_type}:{self.object_id}"


class SystemMetric(BaseModel):
    """One measured value of a named metric in a time bucket (minute, hour or day).

    Rows are append-only: a coarser bucket is written as a new row by aggregation, never by
    changing the finer rows. ``labels`` carries dimensions (host, backend, queue).
    Used from the metrics collection issue; until then maintained in admin.
    """

    class MetricType(models.TextChoices):
        COUNTER = "counter", _("Zähler")
        GAUGE = "gauge", _("Messwert")
        HISTOGRAM = "histogram", _("Verteilung")

    class Bucket(models.TextChoices):
        MINUTE = "minute", _("Minute")
        HOUR = "hour", _("Stunde")
        DAY = "day", _("Tag")

    name = models.CharField(_("Metrik"), max_length=100)
    metric_type = models.CharField(_("Art"), max_length=10, choices=MetricType.choices)
    bucket = models.CharField(_("Zeitraster"), max_length=10, choices=Bucket.choices, default=Bucket.MINUTE)
    timestamp = models.DateTimeField(_("Zeitpunkt"), default=timezone.now)
    value = models.FloatField(_("Wert"))
    count = models.PositiveIntegerField(_("Anzahl"), default=1)
    min_value = models.FloatField(_("Minimum"), null=True, blank=True)
    max_value = models.FloatField(_("Maximum"), null=True, blank=True)
    avg_value = models.FloatField(_("Mittelwert"), null=True, blank=True)
    labels = models.JSONField(_("Labels"), default=dict, blank=True)

    class Meta:
        verbose_name = _("Systemmetrik")
        verbose_name_plural = _("Systemmetriken")
        ordering = ["-timestamp"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_value__isnull=True) | Q(max_value__isnull=True) | Q(min_value__lte=F("max_value")),
                name="metric_min_not_above_max",
            ),
            models.CheckConstraint(condition=~Q(name=""), name="metric_name_not_empty"),
        ]
        indexes = [
            # Charts: "values of one metric over a time range".
            models.Index(fields=["name", "timestamp"], name="metric_name_time_idx"),
            # Aggregation: "all rows of one metric in one bucket size".
            models.Index(fields=["name", "bucket"], name="metric_name_bucket_idx"),
        ]

    def __str__(self):
        return f"{self.name}={self.value} @ {self.timestamp:%Y-%m-%d %H:%M}"


class BackendMetric(BaseModel):
    """Daily (``hour_of_day`` empty) or hourly performance of one OCR backend.

    One row per backend and period, rewritten by the aggregation job while the period is open.
    No state transitions.
    Used from the metrics collection issue; until then maintained in admin.
    """

    backend = models.CharField(_("Backend"), max_length=50)
    backend_version = models.CharField(_("Version"), max_length=50, blank=True)
    metric_date = models.DateField(_("Datum"))
    hour_of_day = models.PositiveSmallIntegerField(_("Stunde"), null=True, blank=True)
    total_requests = models.PositiveIntegerField(_("Aufträge"), default=0)
    successful_requests = models.PositiveIntegerField(_("erfolgreich"), default=0)
    failed_requests = models.PositiveIntegerField(_("fehlgeschlagen"), default=0)
    avg_processing_ms = models.PositiveIntegerField(_("Ø Dauer (ms)"), null=True, blank=True)
    min_processing_ms = models.PositiveIntegerField(_("min. Dauer (ms)"), null=True, blank=True)
    max_processing_ms = models.PositiveIntegerField(_("max. Dauer (ms)"), null=True, blank=True)
    p50_processing_ms = models.PositiveIntegerField(_("p50 (ms)"), null=True, blank=True)
    p95_processing_ms = models.PositiveIntegerField(_("p95 (ms)"), null=True, blank=True)
    p99_processing_ms = models.PositiveIntegerField(_("p99 (ms)"), null=True, blank=True)
    avg_confidence = models.FloatField(_("Ø Konfidenz"), null=True, blank=True)
    avg_ram_mb = models.PositiveIntegerField(_("Ø RAM (MB)"), null=True, blank=True)
    max_ram_mb = models.PositiveIntegerField(_("max. RAM (MB)"), null=True, blank=True)
    avg_cpu_percent = models.FloatField(_("Ø CPU (%)"), null=True, blank=True)
    pages_processed = models.PositiveIntegerField(_("Seiten"), default=0)
    characters_extracted = models.PositiveBigIntegerField(_("Zeichen"), default=0)

    class Meta:
        verbose_name = _("Backend-Metrik")
        verbose_name_plural = _("Backend-Metriken")
        ordering = ["-metric_date", "backend", "hour_of_day"]
        constraints = [
            models.CheckConstraint(
                condition=Q(hour_of_day__isnull=True) | Q(hour_of_day__lte=23), name="backend_metric_hour_range"
            ),
            models.CheckConstraint(
                condition=Q(total_requests__gte=F("successful_requests") + F("failed_requests")),
                name="backend_metric_requests_add_up",
            ),
            models.CheckConstraint(
                condition=Q(p50_processing_ms__isnull=True)
                | Q(p95_processing_ms__isnull=True)
                | Q(p50_processing_ms__lte=F("p95_processing_ms")),
                name="backend_metric_p50_not_above_p95",
            ),
            models.CheckConstraint(
                condition=Q(p95_processing_ms__isnull=True)
                | Q(p99_processing_ms__isnull=True)
                | Q(p95_processing_ms__lte=F("p99_processing_ms")),
                name="backend_metric_p95_not_above_p99",
            ),
            models.CheckConstraint(
                condition=Q(avg_confidence__isnull=True) | Q(avg_confidence__gte=0, avg_confidence__lte=1),
                name="backend_metric_confidence_range",
            ),
            # NULL hours are distinct in a plain unique constraint, so the daily row needs its own.
            models.UniqueConstraint(
                fields=["backend", "metric_date", "hour_of_day"], name="backend_metric_unique_hour"
            ),
            models.UniqueConstraint(
                fields=["backend", "metric_date"],
                condition=Q(hour_of_day__isnull=True),
                name="backend_metric_unique_day",
            ),
        ]

    def __str__(self):
        period = f"{self.metric_date}" if self.hour_of_day is None else f"{self.metric_date} {self.hour_of_day:02d}h"
        return f"{self.backend} {period}"

    @property
    def success_rate(self) -> float | None:
        if not self.total_requests:
            return None
        return self.successful_requests / self.total_requests


class ErrorLog(BaseModel):
    """An error seen in the application, deduplicated by ``fingerprint`` while unresolved.

    States: open (``resolved_at`` empty; a repeat bumps ``occurrence_count`` and
    ``last_seen_at``) -> resolved (``resolved_at``/``resolved_by`` set by an admin). The
    same error after resolution opens a new row: the unique fingerprint covers open rows only.
    Used from the error capture issue; until then maintained in admin.
    """

    class Severity(models.TextChoices):
        DEBUG = "debug", _("Debug")
        INFO = "info", _("Info")
        WARNING = "warning", _("Warnung")
        ERROR = "error", _("Fehler")
        CRITICAL = "critical", _("Kritisch")

    severity = models.CharField(_("Schweregrad"), max_length=10, choices=Severity.choices, default=Severity.ERROR)
    error_type = models.CharField(_("Fehlertyp"), max_length=255)
    message = models.TextField(_("Meldung"))
    stack_trace = models.TextField(_("Stacktrace"), blank=True)
    fingerprint = models.CharField(_("Fingerabdruck"), max_length=64)
    context = models.JSONField(_("Kontext"), default=dict, blank=True)
    request_path = models.CharField(_("Pfad"), max_length=500, blank=True)
    request_method = models.CharField(_("Methode"), max_length=10, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("Benutzer"),
    )
    ip_address = models.GenericIPAddressField(_("IP-Adresse"), null=True, blank=True)
    document = models.ForeignKey(
        "documents.Document",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("Dokument"),
    )
    job = models.ForeignKey(
        "documents.ProcessingJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("Auftrag"),
    )
    occurrence_count = models.PositiveIntegerField(_("Vorkommen"), default=1)
    first_seen_at = models.DateTimeField(_("zuerst gesehen"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("zuletzt gesehen"), default=timezone.now)
    resolved_at = models.DateTimeField(_("erledigt am"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("erledigt von"),
    )
    resolution_notes = models.TextField(_("Notiz zur Erledigung"), blank=True)

    class Meta:
        verbose_name = _("Fehlerprotokoll")
        verbose_name_plural = _("Fehlerprotokolle")
        ordering = ["-last_seen_at"]
        constraints = [
            # Dedup: "record this error" finds the open row by fingerprint and counts up.
            models.UniqueConstraint(
                fields=["fingerprint"], condition=Q(resolved_at__isnull=True), name="errorlog_open_fingerprint_unique"
            ),
            models.CheckConstraint(condition=Q(occurrence_count__gte=1), name="errorlog_occurrence_positive"),
            models.CheckConstraint(
                condition=Q(last_seen_at__gte=F("first_seen_at")), name="errorlog_last_seen_after_first"
            ),
            models.CheckConstraint(
                condition=Q(resolved_by__isnull=True) | Q(resolved_at__isnull=False),
                name="errorlog_resolver_needs_resolved_at",
            ),
        ]
        indexes = [
            # Error list: "open errors by severity, most recent first".
            models.Index(
                fields=["severity", "-last_seen_at"], name="errorlog_open_idx", condition=Q(resolved_at__isnull=True)
            ),
        ]

    def __str__(self):
        return f"[{self.severity}] {self.error_type}: {self.message[:80]}"

    @property
    def is_resolved(self) -> bool:
        return self.resolved_at is not None


class HealthCheck(BaseModel):
    """The result of one probe of one component (database, redis, storage, tesseract, worker).

    Append-only: each probe writes a row; the latest row per component is its current state.
    Status values: healthy | degraded | down (down always carries an error message).
    Used from the health endpoint issue; until then maintained in admin.
    """

    class Status(models.TextChoices):
        HEALTHY = "healthy", _("In Ordnung")
        DEGRADED = "degraded", _("Eingeschränkt")
        DOWN = "down", _("Ausgefallen")

    component = models.CharField(_("Komponente"), max_length=100)
    status = models.CharField(_("Status"), max_length=10, choices=Status.choices)
    response_time_ms = models.PositiveIntegerField(_("Antwortzeit (ms)"), null=True, blank=True)
    details = models.JSONField(_("Details"), default=dict, blank=True)
    error_message = models.TextField(_("Fehlermeldung"), blank=True)

    class Meta:
        verbose_name = _("Statusprüfung")
        verbose_name_plural = _("Statusprüfungen")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="down") | ~Q(error_message=""), name="healthcheck_down_has_error"
            ),
        ]
        indexes = [
            # Status page: "latest result per component".
            models.Index(fields=["component", "-created_at"], name="healthcheck_component_idx"),
        ]

    def __str__(self):
        return f"{self.component}: {self.get_status_display()}"


class WorkerHeartbeat(BaseModel):
    """A Celery worker's last sign of life and the queues it consumes (``monitoring.heartbeat``).

    Refreshed every 30 s by the worker itself; ``stopping`` is set when it begins a warm
    shutdown. Readiness counts workers seen in the last two minutes that are not stopping.
    No other state transitions.
    """

    hostname = models.CharField(_("Worker"), max_length=255, unique=True)
    queues = models.JSONField(_("Warteschlangen"), default=list)
    pid = models.PositiveIntegerField(_("Prozess"), null=True, blank=True)
    last_seen_at = models.DateTimeField(_("zuletzt gesehen"), default=timezone.now)
    stopping = models.BooleanField(_("fährt herunter"), default=False)

    class Meta:
        verbose_name = _("Worker")
        verbose_name_plural = _("Worker")
        ordering = ["hostname"]

    def __str__(self):
        return self.hostname
