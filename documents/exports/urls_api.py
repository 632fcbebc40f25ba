from django.urls import path

from documents.exports import api

urlpatterns = [
    path("exports/", api.ExportApi.as_view(), name="export"),
    path("exports/audit/", api.AuditExportApi.as_view(), name="export-audit"),
]
