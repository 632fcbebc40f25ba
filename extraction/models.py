"""Extraction configuration and its learning data: rules, rule history, ground truth, model metrics."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ablage.models import BaseModel
from documents.models import Document
from extraction.rules import RULE_FIELDS, rule_config_errors, validation_regex_error


class ExtractionRule(BaseModel):
    """A configurable rule that finds one field (``field_name``) in a document's text or layout.

    A rule with no ``supplier`` applies to every supplier; a blank ``document_type`` to every
    type. Supplier rules are tried before generic ones, then higher ``priority`` first; the next
    rule is the fallback when one finds nothing valid. ``rule_config`` by type, and how a hit
    competes with the built-in extractors: ``extraction.rules`` (module doc).

    (The seed's ``ml_model`` type is left out until there is a model to run.)
    States: active <-> inactive. Each edit of what the rule does (type, config, validation
    regex, template) raises ``version``, leaves an ``ExtractionRuleVersion`` behind and starts
    the usage statistics afresh (``extraction.services.rule_update``). ``learned_from`` > 0 marks a
    rule the learning loop derived from that many reviewed documents (``extraction.services.
    supplier_learn``; how many of them were corrections: its version's ``measurement``).

    Usage statistics of the current version: ``usage_count`` runs, ``success_count`` of them with
    a valid value, ``success_rate`` their share, ``avg_confidence`` of the hits, ``last_used_at``;
    ``last_error`` the last reason the rule broke (does not compile, timed out), kept until the
    rule is edited.
    """

    class RuleType(models.TextChoices):
        REGEX = "regex", _("Regulärer Ausdruck")
        POSITION = "position", _("Position auf der Seite")
        ANCHOR = "anchor", _("Neben einer Beschriftung")
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
    success_count = models.IntegerField(_("Erfolgreiche Verwendungen"), default=0)
    success_rate = models.FloatField(_("Erfolgsquote"), null=True, blank=True)
    avg_confidence = models.FloatField(_("Mittlere Konfidenz"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("Zuletzt verwendet"), null=True, blank=True)
    last_error = models.TextField(_("Letzter Fehler"), blank=True)
    last_error_at = models.DateTimeField(_("Letzter Fehler am"), null=True, blank=True)
    learned_from = models.IntegerField(
        _("Gelernt aus Korrekturen"),
        default=0,
        help_text=_("0: von Hand angelegt; sonst die Zahl der geprüften Dokumente, aus denen die Regel gelernt wurde."),
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
            models.CheckConstraint(condition=Q(learned_from__gte=0), name="extraction_rule_learned_from_non_negative"),
            # Also keeps the usage count non-negative: 0 <= success_count <= usage_count.
            models.CheckConstraint(
                condition=Q(success_count__gte=0, success_count__lte=models.F("usage_count")),
                name="extraction_rule_success_count_within_usage",
            ),
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
        config_errors = rule_config_errors(self.rule_type, self.rule_config)
        if config_errors:
            errors["rule_config"] = config_errors
        if self.validation_regex and (problem := validation_regex_error(self.validation_regex)):
            errors["validation_regex"] = [problem]
        if self.field_name and self.field_name not in RULE_FIELDS:
            errors["field_name"] = [
                gettext("Unbekanntes Feld „%(name)s“; möglich sind: %(names)s.")
                % {"name": self.field_name, "names": ", ".join(RULE_FIELDS)}
            ]
        if self.rule_type == self.RuleType.TEMPLATE and self.template_id is None:
            errors["template"] = [gettext("Eine Regel vom Typ Lieferantenvorlage braucht eine Vorlage.")]
        elif self.rule_type != self.RuleType.TEMPLATE and self.template_id is not None:
            errors["template"] = [gettext("Nur Regeln vom Typ Lieferantenvorlage verweisen auf eine Vorlage.")]
        if errors:
            raise ValidationError(errors)


class ExtractionRuleVersion(BaseModel):
    """A snapshot of a rule's configuration as it was at ``version``, with its measured performance.

    No state transitions: the configuration is never edited, so a rule can be compared with or
    rolled back to an earlier version; only the counters grow while the version is in use
    (``usage_count`` runs, ``success_count`` with a valid value, ``avg_confidence`` of the hits).
    ``performance_delta`` holds what the previous version had measured when this one replaced it
    (``extraction.services.rule_update``). A learned version keeps what it measured on the
    supplier's reviewed documents before it was activated (``measurement``) and how many
    corrections it was learned from; ``rolled_back`` marks a version an admin rolled back from,
    so the learning loop does not bring it back.
    """

    rule = models.ForeignKey(ExtractionRule, on_delete=models.CASCADE, related_name="versions", verbose_name=_("Regel"))
    version = models.IntegerField(_("Version"))
    rule_type = models.CharField(
        _("Regeltyp"), max_length=20, blank=True, help_text=_("Leer: wie die Regel (Versionen vor dem Lernen).")
    )
    rule_config = models.JSONField(_("Konfiguration"))
    learned_from = models.IntegerField(_("Gelernt aus Korrekturen"), default=0)
    measurement = models.JSONField(_("Messung vor der Aktivierung"), default=dict, blank=True)
    rolled_back = models.BooleanField(_("zurückgerollt"), default=False)
    performance_delta = models.JSONField(_("Leistungsänderung"), default=dict, blank=True)
    usage_count = models.IntegerField(_("Verwendungen"), default=0)
    success_count = models.IntegerField(_("Erfolgreiche Verwendungen"), default=0)
    avg_confidence = models.FloatField(_("Mittlere Konfidenz"), null=True, blank=True)
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
            # Also keeps the usage count non-negative.
            models.CheckConstraint(
                condition=Q(success_count__gte=0, success_count__lte=models.F("usage_count")),
                name="extraction_rule_version_success_within_usage",
            ),
        ]

    def __str__(self):
        return f"{self.rule} v{self.version}"


class TrainingData(BaseModel):
    """Ground truth for one field of one document: what it really says vs. what we extracted.

    Transitions: unvalidated -> validated (``validated_at`` set, with ``was_correct``);
    unused -> used for training (``used_for_training`` with its ``training_batch_id``; never
    back, so a batch can be reproduced).

    Written for every field of every reviewed document (``extraction.services.
    training_data_record_review``), one row per document and field: a later review of the same
    document overwrites it. ``field_name`` ``document_type`` holds the accepted document type;
    ``bounding_box``/``page`` the box the accepted value stands in (the extracted one when the
    clerk confirmed it, else where the corrected value was found in the stored words);
    ``confidence`` the extraction's confidence in its value.
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
    page = models.PositiveIntegerField(_("Seite"), null=True, blank=True)
    confidence = models.FloatField(_("Konfidenz der Extraktion"), null=True, blank=True)
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

    Written by ``extraction.learning.metrics`` (the daily task ``extraction.tasks.
    model_performance_compute``) from the day's reviewed fields: model ``extraction`` (the rule
    set; ``field_metrics`` per field and per supplier) and ``document_type_classifier``.
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


class ClassifierModel(BaseModel):
    """A trained document-type classifier, stored as plain JSON (never pickled: the DB is no code source).

    ``parameters`` is what ``extraction.learning.classifier.NaiveBayes.from_json`` reads: per type
    the number of documents and token counts. ``accuracy`` is its leave-one-out accuracy on the
    ``trained_examples`` it learned from (the ``TrainingData`` rows of field ``document_type``
    marked used with ``training_batch_id`` "<name>-v<version>"). States: active -> inactive
    (replaced by a newer version); at most one active model per ``name``.
    """

    name = models.CharField(_("Name"), max_length=100)
    version = models.IntegerField(_("Version"))
    parameters = models.JSONField(_("Parameter"))
    trained_examples = models.IntegerField(_("Trainingsbeispiele"))
    accuracy = models.FloatField(_("Genauigkeit"), null=True, blank=True)
    is_active = models.BooleanField(_("aktiv"), default=True)

    class Meta:
        verbose_name = _("Klassifikationsmodell")
        verbose_name_plural = _("Klassifikationsmodelle")
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="classifier_model_version_unique"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(is_active=True), name="classifier_model_one_active_per_name"
            ),
            models.CheckConstraint(
                condition=Q(accuracy__isnull=True) | Q(accuracy__gte=0, accuracy__lte=1),
                name="classifier_model_accuracy_range",
            ),
        ]

    def __str__(self):
        return f"{self.name} v{self.version}"


