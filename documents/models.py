"""Documents, their processing jobs, pages, OCR results, extracted fields and history."""

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from ablage.models import BaseModel, SoftDeleteModel
from system.crypto import EncryptedTextField


class Category(BaseModel):
    """A node in the category tree ("Eingangsrechnungen > Energie"); ``path`` is the slug path."""

    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    name = models.CharField(_("Name"), max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    path = models.CharField(max_length=500, unique=True, editable=False)
    description = models.TextField(blank=True)
    color = models.CharField(max_length=7, blank=True)
    sort_order = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("Kategorie")
        verbose_name_plural = _("Kategorien")
        ordering = ["path"]

    def __str__(self):
        return self.path.replace("/", " › ")


class Tag(BaseModel):
    """A free label on documents."""

    name = models.CharField(_("Name"), max_length=100, unique=True)
    color = models.CharField(max_length=7, blank=True)
    description = models.TextField(blank=True)

    class Meta:
        verbose_name = _("Schlagwort")
        verbose_name_plural = _("Schlagwörter")
        ordering = ["name"]

    def __str__(self):
        return self.name


class DocumentQuerySet(models.QuerySet):
    def delete(self):
        # GoBD: no bulk path around the retention rules (documents.retention).
        from documents.retention import guard_deletion

        guard_deletion(self)
        return super().delete()


class AliveDocumentManager(models.Manager.from_queryset(DocumentQuerySet)):
    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class Document(SoftDeleteModel):
    """One received original (PDF or image) and what Ablage made of it.

    Status transitions (guarded updates in ``documents.services``):
        queued -> processing          worker picks up the job
        processing -> queued          transient failure, retried
        processing -> review          extracted, needs a clerk
        processing -> approved        extracted, confident and valid (auto-approval)
        processing -> rejected        the input itself is unusable (reason in status_reason)
        processing -> dead            processing gave up: attempts exhausted (a document that keeps
                                      killing workers) or an internal error (reason kept)
        review -> approved | rejected clerk decision
        approved -> review            reopened by a reviewer
        review | rejected | dead -> queued
                                      a clerk sends it back for reprocessing (locked fields stay)
    Terminal: approved, rejected, dead (review waits on a person).
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("In Warteschlange")
        PROCESSING = "processing", _("In Verarbeitung")
        REVIEW = "review", _("Prüfung nötig")
        APPROVED = "approved", _("Freigegeben")
        REJECTED = "rejected", _("Abgelehnt")
        DEAD = "dead", _("Verarbeitung abgebrochen")

    class DocumentType(models.TextChoices):
        INVOICE = "invoice", _("Rechnung")
        CREDIT_NOTE = "credit_note", _("Gutschrift")
        REMINDER = "reminder", _("Mahnung")
        DELIVERY_NOTE = "delivery_note", _("Lieferschein")
        ORDER = "order", _("Bestellung / Auftragsbestätigung")
        CONTRACT = "contract", _("Vertrag")
        RECEIPT = "receipt", _("Quittung / Beleg")
        LETTER = "letter", _("Brief")
        FORM = "form", _("Formular")
        UNKNOWN = "unknown", _("Unbekannt")

    class Source(models.TextChoices):
        UPLOAD = "upload", _("Browser-Upload")
        API = "api", _("API")
        FOLDER = "folder", _("Überwachter Ordner")
        EMAIL = "email", _("E-Mail")
        CLI = "cli", _("Kommandozeile")

    class ContentSource(models.TextChoices):
        TEXT_LAYER = "text_layer", _("Textebene")
        OCR = "ocr", _("Texterkennung")
        EINVOICE = "einvoice", _("E-Rechnung")

    class Decision(models.TextChoices):
        AUTO_APPROVE = "auto_approve", _("Automatisch freigegeben")
        REVIEW = "review", _("Prüfung")

    TERMINAL_STATUSES = (Status.APPROVED, Status.REJECTED, Status.DEAD)

    objects = AliveDocumentManager()
    all_objects = DocumentQuerySet.as_manager()

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="documents")
    # Shared with this team's members (documents.selectors.visible_documents); null = owner only.
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="documents"
    )
    title = models.CharField(_("Titel"), max_length=255)
    original_filename = models.CharField(_("Dateiname"), max_length=255)
    mime_type = models.CharField(max_length=100)
    file_size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    storage_key = models.CharField(max_length=500, unique=True, editable=False)
    # Archive copy: the original with a text layer over scanned pages (searchable PDF).
    archive_key = models.CharField(max_length=500, blank=True, editable=False)
    # E-invoices: the structured XML (the legally relevant original, GoBD) and its format.
    einvoice_key = models.CharField(max_length=500, blank=True, editable=False)
    einvoice_format = models.CharField(max_length=100, blank=True, editable=False)
    # SHA-256 of the stored e-invoice XML: verified by the archive integrity check (GoBD).
    einvoice_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    # Originals the pipeline cannot read itself (an e-mail, an office file) are processed as a
    # PDF made from them at intake; the original stays the legal original (GoBD), this is
    # derived. SHA-256 verified when the worker reads it, like the original's.
    rendition_key = models.CharField(max_length=500, blank=True, editable=False)
    rendition_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    # What the file says about itself, read at processing: PDF info (author, creator,
    # producer, creation date) or image EXIF (camera, capture date, orientation).
    file_metadata = models.JSONField(default=dict, blank=True, editable=False)
    # First-page thumbnails by width: {"200": key, "400": key, "800": key}.
    thumbnails = models.JSONField(default=dict, blank=True, editable=False)

    status = models.CharField(_("Status"), max_length=20, choices=Status.choices, default=Status.QUEUED)
    status_reason = models.TextField(_("Grund"), blank=True)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.UPLOAD)
    source_reference = models.CharField(max_length=255, blank=True)
    priority = models.PositiveSmallIntegerField(default=5)

    document_type = models.CharField(
        _("Dokumenttyp"), max_length=20, choices=DocumentType.choices, default=DocumentType.UNKNOWN
    )
    document_type_confidence = models.FloatField(null=True, blank=True)
    # Set when a clerk chose the type: reprocessing keeps it, like a locked field.
    document_type_locked = models.BooleanField(default=False)
    content_source = models.CharField(max_length=20, choices=ContentSource.choices, blank=True)
    ocr_backend = models.CharField(max_length=50, blank=True)
    language = models.CharField(max_length=10, default="de")
    complexity = models.JSONField(
        default=dict, blank=True, help_text="Complexity analysis: score, level, metrics and recommended backend."
    )
    page_count = models.PositiveIntegerField(default=0)
    supplier = models.ForeignKey(
        "suppliers.Supplier", null=True, blank=True, on_delete=models.SET_NULL, related_name="documents"
    )
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="documents")
    tags = models.ManyToManyField(Tag, blank=True, related_name="documents")
    document_date = models.DateField(_("Belegdatum"), null=True, blank=True)
    document_number = models.CharField(_("Belegnummer"), max_length=100, blank=True)
    total_amount = models.DecimalField(_("Betrag"), max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    overall_confidence = models.FloatField(null=True, blank=True)
    decision = models.CharField(max_length=20, choices=Decision.choices, blank=True)
    decision_reason = models.TextField(_("Begründung"), blank=True)
    line_items = models.JSONField(default=list, blank=True)
    validation = models.JSONField(default=list, blank=True)
    timings_ms = models.JSONField(default=dict, blank=True)

    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_documents"
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="reviewed_documents"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Review queue (documents.review_queue): a clerk's claim on a document in review, held
    # until ``claimed_until``; an expired claim may be taken over by anyone.
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="claimed_documents"
    )
    claimed_until = models.DateTimeField(null=True, blank=True)
    # 0..1, recomputed by review_queue_refresh_priorities(); null until first computed.
    review_priority = models.FloatField(null=True, blank=True)
    sla_due_at = models.DateTimeField(null=True, blank=True)
    # Archive (documents.retention): a legal hold blocks deletion whatever the retention period;
    # a soft-deleted document (in the trash) keeps the reason it was deleted.
    legal_hold = models.BooleanField(_("Aufbewahrungssperre"), default=False)
    legal_hold_reason = models.TextField(_("Grund der Sperre"), blank=True)
    deletion_reason = models.TextField(_("Löschgrund"), blank=True)
    # The same bytes uploaded again by the same owner, accepted and linked (DocumentRelation
    # "duplicate_of") to the first one, the one its DocumentFingerprint names.
    is_duplicate = models.BooleanField(_("Duplikat"), default=False)
    # Given by the sender at upload (API): a type the sender knows, free key/value data, and
    # a URL to call when processing ends (delivery is the notifications app's job).
    document_type_hint = models.CharField(max_length=20, choices=DocumentType.choices, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    callback_url = models.URLField(max_length=2000, blank=True)
    # Full-text search (documents.search): title A, field values B, current OCR text C, German
    # configuration, recomputed by search_vector_refresh(). Its GIN index is created by
    # migration 0016 on PostgreSQL only (a GinIndex in Meta would break SQLite); on SQLite the
    # column stays empty and search reads the texts.
    search_vector = SearchVectorField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("Dokument")
        verbose_name_plural = _("Dokumente")
        ordering = ["-created_at"]
        permissions = [("review_document", "Can review and approve documents")]
        constraints = [
            models.CheckConstraint(condition=Q(file_size__gt=0), name="document_file_size_positive"),
            models.CheckConstraint(condition=Q(priority__gte=1, priority__lte=10), name="document_priority_range"),
            models.CheckConstraint(
                condition=Q(overall_confidence__isnull=True) | Q(overall_confidence__gte=0, overall_confidence__lte=1),
                name="document_confidence_range",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["rejected", "dead"]) | ~Q(status_reason=""),
                name="document_rejection_has_reason",
            ),
            # A clerk works on one document at a time; two tabs claiming at once cannot both win.
            models.UniqueConstraint(
                fields=["claimed_by"], condition=Q(claimed_by__isnull=False), name="document_one_claim_per_user"
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "status"], name="document_owner_status_idx"),
            # The review queue: "documents waiting for a clerk, oldest first".
            models.Index(fields=["created_at"], name="document_review_queue_idx", condition=Q(status="review")),
            # Load shedding counts the documents in the pipeline on every upload: a small partial
            # index instead of a scan of the whole archive.
            models.Index(
                fields=["status"], name="document_in_pipeline_idx", condition=Q(status__in=["queued", "processing"])
            ),
            # review_queue(user) / review_claim_next(): "documents in review, highest priority first,
            # not yet scored ones last". Coalesce, not NULLS LAST: SQLite cannot index NULLS LAST.
            models.Index(
                Coalesce(F("review_priority"), Value(-1.0)).desc(),
                "created_at",
                name="document_review_priority_idx",
                condition=Q(status="review"),
            ),
        ]

    def __str__(self):
        return self.title

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL_STATUSES

    def delete(self, *args, **kwargs):
        """Removal for good: only outside retention and without legal hold (``documents.retention``);
        everything else goes to the trash (``deleted_at``) through the services."""
        from documents.retention import guard_deletion

        guard_deletion([self])
        return super().delete(*args, **kwargs)


class ProcessingJob(BaseModel):
    """One run of the pipeline over a document.

    Status: pending -> running -> completed | failed ; running -> pending (retry after a
    transient error or a lost worker) ; pending -> cancelled.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Wartend")
        RUNNING = "running", _("Läuft")
        COMPLETED = "completed", _("Abgeschlossen")
        FAILED = "failed", _("Fehlgeschlagen")
        CANCELLED = "cancelled", _("Abgebrochen")

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="jobs")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    queue = models.CharField(max_length=50, default="ocr_cpu")
    backend = models.CharField(max_length=50, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=3)
    current_stage = models.CharField(max_length=50, blank=True)
    # Live progress for list, document page and API: {"page": 3, "pages": 12, "stage": "ocr"}.
    progress = models.JSONField(default=dict, blank=True)
    timings_ms = models.JSONField(default=dict, blank=True)
    error_code = models.CharField(max_length=50, blank=True)
    error_message = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Last time a message for this job was sent to the broker (recovery sweep: documents.services).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        verbose_name = _("Verarbeitungsauftrag")
        verbose_name_plural = _("Verarbeitungsaufträge")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(attempts__lte=models.F("max_attempts") + 1), name="job_attempts_bounded"
            ),
        ]
        indexes = [
            # Recovery sweep: "jobs not finished", per status.
            models.Index(
                fields=["status", "created_at"],
                name="job_unfinished_idx",
                condition=Q(status__in=["pending", "running"]),
            ),
        ]

    def __str__(self):
        return f"Job {self.id} ({self.get_status_display()})"


