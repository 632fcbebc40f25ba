"""Extraction configuration and its learning data: rules, rule history, ground truth, model metrics."""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ablage.models import BaseModel
from documents.models import Document


class ExtractionRule(BaseModel):
    """A configurable rule that finds one field (``field_name``) in a document's text or layout.

    A rule with no ``supplier`` applies to every supplier; a blank ``document_type`` to every
    type. Higher ``priority`` is tried first. ``rule_config`` by type:

    * regex: ``{"pattern": "...", "group": 1, "flags": "im"}``
    * position: ``{"page": 1, "x": .., "y": .., "width": .., "height": ..}``, normalised 0..1
      with a top-left origin like ``DocumentPage.words``
    * template: ``{"field_mapping": {...}}``; the template itself is the ``template`` FK

    (The seed's ``ml_model`` type is left out until there is a model to run.)
    States: active <-> inactive. Each edit of ``rule_config`` raises ``version`` and leaves
    an ``ExtractionRuleVersion`` behind (written by the rule-editing service).

    Not yet used by any code path: the built-in German field rules live in code; the
    extraction-engine issue reads these rows on top of them. Until then maintained in admin.
    """

    class RuleType(models.TextChoices):
        REGEX = "regex", _("Regulärer Ausdruck")
        POSITION = "position", _("Position auf der Seite")
        TEMPLATE = "template", _("Lieferantenvorlage")

    supplier = models.ForeignKey(
        "suppliers.Supplier",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="extraction_rules",
        verbose_name=_("Lieferant"),
        help_text=_("Leer: gilt für alle Lieferanten."),
    )
    document_type = models.CharField(
        _("Dokumenttyp"),
        max_length=20,
        choices=Document.DocumentType.choices,
        blank=True,
        help_text=_("Leer: gilt für alle Dokumenttypen."),
    )
    name = models.CharField(_("Name"), max_length=255)
    field_name = models.CharField(_("Feldname"), max_length=64)
    rule_type = models.CharField(_("Regeltyp"), max_length=20, choices=RuleType.choices)
    rule_config = models.JSONField(_("Konfiguration"), default=dict, blank=True)
    template = models.ForeignKey(
        "suppliers.SupplierTemplate",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="extraction_rules",
        verbose_name=_("Vorlage"),
    )
    validation_regex = models.CharField(_("Prüfausdruck"), max_length=500, blank=True)
    required = models.BooleanField(_("Pflichtfeld"), default=False)
    priority = models.IntegerField(_("Priorität"), default=0)
    is_active = models.BooleanField(_("aktiv"), default=True)
    version = models.IntegerField(_("Version"), default=1)
    usage_count = models.IntegerField(_("Verwendungen"), default=0)
    success_rate = models.FloatField(_("Erfolgsquote"), null=True, blank=True)
    avg_confidence = models.FloatField(_("Mittlere Konfidenz"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("Angelegt von"),
    )

    class Meta:
        verbose_name = _("Extraktionsregel")
        verbose_name_plural = _("Extraktionsregeln")
        ordering = ["field_name", "-priority", "name"]
        constraints = [
            # Two partial constraints because NULL suppliers are distinct in a plain unique
            # index, and NULLS NOT DISTINCT is not available on SQLite (embedded mode).
            models.UniqueConstraint(
                fields=["supplier", "name"],
                condition=Q(supplier__isnull=False),
                name="extraction_rule_name_unique_per_supplier",
            ),
            models.UniqueConstraint(
                fields=["name"], condition=Q(supplier__isnull=True), name="extraction_rule_name_unique_global"
            ),
            models.CheckConstraint(
                condition=Q(rule_type="template", template__isnull=False)
                | (~Q(rule_type="template") & Q(template=None)),
                name="extraction_rule_template_iff_template_type",
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="extraction_rule_version_positive"),
            models.CheckConstraint(condition=Q(usage_count__gte=0), name="extraction_rule_usage_count_non_negative"),
            models.CheckConstraint(
                condition=Q(success_rate__isnull=True) | Q(success_rate__gte=0, success_rate__lte=1),
                name="extraction_rule_success_rate_range",
            ),
            models.CheckConstraint(
                condition=Q(avg_confidence__isnull=True) | Q(avg_confidence__gte=0, avg_confidence__lte=1),
                name="extraction_rule_avg_confidence_range",
            ),
        ]
        indexes = [
            # The engine's lookup: "active rules for this field, highest priority first".
            models.Index(
                fields=["field_name", "-priority"], condition=Q(is_active=True), name="extraction_rule_active_idx"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.field_name})"

    def clean(self):
        errors: dict[str, list[str]] = {}
        config_errors = validate_rule_config(self.rule_type, self.rule_config)
        if config_errors:
            errors["rule_config"] = config_errors
        if self.validation_regex:
            try:
                re.compile(self.validation_regex)
            except re.error as exc:
                errors["validation_regex"] = [gettext("Kein gültiger regulärer Ausdruck (%(error)s).") % {"error": exc}]
        if self.rule_type == self.RuleType.TEMPLATE and self.template_id is None:
            errors["template"] = [gettext("Eine Regel vom Typ Lieferantenvorlage braucht eine Vorlage.")]
        elif self.rule_type != self.RuleType.TEMPLATE and self.template_id is not None:
            errors["template"] = [gettext("Nur Regeln vom Typ Lieferantenvorlage verweisen auf eine Vorlage.")]
        if errors:
            raise ValidationError(errors)


def validate_rule_config(rule_type: str, config) -> list[str]:
    """Messages describing what is wrong with ``config`` for ``rule_type`` (empty = valid).

    Checked when the rule is saved in a form so that a broken rule is refused where it was
    typed, not discovered by the first document that reaches it.
    """
    if not isinstance(config, dict):
        return [gettext("Erwartet wird ein JSON-Objekt.")]
    if rule_type == ExtractionRule.RuleType.REGEX:
        return _regex_config_errors(config)
    if rule_type == ExtractionRule.RuleType.POSITION:
        return _position_config_errors(config)
    if rule_type == ExtractionRule.RuleType.TEMPLATE:
        mapping = config.get("field_mapping", {})
        if not isinstance(mapping, dict):
            return [gettext("„field_mapping“ muss ein JSON-Objekt sein.")]
        return []
    return [gettext("Unbekannter Regeltyp „%(type)s“.") % {"type": rule_type}]


def _regex_config_errors(config: dict) -> list[str]:
    pattern = config.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        return [gettext("„pattern“ fehlt: der reguläre Ausdruck, der das Feld findet.")]
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        return [gettext("„pattern“ ist kein gültiger regulärer Ausdruck (%(error)s).") % {"error": exc}]
    errors = []
    group = config.get("group", 1 if compiled.groups else 0)
    # bool is an int subclass; ``"group": true`` is a typo, not group 1.
    if isinstance(group, bool) or not isinstance(group, int) or not 0 <= group <= compiled.groups:
        errors.append(
            gettext("„group“ muss eine Gruppennummer zwischen 0 und %(max)d sein.") % {"max": compiled.groups}
        )
    flags = config.get("flags", "")
    if not isinstance(flags, str) or set(flags) - set("ims"):
        errors.append(gettext("„flags“ darf nur die Buchstaben i, m und s enthalten."))
    return errors


def _position_config_errors(config: dict) -> list[str]:
    errors = []
    for key in ("x", "y", "width", "height"):
        value = config.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            errors.append(gettext("„%(key)s“ muss eine Zahl zwischen 0 und 1 sein (Anteil der Seite).") % {"key": key})
    page = config.get("page", 1)
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        errors.append(gettext("„page“ muss eine Seitenzahl ab 1 sein."))
    return errors


class ExtractionRuleVersion(BaseModel):
    """A snapshot of a rule's configuration as it was at ``version``; rows are never edited.

    No state transitions: the history is append-only, so a rule can be compared with or
    rolled back to an earlier version.

    Not yet used by any code path: written by the rule-editing service (extraction-engine
    issue); until then maintained in admin.
    """

    rule = models.ForeignKey(ExtractionRule, on_delete=models.CASCADE, related_name="versions", verbose_name=_("Regel"))
    version = models.IntegerField(_("Version"))
    rule_config = models.JSONField(_("Konfiguration"))
    performance_delta = models.JSONField(_("Leistungsänderung"), default=dict, blank=True)
    notes = models.TextField(_("Notizen"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("Angelegt von"),
    )

    class Meta:
        verbose_name = _("Regelversion")
        verbose_name_plural = _("Regelversionen")
        ordering = ["rule", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "version"], name="extraction_rule_version_unique_per_rule"),
            models.CheckConstraint(condition=Q(version__gte=1), name="extraction_rule_version_number_positive"),
        ]

    def __str__(self):
        return f"{self.rule} v{self.version}"


