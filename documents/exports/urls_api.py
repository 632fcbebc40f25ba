from django.urls import path

from documents import archive_api
from documents.exports import api

urlpatterns = [
    path("exports/", api.ExportApi.as_view(), name="export"),
    path("exports/audit/", api.AuditExportApi.as_view(), name="export-audit"),
    path("documents/<uuid:document_id>/retention/", archive_api.RetentionApi.as_view(), name="document-retention"),
    path("documents/<uuid:document_id>/trash/", archive_api.TrashApi.as_view(), name="document-trash"),
    path("documents/<uuid:document_id>/restore/", archive_api.RestoreApi.as_view(), name="document-restore"),
    path("documents/<uuid:document_id>/legal-hold/", archive_api.LegalHoldApi.as_view(), name="document-legal-hold"),
    path("gdpr/erasure/", archive_api.ErasureApi.as_view(), name="gdpr-erasure"),
]