class JobEvent(BaseModel):
    """A progress or error event of a job (stage started, stage finished, failed)."""

    job = models.ForeignKey(ProcessingJob, on_delete=models.CASCADE, related_name="events")
    event_type = models.CharField(max_length=50)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("Auftragsereignis")
        verbose_name_plural = _("Auftragsereignisse")
        ordering = ["created_at"]

    def __str__(self):
        return f"{self.event_type}: {self.message}"


class DocumentPage(BaseModel):
    """One page: its rendered image, thumbnail, text and word boxes (normalised 0..1, top-left origin)."""

    class TextSource(models.TextChoices):
        TEXT_LAYER = "text_layer", _("Textebene")
        OCR = "ocr", _("Texterkennung")

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="pages")
    page_number = models.PositiveIntegerField()
    image_key = models.CharField(max_length=500)
    thumbnail_key = models.CharField(max_length=500, blank=True)
    width_px = models.PositiveIntegerField()
    height_px = models.PositiveIntegerField()
    dpi = models.PositiveIntegerField()
    text = models.TextField(blank=True)
    text_source = models.CharField(max_length=20, choices=TextSource.choices)
    ocr_backend = models.CharField(max_length=50, blank=True)
    ocr_confidence = models.FloatField(null=True, blank=True)
    words = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = _("Seite")
        verbose_name_plural = _("Seiten")
        ordering = ["document", "page_number"]
        constraints = [
            models.UniqueConstraint(fields=["document", "page_number"], name="page_unique_per_document"),
            models.CheckConstraint(condition=Q(page_number__gt=0), name="page_number_positive"),
        ]

    def __str__(self):
        return f"{self.document} – Seite {self.page_number}"