class TrainingData(BaseModel):
    """Ground truth for one field of one document: what it really says vs. what we extracted.

    Transitions: unvalidated -> validated (``validated_at`` set, with ``was_correct``);
    unused -> used for training (``used_for_training`` with its ``training_batch_id``; never
    back, so a batch can be reproduced).

    Not yet used by any code path: written from clerk corrections by the learning-loop issue;
    until then maintained in admin.
    """

    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="training_data", verbose_name=_("Dokument")
    )
    field_name = models.CharField(_("Feldname"), max_length=64)
    expected_value = models.TextField(_("Erwarteter Wert"))
    extracted_value = models.TextField(_("Extrahierter Wert"), blank=True)
    extraction_method = models.CharField(_("Extraktionsverfahren"), max_length=100, blank=True)
    was_correct = models.BooleanField(_("war korrekt"), null=True, blank=True)
    bounding_box = models.JSONField(_("Position"), null=True, blank=True)
    validated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("Geprüft von"),
    )
    validated_at = models.DateTimeField(_("Geprüft am"), null=True, blank=True)
    used_for_training = models.BooleanField(_("für Training verwendet"), default=False)
    training_batch_id = models.CharField(_("Trainingslauf"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("Trainingsdatensatz")
        verbose_name_plural = _("Trainingsdaten")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["document", "field_name"], name="training_data_unique_field_per_document"),
            # A validator may later be deleted (SET_NULL), so only the other direction holds.
            models.CheckConstraint(
                condition=Q(validated_by__isnull=True) | Q(validated_at__isnull=False),
                name="training_data_validator_has_timestamp",
            ),
            models.CheckConstraint(
                condition=Q(used_for_training=False) | ~Q(training_batch_id=""),
                name="training_data_used_has_batch",
            ),
        ]
        indexes = [
            # The next training batch: "validated examples of this field not yet used".
            models.Index(
                fields=["field_name", "created_at"],
                condition=Q(used_for_training=False, validated_at__isnull=False),
                name="training_data_unused_idx",
            ),
        ]

    def __str__(self):
        return f"{self.document} – {self.field_name}"


