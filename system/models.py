"""Runtime configuration: typed settings, feature flags, scheduled tasks and free parameters."""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_celery_beat.validators import crontab_validator

from ablage.models import BaseModel
from system.crypto import EncryptedTextField

CONFIG_KEY_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$"
TASK_PATH_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$"


def validate_timezone_name(value):
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(_("Unbekannte Zeitzone: %(value)s"), params={"value": value}) from exc


class SystemConfig(BaseModel):
    """One typed setting that admins may change at run time (``ocr.render_dpi`` = 300).

    ``value`` holds the JSON form of the value (decimals as strings so they keep their
    digits); a secret (``is_secret``: an API key, a password) keeps that JSON text encrypted
    in ``value_encrypted`` instead and ``value`` stays null. ``value_type`` says how to read it,
    ``validation_rules`` what is allowed
    (``min``, ``max``, ``choices``, ``regex``). Read with ``system.selectors.config_get``,
    write with ``system.services.config_set`` (which validates and invalidates the cache);
    the admin form goes through the same validation. No state transitions.
    Defaults are seeded by migration 0002.
    """

    class ValueType(models.TextChoices):
        STRING = "string", _("Text")
        INT = "int", _("Ganzzahl")
        FLOAT = "float", _("Kommazahl")
        DECIMAL = "decimal", _("Dezimalzahl (exakt)")
        BOOL = "bool", _("Ja/Nein")
        JSON = "json", _("JSON")

    key = models.CharField(
        _("Schlüssel"),
        max_length=100,
        unique=True,
        validators=[RegexValidator(CONFIG_KEY_PATTERN, _("Nur Kleinbuchstaben, Ziffern, _ und Punkte."))],
    )
    value = models.JSONField(_("Wert"), null=True, blank=True)
    value_type = models.CharField(_("Typ"), max_length=10, choices=ValueType.choices, default=ValueType.STRING)
    description = models.TextField(_("Beschreibung"), blank=True)
    category = models.CharField(_("Bereich"), max_length=50, blank=True, db_index=True)
    validation_rules = models.JSONField(_("Prüfregeln"), default=dict, blank=True)
    is_secret = models.BooleanField(_("geheim"), default=False)
    value_encrypted = EncryptedTextField(_("Wert (verschlüsselt)"), blank=True, editable=False)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("geändert von"),
    )

    class Meta:
        verbose_name = _("Konfigurationswert")
        verbose_name_plural = _("Konfiguration")
        ordering = ["category", "key"]
        constraints = [
            models.CheckConstraint(
                condition=Q(value_type__in=["string", "int", "float", "decimal", "bool", "json"]),
                name="system_config_value_type_known",
            ),
            models.CheckConstraint(condition=Q(key__regex=CONFIG_KEY_PATTERN), name="system_config_key_format"),
        ]

    def __str__(self):
        return self.key


class FeatureFlag(BaseModel):
    """Switches a feature on for everyone, nobody, or a stable share of users.

    ``rollout_percentage`` 100 means every user once ``enabled``; below 100 a user is in
    when a hash of flag key and user id falls below it, so the same user keeps the same
    answer. ``conditions`` narrows or widens that: ``{"groups": [...]}`` limits the flag to
    members of these groups, ``{"users": [e-mail, ...]}`` always lets these users in,
    ``{"rule": <JSONLogic>}`` must hold over ``{"user": {"email", "groups", "language"},
    "today": "YYYY-MM-DD"}``. ``starts_at`` / ``ends_at`` bound the flag in time.
    States: disabled <-> enabled (``enabled``, by an admin).
    Read with ``system.selectors.feature_enabled``.
    """

    CONDITION_KEYS = ("groups", "users", "rule")

    key = models.CharField(
        _("Schlüssel"),
        max_length=100,
        unique=True,
        validators=[RegexValidator(CONFIG_KEY_PATTERN, _("Nur Kleinbuchstaben, Ziffern, _ und Punkte."))],
    )
    description = models.TextField(_("Beschreibung"), blank=True)
    enabled = models.BooleanField(_("aktiv"), default=False)
    rollout_percentage = models.PositiveSmallIntegerField(_("Anteil der Benutzer (%)"), default=100)
    conditions = models.JSONField(_("Bedingungen"), default=dict, blank=True)
    starts_at = models.DateTimeField(_("aktiv ab"), null=True, blank=True)
    ends_at = models.DateTimeField(_("aktiv bis"), null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("geändert von"),
    )

    class Meta:
        verbose_name = _("Funktionsschalter")
        verbose_name_plural = _("Funktionsschalter")
        ordering = ["key"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rollout_percentage__gte=0, rollout_percentage__lte=100),
                name="feature_flag_rollout_percentage_range",
            ),
        ]

    def __str__(self):
        return self.key

    def clean(self):
        super().clean()
        conditions = self.conditions or {}
        if not isinstance(conditions, dict):
            raise ValidationError({"conditions": _("Bedingungen müssen ein JSON-Objekt sein.")})
        unknown = sorted(set(conditions) - set(self.CONDITION_KEYS))
        if unknown:
            raise ValidationError(
                {
                    "conditions": _("Unbekannte Bedingungen: %(keys)s. Erlaubt: groups, users.")
                    % {"keys": ", ".join(unknown)}
                }
            )
        if "rule" in conditions:
            from workflows.jsonlogic import rule_errors

            if problems := rule_errors(conditions["rule"]):
                raise ValidationError({"conditions": " ".join(problems)})
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("Das Ende muss nach dem Beginn liegen.")})
        for name in ("groups", "users"):
            values = conditions.get(name, [])
            if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
                raise ValidationError({"conditions": _("„%(key)s“ muss eine Liste von Texten sein.") % {"key": name}})