class OCRResult(BaseModel):
    """The text result of one job; exactly one is current per document."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="ocr_results")
    job = models.OneToOneField(ProcessingJob, on_delete=models.CASCADE, related_name="ocr_result")
    backend = models.CharField(max_length=50)
    content_source = models.CharField(max_length=20, choices=Document.ContentSource.choices)
    text = models.TextField(blank=True)
    average_confidence = models.FloatField(null=True, blank=True)
    min_confidence = models.FloatField(null=True, blank=True)
    word_count = models.PositiveIntegerField(default=0)
    low_confidence_word_count = models.PositiveIntegerField(default=0)
    # Text lines in reading order per page: [{"page", "text", "bbox", "confidence"}].
    layout_lines = models.JSONField(default=list, blank=True)
    # Words below LOW_CONFIDENCE, for review and post-correction: [{"page", "text", "bbox", "confidence"}].
    low_confidence_words = models.JSONField(default=list, blank=True)
    is_current = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("OCR-Ergebnis")
        verbose_name_plural = _("OCR-Ergebnisse")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["document"], condition=Q(is_current=True), name="ocr_result_one_current_per_document"
            ),
        ]

    def __str__(self):
        return f"OCR {self.document} ({self.backend})"


class ExtractedField(BaseModel):
    """One business field of a document with its evidence.

    ``value`` is what the document shows (or the clerk typed), ``normalized_value`` the
    canonical form (dates ISO, amounts with a dot, IBAN without spaces). A locked field
    survives re-processing unchanged.
    """

    class Source(models.TextChoices):
        RULE = "rule", _("Regel")
        EINVOICE = "einvoice", _("E-Rechnung")
        MANUAL = "manual", _("Manuell")
        # Proposed by a language model (extraction.llm): always reviewed by a person.
        MODEL = "model", _("Modellvorschlag")

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="fields")
    name = models.CharField(max_length=64)
    value = models.TextField(blank=True)
    normalized_value = models.TextField(blank=True)
    confidence = models.FloatField(default=0.0)
    page = models.PositiveIntegerField(null=True, blank=True)
    bbox = models.JSONField(null=True, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.RULE)
    rule = models.CharField(max_length=100, blank=True)
    extracted_value = models.TextField(blank=True)
    locked = models.BooleanField(default=False)
    corrected_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    corrected_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("Extrahiertes Feld")
        verbose_name_plural = _("Extrahierte Felder")
        ordering = ["document", "name"]
        constraints = [
            models.UniqueConstraint(fields=["document", "name"], name="field_unique_per_document"),
            models.CheckConstraint(condition=Q(confidence__gte=0, confidence__lte=1), name="field_confidence_range"),
        ]

    def __str__(self):
        return f"{self.name}={self.normalized_value or self.value}"


class DocumentVersion(BaseModel):
    """A snapshot of a document's extracted data after a change: who, when, what, why."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="versions")
    version_number = models.PositiveIntegerField()
    change_type = models.CharField(max_length=50)
    snapshot = models.JSONField()
    changed_fields = models.JSONField(default=list)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        verbose_name = _("Dokumentversion")
        verbose_name_plural = _("Dokumentversionen")
        ordering = ["document", "-version_number"]
        constraints = [
            models.UniqueConstraint(fields=["document", "version_number"], name="version_unique_per_document"),
        ]

    def __str__(self):
        return f"{self.document} v{self.version_number}"


