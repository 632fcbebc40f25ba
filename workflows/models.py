"""Workflow definitions (trigger, conditions, ordered steps) and the record of every run."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ablage.models import BaseModel, SoftDeleteModel


def _jsonlogic_errors(value) -> list[str]:
    """A JSONLogic rule is an object with exactly one operator key, or empty (= always true).

    Only the shape is checked here; whether the operators exist is the engine's business.
    """
    if value is None or value == {}:
        return []
    if not isinstance(value, dict) or len(value) != 1:
        return [
            gettext('Erwartet wird eine JSONLogic-Regel: ein Objekt mit genau einem Operator, z. B. {"==": [...]}.')
        ]
    return []


class Workflow(SoftDeleteModel):
    """An automation: when ``trigger_type`` fires and ``conditions`` (JSONLogic over the
    event context) hold, run the steps in ``step_order``.

    ``trigger_config`` narrows the trigger (``{"document_types": ["invoice"]}``,
    ``{"threshold": 0.8}``, ``{"cron": "0 9 * * *"}``).
    States: active <-> inactive (``is_active``); alive -> soft-deleted (``deleted_at``; its
    executions stay for the record). ``is_system`` workflows ship with Ablage and cannot be
    deleted in admin, only deactivated.

    ``schedule`` workflows own a django-celery-beat ``PeriodicTask`` (kept in step by
    ``workflows.services.workflow_schedule_sync``); ``webhook`` workflows are started by
    ``POST /api/v1/workflows/<id>/hook/`` with the token whose SHA-256 is ``webhook_token_hash``.
    """

    class Trigger(models.TextChoices):
        MANUAL = "manual", _("Manuell")
        DOCUMENT_UPLOADED = "document_uploaded", _("Dokument hochgeladen")
        DOCUMENT_PROCESSED = "document_processed", _("Dokument verarbeitet")
        CONFIDENCE_BELOW_THRESHOLD = "confidence_below_threshold", _("Konfidenz unter Schwelle")
        SUPPLIER_DETECTED = "supplier_detected", _("Lieferant erkannt")
        DOCUMENT_APPROVED = "document_approved", _("Dokument freigegeben")
        DOCUMENT_REJECTED = "document_rejected", _("Dokument abgelehnt")
        SCHEDULE = "schedule", _("Zeitplan")
        WEBHOOK = "webhook", _("Webhook")

    name = models.CharField(_("Name"), max_length=255)
    description = models.TextField(_("Beschreibung"), blank=True)
    trigger_type = models.CharField(_("Auslöser"), max_length=40, choices=Trigger.choices)
    trigger_config = models.JSONField(_("Auslöser-Konfiguration"), default=dict, blank=True)
    conditions = models.JSONField(_("Bedingungen (JSONLogic)"), null=True, blank=True)
    is_active = models.BooleanField(_("aktiv"), default=True)
    is_system = models.BooleanField(_("Systemworkflow"), default=False)
    total_executions = models.IntegerField(_("Ausführungen"), default=0)
    successful_executions = models.IntegerField(_("erfolgreich"), default=0)
    failed_executions = models.IntegerField(_("fehlgeschlagen"), default=0)
    last_executed_at = models.DateTimeField(_("Zuletzt ausgeführt"), null=True, blank=True)
    webhook_token_hash = models.CharField(max_length=64, blank=True, editable=False)
    schedule_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("Angelegt von"),
    )

    class Meta:
        verbose_name = _("Workflow")
        verbose_name_plural = _("Workflows")
        ordering = ["name"]
        constraints = [
            # Deleted workflows free their name for a new one.
            models.UniqueConstraint(
                fields=["name"], condition=Q(deleted_at__isnull=True), name="workflow_name_unique_alive"
            ),
            models.CheckConstraint(
                condition=Q(total_executions__gte=0, successful_executions__gte=0, failed_executions__gte=0),
                name="workflow_execution_counts_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(total_executions__gte=F("successful_executions") + F("failed_executions")),
                name="workflow_execution_counts_consistent",
            ),
        ]
        indexes = [
            # The dispatcher's lookup on every event: "active workflows for this trigger".
            models.Index(
                fields=["trigger_type"],
                condition=Q(is_active=True, deleted_at__isnull=True),
                name="workflow_active_trigger_idx",
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        if not isinstance(self.trigger_config, dict):
            errors["trigger_config"] = [gettext("Erwartet wird ein JSON-Objekt.")]
        if condition_errors := _jsonlogic_errors(self.conditions):
            errors["conditions"] = condition_errors
        if errors:
            raise ValidationError(errors)


class WorkflowStep(BaseModel):
    """One action of a workflow, run in ``step_order`` (1, 2, 3 ...; unique per workflow).

    ``step_config`` depends on ``step_type`` (``{"fields": [...]}`` for extract_data,
    ``{"condition": {...}, "true_step": 5, "false_step": 6}`` for conditional,
    ``{"duration_seconds": 300}`` for wait, ...). ``conditions`` (JSONLogic) skip the step
    when false. ``on_error``: fail stops the run, continue goes on, retry repeats up to
    ``max_retries`` times ``retry_delay_seconds`` apart.
    No state of its own (a definition); runs are ``WorkflowStepExecution`` rows.

    The meaning of ``step_config`` per type is defined and validated in ``workflows.steps``.
    """

    class StepType(models.TextChoices):
        CLASSIFY_DOCUMENT = "classify_document", _("Dokument klassifizieren")
        EXTRACT_DATA = "extract_data", _("Daten extrahieren")
        VALIDATE_DATA = "validate_data", _("Daten prüfen")
        SEND_NOTIFICATION = "send_notification", _("Benachrichtigung senden")
        SEND_EMAIL = "send_email", _("E-Mail senden")
        CALL_WEBHOOK = "call_webhook", _("Webhook aufrufen")
        UPDATE_FIELD = "update_field", _("Feld setzen")
        ASSIGN_USER = "assign_user", _("Benutzer zuweisen")
        CREATE_RELATION = "create_relation", _("Beziehung anlegen")
        EXPORT_DOCUMENT = "export_document", _("Dokument exportieren")
        CONDITIONAL = "conditional", _("Verzweigung")
        WAIT = "wait", _("Warten")

    class OnError(models.TextChoices):
        FAIL = "fail", _("Abbrechen")
        CONTINUE = "continue", _("Fortfahren")
        RETRY = "retry", _("Wiederholen")

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="steps", verbose_name=_("Workflow"))
    name = models.CharField(_("Name"), max_length=255)
    step_type = models.CharField(_("Schritttyp"), max_length=40, choices=StepType.choices)
    step_config = models.JSONField(_("Konfiguration"), default=dict, blank=True)
    step_order = models.IntegerField(_("Reihenfolge"))
    conditions = models.JSONField(_("Bedingungen (JSONLogic)"), null=True, blank=True)
    on_error = models.CharField(_("Bei Fehler"), max_length=20, choices=OnError.choices, default=OnError.FAIL)
    max_retries = models.IntegerField(_("Max. Wiederholungen"), default=0)
    retry_delay_seconds = models.IntegerField(_("Wartezeit vor Wiederholung (s)"), default=60)
    timeout_seconds = models.IntegerField(_("Zeitlimit (s)"), default=300)

    class Meta:
        verbose_name = _("Workflow-Schritt")
        verbose_name_plural = _("Workflow-Schritte")
        ordering = ["workflow", "step_order"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "step_order"], name="workflow_step_order_unique_per_workflow"),
            models.CheckConstraint(condition=Q(step_order__gte=1), name="workflow_step_order_positive"),
            models.CheckConstraint(
                condition=Q(on_error__in=["fail", "continue", "retry"]), name="workflow_step_on_error_valid"
            ),
            models.CheckConstraint(condition=Q(max_retries__gte=0), name="workflow_step_max_retries_non_negative"),
            # "retry" without a retry budget would silently behave like "fail".
            models.CheckConstraint(
                condition=~Q(on_error="retry") | Q(max_retries__gte=1), name="workflow_step_retry_has_budget"
            ),
            models.CheckConstraint(
                condition=Q(retry_delay_seconds__gte=0), name="workflow_step_retry_delay_non_negative"
            ),
            models.CheckConstraint(condition=Q(timeout_seconds__gte=1), name="workflow_step_timeout_positive"),
        ]

    def __str__(self):
        return f"{self.step_order}. {self.name}"

    def clean(self):
        errors = {}
        if not isinstance(self.step_config, dict):
            errors["step_config"] = [gettext("Erwartet wird ein JSON-Objekt.")]
        if condition_errors := _jsonlogic_errors(self.conditions):
            errors["conditions"] = condition_errors
        if errors:
            raise ValidationError(errors)


class WorkflowExecution(BaseModel):
    """One run of a workflow, usually for one document.

    Status transitions (guarded updates in the engine):
        pending -> running            a worker claims the run (``lease_until`` set)
        pending -> skipped            the workflow's conditions did not hold
        running -> waiting            a wait step or a retry delay: ``resume_at`` says when
        waiting -> running            the resume sweep or the scheduled message picks it up
        running -> running            a worker died: another takes over once ``lease_until`` passed
        pending | waiting | running -> cancelled
        running -> completed          every step completed or was skipped
        running -> failed             a step failed with on_error=fail (``error_message`` kept)
    Terminal: completed, failed, skipped, cancelled. (The seed's separate ``success`` flag is
    the status itself here.) ``next_step_order`` is where a run resumes; ``depth`` counts
    workflows started by workflow actions (the loop guard); ``dedup_key`` makes a redelivered
    trigger start a run only once.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Wartend")
        WAITING = "waiting", _("Pausiert")
        RUNNING = "running", _("Läuft")
        COMPLETED = "completed", _("Abgeschlossen")
        FAILED = "failed", _("Fehlgeschlagen")
        SKIPPED = "skipped", _("Übersprungen")
        CANCELLED = "cancelled", _("Abgebrochen")

    TERMINAL_STATUSES = (Status.COMPLETED, Status.FAILED, Status.SKIPPED, Status.CANCELLED)

    workflow = models.ForeignKey(
        Workflow, on_delete=models.CASCADE, related_name="executions", verbose_name=_("Workflow")
    )
    document = models.ForeignKey(
        "documents.Document",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="workflow_executions",
        verbose_name=_("Dokument"),
    )
    trigger_event = models.CharField(_("Auslöser"), max_length=40, choices=Workflow.Trigger.choices)
    trigger_data = models.JSONField(_("Auslöser-Daten"), default=dict, blank=True)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("Ausgelöst von"),
    )
    status = models.CharField(_("Status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    started_at = models.DateTimeField(_("Gestartet"), null=True, blank=True)
    completed_at = models.DateTimeField(_("Beendet"), null=True, blank=True)
    duration_ms = models.IntegerField(_("Dauer (ms)"), null=True, blank=True)
    error_message = models.TextField(_("Fehlermeldung"), blank=True)
    execution_log = models.JSONField(_("Protokoll"), default=list, blank=True)
    next_step_order = models.IntegerField(_("Nächster Schritt"), null=True, blank=True)
    resume_at = models.DateTimeField(_("Fortsetzen ab"), null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    depth = models.PositiveSmallIntegerField(_("Verschachtelung"), default=0)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        verbose_name=_("Ausgelöst durch"),
    )
    dedup_key = models.CharField(max_length=200, null=True, blank=True, unique=True, editable=False)

    class Meta:
        verbose_name = _("Workflow-Ausführung")
        verbose_name_plural = _("Workflow-Ausführungen")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(error_message=""), name="workflow_execution_failure_has_message"
            ),
            models.CheckConstraint(
                condition=Q(duration_ms__isnull=True) | Q(duration_ms__gte=0),
                name="workflow_execution_duration_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(started_at__isnull=True)
                | Q(completed_at__isnull=True)
                | Q(completed_at__gte=F("started_at")),
                name="workflow_execution_completed_after_start",
            ),
        ]
        indexes = [
            # Worker polling and the recovery sweep: "runs not finished, oldest first".
            models.Index(
                fields=["created_at"],
                condition=Q(status__in=["pending", "waiting", "running"]),
                name="workflow_execution_open_idx",
            ),
            # A workflow's history page: "its runs, newest first".
            models.Index(fields=["workflow", "-created_at"], name="workflow_execution_history_idx"),
        ]

    def __str__(self):
        return f"{self.workflow} – {self.get_status_display()}"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL_STATUSES


