from rest_framework import serializers

from documents.models import Document, ExtractedField


class FieldOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExtractedField
        fields = ["name", "value", "normalized_value", "confidence", "page", "bbox", "source", "rule", "locked"]


class DocumentOutputSerializer(serializers.ModelSerializer):
    owner = serializers.EmailField(source="owner.email", read_only=True)
    latest_job_id = serializers.SerializerMethodField()

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
            "document_type",
            "content_source",
            "ocr_backend",
            "page_count",
            "overall_confidence",
            "decision",
            "document_number",
            "document_date",
            "total_amount",
            "currency",
            "owner",
            "created_at",
            "processed_at",
            "reviewed_at",
            "latest_job_id",
        ]

    def get_latest_job_id(self, document) -> str | None:
        job = document.jobs.order_by("-created_at").first()
        return str(job.id) if job else None


class DocumentDetailOutputSerializer(DocumentOutputSerializer):
    fields = FieldOutputSerializer(many=True, read_only=True)

    class Meta(DocumentOutputSerializer.Meta):
        fields = [*DocumentOutputSerializer.Meta.fields, "fields", "line_items", "validation", "timings_ms"]


class DocumentUploadInputSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)
    title = serializers.CharField(required=False, allow_blank=True, max_length=255)
    priority = serializers.IntegerField(required=False, min_value=1, max_value=10, default=5)


class FieldsInputSerializer(serializers.Serializer):
    fields = serializers.DictField(child=serializers.CharField(allow_blank=True, max_length=500))


class RejectInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)