class DocumentRelation(BaseModel):
    """A typed link between two documents (credit note for invoice, delivery note for order, ...).

    Created automatically for duplicates (same SHA-256) and for an e-mail's attachments
    ("Anhang zu" the mail); other kinds are set by clerks in the review or by admins.
    """

    class RelationType(models.TextChoices):
        CORRECTS = "corrects", _("korrigiert")
        REPLACES = "replaces", _("ersetzt")
        REFERENCES = "references", _("verweist auf")
        ATTACHMENT_TO = "attachment_to", _("Anhang zu")
        DELIVERY_FOR = "delivery_for", _("Lieferung zu")
        ORDER_FOR = "order_for", _("Bestellung zu")
        CREDIT_NOTE_FOR = "credit_note_for", _("Gutschrift zu")
        REMINDER_FOR = "reminder_for", _("Mahnung zu")
        DUPLICATE_OF = "duplicate_of", _("Duplikat von")

    source = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="relations_from")
    target = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="relations_to")
    relation_type = models.CharField(max_length=30, choices=RelationType.choices)
    confidence = models.FloatField(null=True, blank=True)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        verbose_name = _("Dokumentbeziehung")
        verbose_name_plural = _("Dokumentbeziehungen")
        constraints = [
            models.CheckConstraint(condition=~Q(source=models.F("target")), name="relation_not_self"),
            models.UniqueConstraint(fields=["source", "target", "relation_type"], name="relation_unique"),
        ]

    def __str__(self):
        return f"{self.source} {self.get_relation_type_display()} {self.target}"