# --- model-assisted extraction (extraction.llm) ----------------------------------------------------


class ModelRun(BaseModel):
    """One request to a language model for a document's fields, and what came of it.

    ``answer`` holds the checked suggestions (``extraction.llm.output.Suggestion.as_json``) and the
    validation checks they were put through; a model's value never approves anything by itself.
    ``cache_key`` is the SHA-256 of prompt version, model and document text: a later run with the
    same key takes the stored answer instead of calling the model again.
    States: pending -> running -> succeeded | invalid_output | failed | budget_reached |
    circuit_open | unavailable (terminal; a new request makes a new run). A run still pending or
    running after ``ACTIVE_FOR`` is taken as lost (its worker died) and failed by the next request.
    """

    ACTIVE_FOR = timedelta(minutes=15)

    class Status(models.TextChoices):
        PENDING = "pending", _("Wartet")
        RUNNING = "running", _("Läuft")
        SUCCEEDED = "succeeded", _("Beantwortet")
        INVALID_OUTPUT = "invalid_output", _("Antwort unbrauchbar")
        FAILED = "failed", _("Fehlgeschlagen")
        BUDGET_REACHED = "budget_reached", _("Monatsbudget erreicht")
        CIRCUIT_OPEN = "circuit_open", _("Modell vorübergehend gesperrt")
        UNAVAILABLE = "unavailable", _("Modell nicht verfügbar")

    class Trigger(models.TextChoices):
        AUTOMATIC = "automatic", _("Automatisch (unter der Schwelle)")
        ON_DEMAND = "on_demand", _("Auf Anfrage aus der Prüfung")

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="model_runs")
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("Team")
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    trigger = models.CharField(_("Anlass"), max_length=20, choices=Trigger.choices)
    status = models.CharField(_("Status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    model_name = models.CharField(_("Modell"), max_length=200, blank=True)
    cache_key = models.CharField(_("Cache-Schlüssel"), max_length=64, blank=True)
    from_cache = models.BooleanField(_("aus dem Cache"), default=False)
    attempts = models.PositiveSmallIntegerField(_("Versuche"), default=0)
    prompt_tokens = models.PositiveIntegerField(_("Eingabe-Tokens"), default=0)
    completion_tokens = models.PositiveIntegerField(_("Ausgabe-Tokens"), default=0)
    latency_ms = models.PositiveIntegerField(_("Dauer (ms)"), null=True, blank=True)
    answer = models.JSONField(_("Antwort"), default=dict, blank=True)
    message = models.TextField(_("Meldung"), blank=True)
    finished_at = models.DateTimeField(_("beendet"), null=True, blank=True)

    class Meta:
        verbose_name = _("Modellanfrage")
        verbose_name_plural = _("Modellanfragen")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "pending",
                        "running",
                        "succeeded",
                        "invalid_output",
                        "failed",
                        "budget_reached",
                        "circuit_open",
                        "unavailable",
                    ]
                ),
                name="model_run_status_known",
            ),
            models.CheckConstraint(condition=Q(trigger__in=["automatic", "on_demand"]), name="model_run_trigger_known"),
        ]
        indexes = [
            # Cache lookup: "a successful answer for this text and model" (extraction.llm.services).
            models.Index(fields=["cache_key"], name="model_run_cache_idx", condition=Q(status="succeeded")),
        ]

    def __str__(self):
        return f"{self.document_id} {self.status}"