MODEL_PERFORMANCE_RATE_FIELDS = ("accuracy", "precision_score", "recall", "f1_score", "avg_confidence")


class ModelPerformance(BaseModel):
    """Quality of one extraction model version over a day (``hour_of_day`` empty) or one hour.

    Rates are fractions 0..1 (the seed used percentages). No state transitions: one row per
    model, version and time window, written once when the window is evaluated.

    Not yet used by any code path: written by the metrics issue (field exact-match, F1);
    until then maintained in admin.
    """

    model_name = models.CharField(_("Modell"), max_length=100)
    model_version = models.CharField(_("Modellversion"), max_length=50)
    metric_date = models.DateField(_("Datum"))
    hour_of_day = models.SmallIntegerField(_("Stunde"), null=True, blank=True, help_text=_("Leer: ganzer Tag."))
    accuracy = models.FloatField(_("Genauigkeit"), null=True, blank=True)
    precision_score = models.FloatField(_("Präzision"), null=True, blank=True)
    recall = models.FloatField(_("Trefferquote"), null=True, blank=True)
    f1_score = models.FloatField(_("F1-Wert"), null=True, blank=True)
    avg_confidence = models.FloatField(_("Mittlere Konfidenz"), null=True, blank=True)
    field_metrics = models.JSONField(_("Kennzahlen je Feld"), default=dict, blank=True)
    total_predictions = models.IntegerField(_("Vorhersagen"), default=0)
    correct_predictions = models.IntegerField(_("Richtige Vorhersagen"), default=0)

    class Meta:
        verbose_name = _("Modellleistung")
        verbose_name_plural = _("Modellleistungen")
        ordering = ["model_name", "-metric_date", "hour_of_day"]
        constraints = [
            # Day rows (hour NULL) need their own constraint: NULLs never collide in a unique index.
            models.UniqueConstraint(
                fields=["model_name", "model_version", "metric_date"],
                condition=Q(hour_of_day__isnull=True),
                name="model_performance_unique_day",
            ),
            models.UniqueConstraint(
                fields=["model_name", "model_version", "metric_date", "hour_of_day"],
                condition=Q(hour_of_day__isnull=False),
                name="model_performance_unique_hour",
            ),
            models.CheckConstraint(
                condition=Q(hour_of_day__isnull=True) | Q(hour_of_day__gte=0, hour_of_day__lte=23),
                name="model_performance_hour_range",
            ),
            # Also keeps the total non-negative: 0 <= correct <= total.
            models.CheckConstraint(
                condition=Q(correct_predictions__gte=0, correct_predictions__lte=models.F("total_predictions")),
                name="model_performance_correct_within_total",
            ),
            *[
                models.CheckConstraint(
                    condition=Q(**{f"{rate}__isnull": True}) | Q(**{f"{rate}__gte": 0, f"{rate}__lte": 1}),
                    name=f"model_performance_{rate}_range",
                )
                for rate in MODEL_PERFORMANCE_RATE_FIELDS
            ],
        ]
        indexes = [
            # The quality dashboard: "all models' results in a date range".
            models.Index(fields=["metric_date"], name="model_performance_date_idx"),
        ]

    def __str__(self):
        window = self.metric_date.isoformat() if self.hour_of_day is None else f"{self.metric_date} {self.hour_of_day}h"
        return f"{self.model_name} {self.model_version} ({window})"