class ExportRun(BaseModel):
    """One export that left the system: who, what (format, selection, period), where, and the
    SHA-256 of what was written, so that an exported file can later be proven unchanged.
    Append-only; no state transitions.
    """

    class Format(models.TextChoices):
        JSON = "json", "JSON"
        CSV = "csv", "CSV"
        XML = "xml", "XML"
        XLSX = "xlsx", "Excel (XLSX)"
        PARQUET = "parquet", "Parquet"
        ZIP = "zip", _("ZIP mit Originalen")
        DATEV = "datev", _("DATEV-Buchungsstapel mit Belegbildern")
        AUDIT = "audit", _("Datenüberlassung für die Außenprüfung (GDPdU)")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    format = models.CharField(_("Format"), max_length=10, choices=Format.choices)
    selection = models.JSONField(_("Auswahl"), default=dict, blank=True)
    document_count = models.PositiveIntegerField(_("Belege"), default=0)
    storage_key = models.CharField(max_length=500, blank=True)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField(default=0)
    scheduled = models.BooleanField(_("geplant"), default=False)

    class Meta:
        verbose_name = _("Export")
        verbose_name_plural = _("Exporte")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_format_display()} {self.created_at:%Y-%m-%d %H:%M}"


class DocumentNote(BaseModel):
    """A free-text remark someone left on a document ("Skonto mit Lieferant geklärt").

    Append-only like a comment thread: notes are never edited; their author or an admin may
    delete one (the deletion is audited).
    """

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField(_("Notiz"))

    class Meta:
        verbose_name = _("Notiz")
        verbose_name_plural = _("Notizen")
        ordering = ["created_at"]
        constraints = [models.CheckConstraint(condition=~Q(text=""), name="note_text_not_empty")]

    def __str__(self):
        return self.text[:50]


