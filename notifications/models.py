"""Notifications in the app, per-user delivery preferences, the e-mail queue and webhooks."""

import base64
import secrets

import jinja2
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from ablage.models import BaseModel
from system.crypto import EncryptedTextField


class Notification(BaseModel):
    """A message shown to one user in the app (the bell in the navigation).

    States: unread (``read_at`` empty) -> read (``read_at`` set, by the user; never back).
    A notification past ``expires_at`` is no longer shown and is purged by ``notifications_purge_expired``.
    Created by ``notifications.services`` (never by hand outside admin).
    """

    class Type(models.TextChoices):
        DOCUMENT_PROCESSED = "document_processed", _("Dokument verarbeitet")
        REVIEW_REQUIRED = "review_required", _("Prüfung erforderlich")
        REVIEW_COMPLETED = "review_completed", _("Prüfung abgeschlossen")
        PROCESSING_FAILED = "processing_failed", _("Verarbeitung fehlgeschlagen")
        DOCUMENT_REJECTED = "document_rejected", _("Dokument abgewiesen")
        WORKFLOW_FAILED = "workflow_failed", _("Workflow fehlgeschlagen")
        SYSTEM_ALERT = "system_alert", _("Systemmeldung")
        INFO = "info", _("Information")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("Benutzer")
    )
    type = models.CharField(_("Art"), max_length=30, choices=Type.choices)
    title = models.CharField(_("Titel"), max_length=255)
    message = models.TextField(_("Nachricht"))
    document = models.ForeignKey(
        "documents.Document",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("Dokument"),
    )
    link_url = models.CharField(_("Link"), max_length=500, blank=True)
    read_at = models.DateTimeField(_("gelesen am"), null=True, blank=True)
    expires_at = models.DateTimeField(_("läuft ab am"), null=True, blank=True)
    data = models.JSONField(_("Daten"), default=dict, blank=True)

    class Meta:
        verbose_name = _("Benachrichtigung")
        verbose_name_plural = _("Benachrichtigungen")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="notification_title_not_empty"),
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(expires_at__gt=F("created_at")),
                name="notification_expires_after_creation",
            ),
        ]
        indexes = [
            # The unread badge and list: "unread notifications of this user, newest first".
            models.Index(
                fields=["user", "-created_at"], name="notification_unread_idx", condition=Q(read_at__isnull=True)
            ),
        ]

    def __str__(self):
        return f"{self.title} → {self.user}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


class NotificationPreference(BaseModel):
    """Whether (and how) one user wants one kind of notification on one channel.

    No row means the defaults of ``notifications.preferences.DEFAULTS`` apply.
    Digest: none (each event at once) | hourly | daily; only e-mail can be bundled.
    Quiet hours (local time of the user, may span midnight) hold back e-mail until they end.
    ``confidence_below``: only documents whose overall confidence is below this value.
    ``only_failures``: only notifications that report a failure (a rejection, a dead job).
    No state transitions; rows are edited by the user on the settings page.
    """

    class Channel(models.TextChoices):
        IN_APP = "in_app", _("In der Anwendung")
        EMAIL = "email", _("E-Mail")
        WEBHOOK = "webhook", _("Webhook")

    class Digest(models.TextChoices):
        NONE = "none", _("Sofort einzeln")
        HOURLY = "hourly", _("Stündliche Zusammenfassung")
        DAILY = "daily", _("Tägliche Zusammenfassung")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_preferences",
        verbose_name=_("Benutzer"),
    )
    notification_type = models.CharField(_("Art"), max_length=30, choices=Notification.Type.choices)
    channel = models.CharField(_("Kanal"), max_length=20, choices=Channel.choices)
    enabled = models.BooleanField(_("aktiv"), default=True)
    digest = models.CharField(_("Zusammenfassung"), max_length=10, choices=Digest.choices, default=Digest.NONE)
    quiet_hours_start = models.TimeField(_("Ruhezeit von"), null=True, blank=True)
    quiet_hours_end = models.TimeField(_("Ruhezeit bis"), null=True, blank=True)
    confidence_below = models.FloatField(_("nur bei Konfidenz unter"), null=True, blank=True)
    only_failures = models.BooleanField(_("nur Fehlschläge"), default=False)

    class Meta:
        verbose_name = _("Benachrichtigungseinstellung")
        verbose_name_plural = _("Benachrichtigungseinstellungen")
        ordering = ["user", "notification_type", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "notification_type", "channel"], name="notification_preference_unique"
            ),
            models.CheckConstraint(
                condition=Q(digest="none") | Q(channel="email"), name="notification_preference_digest_email_only"
            ),
            models.CheckConstraint(
                condition=Q(quiet_hours_start__isnull=True, quiet_hours_end__isnull=True)
                | (
                    Q(quiet_hours_start__isnull=False, quiet_hours_end__isnull=False)
                    & ~Q(quiet_hours_start=F("quiet_hours_end"))
                ),
                name="notification_preference_quiet_hours_pair",
            ),
            models.CheckConstraint(
                condition=Q(confidence_below__isnull=True) | Q(confidence_below__gt=0, confidence_below__lte=1),
                name="notification_preference_confidence_range",
            ),
        ]

    def __str__(self):
        return f"{self.user}: {self.get_notification_type_display()} / {self.get_channel_display()}"

    def is_quiet_at(self, local_time) -> bool:
        """Whether ``local_time`` (a ``datetime.time`` in the user's zone) falls into the quiet hours."""
        start, end = self.quiet_hours_start, self.quiet_hours_end
        if start is None or end is None:
            return False
        if start < end:
            return start <= local_time < end
        # Spans midnight, e.g. 22:00-07:00.
        return local_time >= start or local_time < end


