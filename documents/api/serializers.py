from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from documents.models import Document, DocumentPage, DocumentRelation, ExtractedField
from documents.progress import progress_text


class FieldOutputSerializer(serializers.ModelSerializer):
    learned = serializers.SerializerMethodField(
        help_text='Bei einer gelernten Lieferantenregel: {"learned_from", "corrections", "text"} („gelernt aus 3 '
        "Korrekturen“), sonst null."
    )

    class Meta:
        model = ExtractedField
        fields = [
            "name",
            "value",
            "normalized_value",
            "confidence",
            "page",
            "bbox",
            "source",
            "rule",
            "locked",
            "learned",
        ]

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_learned(self, field):
        from extraction.selectors import learned_evidence

        # One lookup per rule and response: the context is shared by all fields of the document.
        return learned_evidence(field.rule, cache=self.context.setdefault("learned_evidence", {}))


class DocumentOutputSerializer(serializers.ModelSerializer):
    owner = serializers.EmailField(source="owner.email", read_only=True)
    team = serializers.UUIDField(source="team_id", read_only=True, allow_null=True)
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    latest_job_id = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    # Empty when none was given: a plain string, not a "uri" (an empty string is no URI).
    callback_url = serializers.CharField(read_only=True)

    class Meta:
        model = Document
        fields = [
            "id",
            "title",
            "original_filename",
            "mime_type",
            "file_size",
            "sha256",
            "status",
            "status_reason",
            "source",
            "priority",
            "is_duplicate",
            "document_type_hint",
            "metadata",
            "callback_url",
            "document_type",
            "content_source",
            "ocr_backend",
            "page_count",
            "overall_confidence",
            "decision",
            "decision_reason",
            "document_number",
            "document_date",
            "total_amount",
            "currency",
            "owner",
            "team",
            "tags",
            "created_at",
            "processed_at",
            "reviewed_at",
            "latest_job_id",
            "progress",
            "complexity",
        ]

    def _latest_job(self, document):
        if not hasattr(document, "_latest_job"):
            document._latest_job = document.jobs.order_by("-created_at").first()
        return document._latest_job

    def get_latest_job_id(self, document) -> str | None:
        job = self._latest_job(document)
        return str(job.id) if job else None

    def get_progress(self, document) -> dict:
        """The latest job's progress, e.g. {"stage": "ocr", "page": 3, "pages": 12, "text": "Seite 3 von 12 · ..."}."""
        job = self._latest_job(document)
        if job is None or not job.progress:
            return {}
        return {**job.progress, "text": progress_text(job.progress)}


class DocumentDetailOutputSerializer(DocumentOutputSerializer):
    fields = FieldOutputSerializer(many=True, read_only=True)

    class Meta(DocumentOutputSerializer.Meta):
        fields = [
            *DocumentOutputSerializer.Meta.fields,
            "fields",
            "line_items",
            "validation",
            "timings_ms",
            "file_metadata",
        ]


def _tag_names(value: str) -> list[str]:
    """``"Steuer, 2026,steuer"`` -> ``["Steuer", "2026"]``: trimmed, blanks and repeats dropped."""
    names = {}
    for name in value.split(","):
        name = name.strip()
        if name and name.casefold() not in names:
            names[name.casefold()] = name
    for name in names.values():
        if len(name) > 100:
            raise serializers.ValidationError(f"Das Schlagwort „{name[:40]}…“ ist zu lang; erlaubt sind 100 Zeichen.")
    return list(names.values())


class DocumentUploadInputSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)
    title = serializers.CharField(required=False, allow_blank=True, max_length=255)
    priority = serializers.IntegerField(required=False, min_value=1, max_value=10, default=5)
    tags = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Schlagwörter, durch Kommas getrennt; fehlende werden angelegt.",
    )
    document_type = serializers.ChoiceField(
        choices=Document.DocumentType.choices,
        required=False,
        allow_blank=True,
        default="",
        help_text="Hinweis des Absenders, welcher Dokumenttyp es ist.",
    )
    metadata = serializers.JSONField(
        binary=True, required=False, default=dict, help_text="Freie Schlüssel/Werte als JSON-Objekt (höchstens 16 KB)."
    )
    callback_url = serializers.URLField(
        required=False,
        allow_blank=True,
        default="",
        max_length=2000,
        help_text="http(s)-Adresse, die nach der Verarbeitung benachrichtigt werden soll.",
    )

    def validate_tags(self, value: str) -> list[str]:
        return _tag_names(value)

    def validate_metadata(self, value) -> dict:
        if not isinstance(value, dict):
            raise serializers.ValidationError("Metadaten müssen ein JSON-Objekt sein.")
        return value

    def validate_callback_url(self, value: str) -> str:
        if value and not value.lower().startswith(("http://", "https://")):
            raise serializers.ValidationError("Nur http- und https-Adressen sind erlaubt.")
        return value


class DocumentBatchInputSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        required=False,
        default=list,
        help_text="Das Feld wiederholen, eine Datei je Eintrag (höchstens 50).",
    )
    priority = serializers.IntegerField(required=False, min_value=1, max_value=10, default=5)
    tags = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Schlagwörter für alle Dateien, durch Kommas getrennt; fehlende werden angelegt.",
    )
    combine = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Alle Bilder (PNG, JPEG, TIFF) als Seiten eines einzigen Dokuments zusammenfassen.",
    )

    def validate_tags(self, value: str) -> list[str]:
        return _tag_names(value)


class ErrorOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class ErrorResponseSerializer(serializers.Serializer):
    """Every API error: ``{"error": {"code": ..., "message": ...}}`` (ablage.errors.api_exception_handler)."""

    error = ErrorOutputSerializer()


# Inline enum: a ChoiceField named "status" would collide with Document.status's enum component.
@extend_schema_field({"type": "string", "enum": ["accepted", "duplicate", "rejected"]})
class BatchStatusField(serializers.CharField):
    pass


class BatchResultOutputSerializer(serializers.Serializer):
    filename = serializers.CharField()
    status = BatchStatusField()
    document = DocumentOutputSerializer(allow_null=True)
    error = ErrorOutputSerializer(allow_null=True)


class BatchOutputSerializer(serializers.Serializer):
    results = BatchResultOutputSerializer(many=True, help_text="Ein Ergebnis je Datei, in der gesendeten Reihenfolge.")
    accepted = serializers.IntegerField()
    rejected = serializers.IntegerField()
    error = ErrorOutputSerializer(required=False, help_text="Nur wenn keine Datei angenommen wurde.")


class BatchRefusalOutputSerializer(serializers.Serializer):
    """400 of the batch upload: either no file was accepted (with the per-file results) or the
    request itself was invalid (e.g. priority out of range; then only ``error``)."""

    error = ErrorOutputSerializer()
    results = BatchResultOutputSerializer(many=True, required=False)
    accepted = serializers.IntegerField(required=False)
    rejected = serializers.IntegerField(required=False)


class FieldsInputSerializer(serializers.Serializer):
    fields = serializers.DictField(child=serializers.CharField(allow_blank=True, max_length=500))


class RejectInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


# --- pages, tags, notes, relations, history, jobs ----------------------------------------


class PageOutputSerializer(serializers.ModelSerializer):
    image_url = serializers.SerializerMethodField(help_text="Seitenbild (JPEG) über die API.")

    class Meta:
        model = DocumentPage
        fields = [
            "page_number",
            "width_px",
            "height_px",
            "dpi",
            "text",
            "text_source",
            "ocr_backend",
            "ocr_confidence",
            "image_url",
        ]

    def get_image_url(self, page) -> str:
        return reverse("api-v1:document-page-image", args=[page.document_id, page.page_number])


class TagsInputSerializer(serializers.Serializer):
    tags = serializers.ListField(child=serializers.CharField(max_length=100, allow_blank=True), max_length=50)


class TagsOutputSerializer(serializers.Serializer):
    tags = serializers.ListField(child=serializers.CharField())


class NoteInputSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=5000)


class NoteOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    text = serializers.CharField()
    author = serializers.EmailField(source="author.email", allow_null=True, default=None)
    created_at = serializers.DateTimeField()


class RelationInputSerializer(serializers.Serializer):
    target = serializers.UUIDField(help_text="Das andere Dokument.")
    relation_type = serializers.ChoiceField(choices=DocumentRelation.RelationType.choices)
    notes = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class RelationOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    source = serializers.UUIDField(source="source_id")
    target = serializers.UUIDField(source="target_id")
    relation_type = serializers.CharField()
    notes = serializers.CharField()
    confidence = serializers.FloatField(allow_null=True)
    created_at = serializers.DateTimeField()


class HistoryEntryOutputSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField(help_text="version | audit")
    action = serializers.CharField()
    actor = serializers.EmailField(allow_null=True)
    description = serializers.CharField(allow_blank=True)
    changes = serializers.JSONField()


class JobEventOutputSerializer(serializers.Serializer):
    event_type = serializers.CharField()
    message = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()


class JobOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    document = serializers.UUIDField(source="document_id")
    status = serializers.CharField()
    queue = serializers.CharField()
    backend = serializers.CharField()
    attempts = serializers.IntegerField()
    max_attempts = serializers.IntegerField()
    current_stage = serializers.CharField()
    progress = serializers.JSONField()
    error_code = serializers.CharField()
    error_message = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class JobDetailOutputSerializer(JobOutputSerializer):
    events = JobEventOutputSerializer(many=True, source="events.all")


class ReviewClaimOutputSerializer(serializers.Serializer):
    document = DocumentOutputSerializer(allow_null=True)
    claimed_until = serializers.DateTimeField(allow_null=True)


class BulkTagsInputSerializer(serializers.Serializer):
    documents = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=500)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), min_length=1, max_length=50)


class BulkTagsOutputSerializer(serializers.Serializer):
    updated = serializers.IntegerField()