class SavedView(BaseModel):
    """A user's named inbox filter ("Offene Telekom-Rechnungen"); ``query`` is the filter querystring.

    Only its owner sees or uses it; the querystring is re-validated by the filter form on use.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField(_("Name"), max_length=100)
    query = models.CharField(max_length=2000, blank=True)

    class Meta:
        verbose_name = _("Gespeicherte Ansicht")
        verbose_name_plural = _("Gespeicherte Ansichten")
        ordering = ["user", "name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="saved_view_unique_name_per_user"),
            models.CheckConstraint(condition=~Q(name=""), name="saved_view_name_not_empty"),
        ]

    def __str__(self):
        return self.name


class DocumentFingerprint(BaseModel):
    """The owner's original for a SHA-256: what duplicate detection at ingest compares against.

    A row of its own, written only by ``documents.ingest``, so that the unique constraint
    decides a race between two uploads of the same bytes (the loser is judged a duplicate).
    When the original is soft-deleted, the next upload of the same bytes takes the row over.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    sha256 = models.CharField(max_length=64)
    document = models.OneToOneField(Document, on_delete=models.CASCADE, related_name="fingerprint")

    class Meta:
        verbose_name = _("Prüfsumme")
        verbose_name_plural = _("Prüfsummen")
        constraints = [
            models.UniqueConstraint(fields=["owner", "sha256"], name="fingerprint_one_original_per_owner"),
        ]

    def __str__(self):
        return self.sha256


class MailAccount(BaseModel):
    """An IMAP mailbox whose mail attachments become documents of ``owner``.

    Polled by ``documents.tasks.poll_mail_accounts`` (beat); each mail is taken at most once,
    recorded as a ``MailMessage`` under the mailbox's UIDVALIDITY. ``intake`` says whether only
    the attachments become documents, or the whole mail (its text rendered as a document, its
    attachments as documents related to it). The password is encrypted at rest
    (``system.crypto.EncryptedTextField``) and never shown again.
    """

    class Security(models.TextChoices):
        SSL = "ssl", _("SSL/TLS (IMAPS)")
        STARTTLS = "starttls", _("STARTTLS")
        NONE = "none", _("Unverschlüsselt")

    class Intake(models.TextChoices):
        ATTACHMENTS = "attachments", _("Nur die Anhänge")
        WHOLE_MAIL = "mail", _("Die ganze Mail (Text als Dokument, Anhänge als zugehörige Dokumente)")

    class ProcessedAction(models.TextChoices):
        MARK_SEEN = "seen", _("Als gelesen markieren")
        MOVE = "move", _("In Ordner verschieben")

    name = models.CharField(_("Name"), max_length=100)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="mail_accounts")
    host = models.CharField(_("Server"), max_length=255)
    port = models.PositiveIntegerField(_("Port"), default=993)
    security = models.CharField(_("Verschlüsselung"), max_length=10, choices=Security.choices, default=Security.SSL)
    tls_ca_certificate = models.TextField(
        _("Eigene Zertifizierungsstelle (PEM)"),
        blank=True,
        help_text=_(
            "Nur wenn das Serverzertifikat von einer eigenen Zertifizierungsstelle stammt: deren Zertifikat "
            "(PEM). Dann wird nur dieser vertraut. Leer: die Zertifizierungsstellen des Systems."
        ),
    )
    username = models.CharField(_("Benutzername"), max_length=255)
    imap_password = EncryptedTextField(_("Kennwort"), editable=False)
    folder = models.CharField(_("Ordner"), max_length=255, default="INBOX")
    sender_filter = models.CharField(
        _("Absender enthält"), max_length=255, blank=True, help_text=_("Leer: Mails aller Absender.")
    )
    subject_filter = models.CharField(
        _("Betreff enthält"), max_length=255, blank=True, help_text=_("Leer: Mails mit jedem Betreff.")
    )
    intake = models.CharField(_("Übernehmen"), max_length=12, choices=Intake.choices, default=Intake.ATTACHMENTS)
    processed_action = models.CharField(
        _("Nach dem Abruf"), max_length=10, choices=ProcessedAction.choices, default=ProcessedAction.MARK_SEEN
    )
    processed_folder = models.CharField(_("Zielordner"), max_length=255, blank=True)
    active = models.BooleanField(_("aktiv"), default=True)
    last_polled_at = models.DateTimeField(_("Letzter Abruf"), null=True, blank=True)
    last_error = models.TextField(_("Letzter Fehler"), blank=True)

    class Meta:
        verbose_name = _("E-Mail-Postfach")
        verbose_name_plural = _("E-Mail-Postfächer")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(port__gte=1, port__lte=65535), name="mail_account_port_range"),
            models.CheckConstraint(
                condition=~Q(processed_action="move") | ~Q(processed_folder=""),
                name="mail_account_move_needs_folder",
            ),
        ]

    def __str__(self):
        return self.name