_template_environment = SandboxedEnvironment(autoescape=True)


def email_template_problems(*, sources: dict[str, str], variables: list[str]) -> dict[str, str]:
    """Per template part, what is wrong with it: Jinja2 syntax errors and undeclared variables."""
    problems = {}
    declared = set(variables)
    for part, source in sources.items():
        try:
            parsed = _template_environment.parse(source)
        except jinja2.TemplateSyntaxError as exc:
            problems[part] = _("Jinja2-Syntaxfehler in Zeile %(line)s: %(error)s") % {
                "line": exc.lineno,
                "error": exc.message,
            }
            continue
        undeclared = sorted(meta.find_undeclared_variables(parsed) - declared)
        if undeclared:
            problems[part] = _("Nicht deklarierte Variablen: %(names)s") % {"names": ", ".join(undeclared)}
    return problems


class EmailTemplate(BaseModel):
    """A German (or English) e-mail text with Jinja2 placeholders such as ``{{ document.title }}``.

    ``variables`` declares the top-level names a template may use; ``clean()`` rejects
    templates that do not parse or use undeclared names, so that sending never fails on a typo.
    States: active <-> inactive (``is_active``; inactive templates are not used for sending).
    Default templates are seeded by ``system`` migration 0002.
    Used from the e-mail delivery issue; until then maintained in admin.
    """

    class Language(models.TextChoices):
        GERMAN = "de", _("Deutsch")
        ENGLISH = "en", _("English")

    key = models.SlugField(_("Schlüssel"), max_length=100, unique=True)
    name = models.CharField(_("Bezeichnung"), max_length=200)
    language = models.CharField(_("Sprache"), max_length=5, choices=Language.choices, default=Language.GERMAN)
    subject_template = models.CharField(_("Betreff-Vorlage"), max_length=500)
    html_template = models.TextField(_("HTML-Vorlage"))
    text_template = models.TextField(_("Text-Vorlage"))
    variables = models.JSONField(_("Variablen"), default=list, blank=True)
    is_active = models.BooleanField(_("aktiv"), default=True)

    class Meta:
        verbose_name = _("E-Mail-Vorlage")
        verbose_name_plural = _("E-Mail-Vorlagen")
        ordering = ["key"]
        constraints = [
            models.CheckConstraint(condition=~Q(subject_template=""), name="email_template_subject_not_empty"),
        ]

    def __str__(self):
        return f"{self.name} ({self.key})"

    def clean(self):
        super().clean()
        if not isinstance(self.variables, list) or not all(isinstance(v, str) for v in self.variables):
            raise ValidationError({"variables": _("Variablen müssen eine Liste von Namen sein.")})
        problems = email_template_problems(
            sources={
                "subject_template": self.subject_template,
                "html_template": self.html_template,
                "text_template": self.text_template,
            },
            variables=self.variables,
        )
        if problems:
            raise ValidationError(problems)