class ModelBudget(BaseModel):
    """Calls and tokens a team used in one calendar month (``month`` = its first day).

    ``scope`` is ``team:<id>`` or ``owner:<id>`` for documents without a team. A call is reserved
    with a guarded increment (``calls < limit``) before it goes out, so parallel workers cannot
    overshoot the calls limit; tokens are added when the answer arrives. No state transitions.
    """

    scope = models.CharField(_("Bereich"), max_length=80)
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("Team")
    )
    month = models.DateField(_("Monat"))
    calls = models.PositiveIntegerField(_("Aufrufe"), default=0)
    tokens = models.PositiveBigIntegerField(_("Tokens"), default=0)

    class Meta:
        verbose_name = _("Modellbudget")
        verbose_name_plural = _("Modellbudgets")
        ordering = ["-month", "scope"]
        constraints = [
            models.UniqueConstraint(fields=["scope", "month"], name="model_budget_unique_per_month"),
        ]

    def __str__(self):
        return f"{self.scope} {self.month:%Y-%m}"


class ModelCircuit(BaseModel):
    """The circuit breaker in front of a model endpoint, shared by every worker through the database.

    Closed (``opened_at`` empty) -> open after ``consecutive_failures`` reaches the limit ->
    half-open once the cool-down passed: one worker claims the probe (``probe_until``, a lease in
    case it dies) -> closed on success, open again (new ``opened_at``) on failure.
    """

    name = models.CharField(_("Name"), max_length=200, unique=True)
    consecutive_failures = models.PositiveIntegerField(_("Fehler in Folge"), default=0)
    opened_at = models.DateTimeField(_("geöffnet am"), null=True, blank=True)
    probe_until = models.DateTimeField(_("Probe läuft bis"), null=True, blank=True)

    class Meta:
        verbose_name = _("Schutzschalter")
        verbose_name_plural = _("Schutzschalter")
        ordering = ["name"]

    def __str__(self):
        return self.name