class MailMessage(BaseModel):
    """One mail taken from a mailbox: the record that keeps it from being taken twice.

    IMAP UIDs are unique only within one UIDVALIDITY of a folder, hence the key
    (account, folder, uid_validity, uid). Written in the same transaction as its documents.
    """

    account = models.ForeignKey(MailAccount, on_delete=models.CASCADE, related_name="messages")
    folder = models.CharField(max_length=255)
    uid_validity = models.BigIntegerField()
    uid = models.BigIntegerField()
    message_id = models.CharField(max_length=998, blank=True)
    sender = models.CharField(max_length=998, blank=True)
    subject = models.CharField(max_length=998, blank=True)
    # Per attachment: {"filename", "document" (id) | "error" (message)}; empty when the mail had none.
    results = models.JSONField(default=list, blank=True)
    documents = models.ManyToManyField(Document, blank=True, related_name="mail_messages")

    class Meta:
        verbose_name = _("Abgerufene E-Mail")
        verbose_name_plural = _("Abgerufene E-Mails")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["account", "folder", "uid_validity", "uid"], name="mail_message_once"),
        ]

    def __str__(self):
        return f"{self.sender}: {self.subject}"


class ResultCacheEntry(BaseModel):
    """The reading of one content (SHA-256) by one pipeline version: OCR words, page images, archive,
    built-in extraction. The same bytes uploaded again — by another team, or after the first
    document was deleted — reuse it instead of running OCR again; each upload still gets its own
    document, supplier rules, duplicate check and decision (``documents.result_cache``).

    ``version`` names everything the reading depends on (pipeline version, OCR engine and
    model versions, the OCR options); a change of any of them is a different key, so an upgrade
    recomputes. Files live under ``result-cache/<key>/`` in the document storage. No state transitions.
    """

    key = models.CharField(max_length=64, unique=True)
    sha256 = models.CharField(max_length=64)
    version = models.TextField()
    pages = models.JSONField(default=list)
    extraction = models.JSONField(default=dict)
    summary = models.JSONField(default=dict)
    archive_key = models.CharField(max_length=500, blank=True)
    hits = models.PositiveIntegerField(default=0)
    last_hit_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("Ergebnis-Cache-Eintrag")
        verbose_name_plural = _("Ergebnis-Cache")

    def __str__(self):
        return f"{self.sha256[:12]} ({self.version[:40]})"
