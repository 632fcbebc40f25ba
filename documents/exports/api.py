from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from documents.exports import services
from documents.models import Document
from documents.selectors import visible_documents


class ExportInputSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["json", "csv", "xml", "xlsx", "parquet", "zip", "datev"])
    document_ids = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=5000)
    status = serializers.ChoiceField(choices=Document.Status.choices, required=False)
    document_type = serializers.ChoiceField(choices=Document.DocumentType.choices, required=False)
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)


class AuditExportInputSerializer(serializers.Serializer):
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    company = serializers.CharField(required=False, max_length=200, allow_blank=True)


def _download(export: services.ExportFile) -> HttpResponse:
    response = HttpResponse(export.data, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.name}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Export-Id"] = str(export.run.pk)
    response["X-Export-SHA256"] = export.run.sha256
    return response


class ExportApi(APIView):
    """Export documents the caller can see; the answer is the file (recorded with its SHA-256)."""

    @extend_schema(request=ExportInputSerializer, responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def post(self, request):
        serializer = ExportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        documents = services.documents_select(visible_documents(request.user), filters=data)
        selection = {
            key: str(value) if not isinstance(value, list) else [str(v) for v in value]
            for key, value in data.items()
            if key != "format"
        }
        export = services.export_create(user=request.user, documents=documents, fmt=data["format"], selection=selection)
        return _download(export)


class AuditExportApi(APIView):
    """GoBD Z3 data access for tax auditors: the auditor role (or an administrator) only."""

    @extend_schema(request=AuditExportInputSerializer, responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def post(self, request):
        if not (request.user.is_superuser or request.user.has_perm("monitoring.view_auditlog")):
            raise PermissionDenied("Nur Prüfer und Administratoren erhalten die Datenüberlassung.")
        serializer = AuditExportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        export = services.audit_export_create(
            user=request.user, period=(data["date_from"], data["date_to"]), company=data.get("company", "")
        )
        return _download(export)