class WorkflowStepExecution(BaseModel):
    """One step's run inside a workflow execution: input, output, timing, error.

    Status transitions:
        pending -> running -> completed | failed
        running -> pending            retry after an error with on_error=retry (``retry_count`` + 1)
        pending -> skipped            the step's conditions did not hold
        pending | running -> cancelled
    ``step_name`` and ``step_type`` are copied from the step when the run starts, so the
    record still reads correctly after the workflow was edited or the step removed.

    ``(execution, step_order, visit)`` is unique: a redelivered run finds the row of the step
    it was in and reuses its id as the idempotency key of side effects (an e-mail is queued
    once per step execution); ``visit`` counts passes through the same step (a conditional
    that jumps back).
    """

    execution = models.ForeignKey(
        WorkflowExecution, on_delete=models.CASCADE, related_name="step_executions", verbose_name=_("Ausführung")
    )
    step = models.ForeignKey(
        WorkflowStep,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="step_executions",
        verbose_name=_("Schritt"),
    )
    step_name = models.CharField(_("Schrittname"), max_length=255)
    step_type = models.CharField(_("Schritttyp"), max_length=40, choices=WorkflowStep.StepType.choices)
    step_order = models.IntegerField(_("Reihenfolge"), default=1)
    visit = models.PositiveSmallIntegerField(_("Durchlauf"), default=1)
    status = models.CharField(
        _("Status"), max_length=20, choices=WorkflowExecution.Status.choices, default=WorkflowExecution.Status.PENDING
    )
    started_at = models.DateTimeField(_("Gestartet"), null=True, blank=True)
    completed_at = models.DateTimeField(_("Beendet"), null=True, blank=True)
    duration_ms = models.IntegerField(_("Dauer (ms)"), null=True, blank=True)
    retry_count = models.IntegerField(_("Wiederholungen"), default=0)
    error_message = models.TextField(_("Fehlermeldung"), blank=True)
    input_data = models.JSONField(_("Eingabe"), default=dict, blank=True)
    output_data = models.JSONField(_("Ausgabe"), default=dict, blank=True)

    class Meta:
        verbose_name = _("Schritt-Ausführung")
        verbose_name_plural = _("Schritt-Ausführungen")
        ordering = ["execution", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["execution", "step_order", "visit"], name="workflow_step_execution_unique_visit"
            ),
            models.CheckConstraint(
                condition=Q(retry_count__gte=0), name="workflow_step_execution_retry_count_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(duration_ms__isnull=True) | Q(duration_ms__gte=0),
                name="workflow_step_execution_duration_non_negative",
            ),
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(error_message=""),
                name="workflow_step_execution_failure_has_message",
            ),
            models.CheckConstraint(
                condition=Q(started_at__isnull=True)
                | Q(completed_at__isnull=True)
                | Q(completed_at__gte=F("started_at")),
                name="workflow_step_execution_completed_after_start",
            ),
        ]

    def __str__(self):
        return f"{self.step_name} – {self.get_status_display()}"