class ScheduledTask(BaseModel):
    """A Celery task that runs on a cron schedule, optionally only inside a daily time window.

    Run states (``last_run_status``): never run ("") -> running -> succeeded | failed ->
    running (next run). ``enabled`` pauses and resumes the schedule.
    Used from the scheduler issue (synchronised to django-celery-beat); until then maintained in admin.
    """

    class RunStatus(models.TextChoices):
        NEVER = "", _("Noch nie gelaufen")
        RUNNING = "running", _("Läuft")
        SUCCEEDED = "succeeded", _("Erfolgreich")
        FAILED = "failed", _("Fehlgeschlagen")

    name = models.CharField(_("Name"), max_length=100, unique=True)
    description = models.TextField(_("Beschreibung"), blank=True)
    task = models.CharField(
        _("Task"),
        max_length=200,
        validators=[
            RegexValidator(TASK_PATH_PATTERN, _("Bitte einen Python-Pfad wie „documents.tasks.purge“ angeben."))
        ],
    )
    kwargs = models.JSONField(_("Parameter"), default=dict, blank=True)
    cron_expression = models.CharField(_("Cron-Ausdruck"), max_length=100, validators=[crontab_validator])
    timezone = models.CharField(
        _("Zeitzone"), max_length=64, default="Europe/Berlin", validators=[validate_timezone_name]
    )
    enabled = models.BooleanField(_("aktiv"), default=True)
    window_start = models.TimeField(_("frühestens um"), null=True, blank=True)
    window_end = models.TimeField(_("spätestens um"), null=True, blank=True)
    last_run_at = models.DateTimeField(_("letzter Lauf"), null=True, blank=True)
    last_run_status = models.CharField(
        _("Ergebnis des letzten Laufs"), max_length=10, choices=RunStatus.choices, default=RunStatus.NEVER, blank=True
    )
    last_run_duration_ms = models.PositiveIntegerField(_("Dauer (ms)"), null=True, blank=True)
    last_error = models.TextField(_("letzter Fehler"), blank=True)
    next_run_at = models.DateTimeField(_("nächster Lauf"), null=True, blank=True)

    class Meta:
        verbose_name = _("Geplante Aufgabe")
        verbose_name_plural = _("Geplante Aufgaben")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(window_start__isnull=True, window_end__isnull=True)
                | Q(window_start__isnull=False, window_end__isnull=False),
                name="scheduled_task_window_pair",
            ),
            models.CheckConstraint(condition=Q(task__regex=TASK_PATH_PATTERN), name="scheduled_task_path_format"),
            models.CheckConstraint(
                condition=~Q(last_run_status="") | Q(last_run_at__isnull=True),
                name="scheduled_task_never_run_has_no_time",
            ),
        ]
        indexes = [
            # Scheduler poll: "enabled tasks due next".
            models.Index(fields=["next_run_at"], name="scheduled_task_due_idx", condition=Q(enabled=True)),
        ]

    def __str__(self):
        return self.name

    def in_window(self, local_time) -> bool:
        """Whether ``local_time`` (in the task's zone) lies in the execution window (may span midnight)."""
        if self.window_start is None or self.window_end is None:
            return True
        if self.window_start <= self.window_end:
            return self.window_start <= local_time <= self.window_end
        return local_time >= self.window_start or local_time <= self.window_end


class SystemParameter(BaseModel):
    """A free key-value pair for system state that has no model of its own (last sync, a lock
    token), optionally expiring. Read with ``system.selectors.parameter_get`` (expired = absent),
    write with ``system.services.parameter_set``. No state transitions.
    """

    key = models.CharField(_("Schlüssel"), max_length=255, unique=True)
    value = models.TextField(_("Wert"), blank=True)
    description = models.TextField(_("Beschreibung"), blank=True)
    category = models.CharField(_("Bereich"), max_length=50, blank=True)
    expires_at = models.DateTimeField(_("läuft ab am"), null=True, blank=True)

    class Meta:
        verbose_name = _("Systemparameter")
        verbose_name_plural = _("Systemparameter")
        ordering = ["key"]
        constraints = [
            models.CheckConstraint(condition=~Q(key=""), name="system_parameter_key_not_empty"),
        ]
        indexes = [
            # Cleanup: "parameters that have expired".
            models.Index(
                fields=["expires_at"], name="system_parameter_expiry_idx", condition=Q(expires_at__isnull=False)
            ),
        ]

    def __str__(self):
        return self.key