class EmailQueue(BaseModel):
    """One outgoing e-mail, rendered when queued, sent by a worker with retries.

    Status transitions:
        queued -> sending         worker claims it (guarded update, ``attempts`` + 1)
        sending -> sent           SMTP accepted it (``sent_at`` set)
        sending -> queued         transient error; ``next_attempt_at`` moves out (backoff)
        sending -> failed         permanent error or ``max_attempts`` reached
        sent -> bounced           a bounce report arrived
        sending -> queued         the worker died mid-send (``email_recover_stuck``)
    ``dedup_key`` (when set) makes enqueueing the same mail twice a no-op. ``message_id`` is
    fixed at enqueue time, so a mail re-sent after a lost acknowledgement carries the same
    Message-ID and receiving servers and clients drop the copy.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Wartend")
        SENDING = "sending", _("Wird gesendet")
        SENT = "sent", _("Gesendet")
        FAILED = "failed", _("Fehlgeschlagen")
        BOUNCED = "bounced", _("Unzustellbar")

    to_address = models.EmailField(_("Empfänger"))
    to_name = models.CharField(_("Empfängername"), max_length=255, blank=True)
    subject = models.CharField(_("Betreff"), max_length=500)
    html_body = models.TextField(_("HTML-Text"), blank=True)
    text_body = models.TextField(_("Text"))
    template = models.ForeignKey(
        EmailTemplate,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="queued_emails",
        verbose_name=_("Vorlage"),
    )
    context = models.JSONField(_("Vorlagendaten"), default=dict, blank=True)
    # Files from the storage sent along: [{"key": ..., "name": ..., "mime_type": ...}].
    attachments = models.JSONField(_("Anhänge"), default=list, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="queued_emails",
        verbose_name=_("Benutzer"),
    )
    document = models.ForeignKey(
        "documents.Document",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="queued_emails",
        verbose_name=_("Dokument"),
    )
    status = models.CharField(_("Status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(_("Versuche"), default=0)
    max_attempts = models.PositiveIntegerField(_("max. Versuche"), default=5)
    next_attempt_at = models.DateTimeField(_("nächster Versuch"), default=timezone.now)
    last_error = models.TextField(_("letzter Fehler"), blank=True)
    sent_at = models.DateTimeField(_("gesendet am"), null=True, blank=True)
    dedup_key = models.CharField(_("Deduplizierungsschlüssel"), max_length=200, blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True)
    sending_started_at = models.DateTimeField(_("Sendebeginn"), null=True, blank=True)

    class Meta:
        verbose_name = _("E-Mail in Warteschlange")
        verbose_name_plural = _("E-Mail-Warteschlange")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(max_attempts__gte=1), name="email_max_attempts_positive"),
            models.CheckConstraint(condition=Q(attempts__lte=F("max_attempts")), name="email_attempts_bounded"),
            models.CheckConstraint(
                condition=~Q(status__in=["sent", "bounced"]) | Q(sent_at__isnull=False),
                name="email_sent_has_sent_at",
            ),
            models.CheckConstraint(condition=~Q(subject=""), name="email_subject_not_empty"),
            models.UniqueConstraint(fields=["dedup_key"], condition=~Q(dedup_key=""), name="email_dedup_key_unique"),
        ]
        indexes = [
            # The sender's poll: "queued mails whose next attempt is due, oldest first".
            models.Index(fields=["next_attempt_at"], name="email_due_idx", condition=Q(status="queued")),
        ]

    def __str__(self):
        return f"{self.subject} → {self.to_address} ({self.get_status_display()})"


def _new_webhook_secret() -> str:
    # The Standard Webhooks format: "whsec_" + base64 of the key, which its client libraries verify with.
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def validate_webhook_events(value):
    known = set(WebhookEndpoint.Event.values)
    if not isinstance(value, list) or not value:
        raise ValidationError(_("Bitte mindestens ein Ereignis als Liste angeben."))
    unknown = [event for event in value if event not in known]
    if unknown:
        raise ValidationError(
            _("Unbekannte Ereignisse: %(unknown)s. Erlaubt: %(known)s"),
            params={"unknown": ", ".join(map(str, unknown)), "known": ", ".join(sorted(known))},
        )


class WebhookEndpoint(BaseModel):
    """An HTTP endpoint that receives signed JSON events (Standard Webhooks, HMAC-SHA256 with ``secret``).

    Scope: ``own`` - events of the owner's documents; ``team`` - of documents owned by members
    of ``team`` (a user group); ``all`` - of every document. In every scope an event goes out
    only if the owner may see the document (``visible_documents``).
    States: active -> inactive (by its owner, or automatically after too many consecutive
    failures) ; inactive -> active (reactivated by its owner; ``failure_count`` back to 0).
    """

    class Event(models.TextChoices):
        DOCUMENT_CREATED = "document.created", _("Dokument angelegt")
        DOCUMENT_PROCESSED = "document.processed", _("Dokument verarbeitet")
        DOCUMENT_REVIEW_REQUIRED = "document.review_required", _("Prüfung erforderlich")
        DOCUMENT_APPROVED = "document.approved", _("Dokument freigegeben")
        DOCUMENT_REJECTED = "document.rejected", _("Dokument abgelehnt")
        DOCUMENT_FAILED = "document.failed", _("Verarbeitung fehlgeschlagen")
        DOCUMENT_UPDATED = "document.updated", _("Dokument geändert")
        DOCUMENT_DELETED = "document.deleted", _("Dokument gelöscht")
        WORKFLOW_COMPLETED = "workflow.completed", _("Workflow abgeschlossen")
        WORKFLOW_FAILED = "workflow.failed", _("Workflow fehlgeschlagen")
        WORKFLOW_STEP = "workflow.step", _("Workflow-Schritt (Webhook-Aufruf)")

    class Scope(models.TextChoices):
        OWN = "own", _("Eigene Dokumente")
        TEAM = "team", _("Dokumente des Teams")
        ALL = "all", _("Alle sichtbaren Dokumente")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints", verbose_name=_("Inhaber")
    )
    name = models.CharField(_("Name"), max_length=100)
    url = models.URLField(_("URL"), max_length=500)
    secret = EncryptedTextField(_("Signaturschlüssel"), default=_new_webhook_secret)
    events = models.JSONField(_("Ereignisse"), default=list, validators=[validate_webhook_events])
    scope = models.CharField(_("Umfang"), max_length=10, choices=Scope.choices, default=Scope.OWN)
    team = models.ForeignKey(
        "auth.Group",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        verbose_name=_("Team"),
    )
    is_active = models.BooleanField(_("aktiv"), default=True)
    failure_count = models.PositiveIntegerField(_("Fehlschläge in Folge"), default=0)
    last_success_at = models.DateTimeField(_("letzter Erfolg"), null=True, blank=True)
    last_failure_at = models.DateTimeField(_("letzter Fehlschlag"), null=True, blank=True)

    class Meta:
        verbose_name = _("Webhook-Endpunkt")
        verbose_name_plural = _("Webhook-Endpunkte")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "url"], name="webhook_endpoint_unique_url_per_owner"),
            models.CheckConstraint(condition=~Q(secret=""), name="webhook_endpoint_secret_not_empty"),
            models.CheckConstraint(
                condition=Q(scope="team", team__isnull=False) | (~Q(scope="team") & Q(team__isnull=True)),
                name="webhook_endpoint_team_iff_team_scope",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.url})"


class WebhookDelivery(BaseModel):
    """One event for one endpoint (or one per-document callback URL), with its attempts and the last response.

    Status transitions:
        pending -> sending        worker claims it (guarded update, ``attempts`` + 1)
        sending -> delivered      receiver answered 2xx
        sending -> pending        5xx, 429, timeout or connection error; ``next_attempt_at`` backs off
        sending -> dead           any other answer (4xx, a redirect), a refused address, or attempts exhausted
        sending -> pending        the worker died mid-send (``webhook_recover_stuck``)
        dead -> pending           re-sent by a person (``attempts`` back to 0, same ``webhook-id``)
    The unique (endpoint, event_id) makes each event go out at most once per endpoint,
    even if the producer retries; the ``webhook-id`` header is this row's id, stable across
    retries, so receivers can drop a copy whose acknowledgement got lost.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Ausstehend")
        SENDING = "sending", _("Wird gesendet")
        DELIVERED = "delivered", _("Zugestellt")
        DEAD = "dead", _("Aufgegeben")

    RESPONSE_BODY_EXCERPT_LENGTH = 2000

    endpoint = models.ForeignKey(
        WebhookEndpoint,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("Endpunkt"),
    )
    # Only for per-document callbacks (no endpoint); endpoint deliveries use the endpoint's current URL.
    callback_url = models.URLField(_("Callback-URL"), max_length=500, blank=True)
    document = models.ForeignKey(
        "documents.Document",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="webhook_deliveries",
        verbose_name=_("Dokument"),
    )
    event = models.CharField(_("Ereignis"), max_length=50, choices=WebhookEndpoint.Event.choices)
    event_id = models.UUIDField(_("Ereignis-ID"))
    payload = models.JSONField(_("Nutzdaten"), default=dict)
    status = models.CharField(_("Status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("Versuche"), default=0)
    max_attempts = models.PositiveIntegerField(_("max. Versuche"), default=8)
    response_status = models.PositiveSmallIntegerField(_("HTTP-Status"), null=True, blank=True)
    response_body = models.TextField(_("Antwort (Auszug)"), blank=True)
    next_attempt_at = models.DateTimeField(_("nächster Versuch"), default=timezone.now)
    delivered_at = models.DateTimeField(_("zugestellt am"), null=True, blank=True)
    last_error = models.TextField(_("letzter Fehler"), blank=True)
    sending_started_at = models.DateTimeField(_("Sendebeginn"), null=True, blank=True)

    class Meta:
        verbose_name = _("Webhook-Zustellung")
        verbose_name_plural = _("Webhook-Zustellungen")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_once_per_endpoint"),
            models.UniqueConstraint(
                fields=["callback_url", "event_id"],
                condition=Q(endpoint__isnull=True),
                name="webhook_delivery_once_per_callback",
            ),
            models.CheckConstraint(
                condition=Q(endpoint__isnull=False) | ~Q(callback_url=""), name="webhook_delivery_has_target"
            ),
            models.CheckConstraint(condition=Q(attempts__lte=F("max_attempts")), name="webhook_attempts_bounded"),
            models.CheckConstraint(
                condition=Q(response_status__isnull=True) | Q(response_status__gte=100, response_status__lte=599),
                name="webhook_response_status_range",
            ),
            models.CheckConstraint(
                condition=~Q(status="delivered") | Q(delivered_at__isnull=False),
                name="webhook_delivered_has_delivered_at",
            ),
        ]
        indexes = [
            # The delivery worker's poll: "pending deliveries whose next attempt is due".
            models.Index(fields=["next_attempt_at"], name="webhook_delivery_due_idx", condition=Q(status="pending")),
        ]

    def __str__(self):
        return f"{self.event} → {self.endpoint or self.callback_url} ({self.get_status_display()})"


class DigestEntry(BaseModel):
    """One notification held back for a user's hourly or daily e-mail summary.

    States: waiting (``email`` empty) -> bundled (``email`` set by ``digest_send_due``; never back).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest_entries", verbose_name=_("Benutzer")
    )
    frequency = models.CharField(
        _("Zusammenfassung"),
        max_length=10,
        choices=[
            (NotificationPreference.Digest.HOURLY, NotificationPreference.Digest.HOURLY.label),
            (NotificationPreference.Digest.DAILY, NotificationPreference.Digest.DAILY.label),
        ],
    )
    notification_type = models.CharField(_("Art"), max_length=30, choices=Notification.Type.choices)
    title = models.CharField(_("Titel"), max_length=255)
    message = models.TextField(_("Nachricht"), blank=True)
    link_url = models.CharField(_("Link"), max_length=500, blank=True)
    document = models.ForeignKey(
        "documents.Document",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="digest_entries",
        verbose_name=_("Dokument"),
    )
    email = models.ForeignKey(
        EmailQueue,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="digest_entries",
        verbose_name=_("E-Mail"),
    )

    class Meta:
        verbose_name = _("Eintrag für Zusammenfassung")
        verbose_name_plural = _("Einträge für Zusammenfassungen")
        ordering = ["created_at"]
        indexes = [
            # The digest run: "waiting entries of this frequency, per user".
            models.Index(fields=["frequency", "user"], name="digest_waiting_idx", condition=Q(email__isnull=True)),
        ]

    def __str__(self):
        return f"{self.title} → {self.user}"
