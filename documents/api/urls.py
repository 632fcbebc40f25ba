from django.urls import path

from documents.api import views

urlpatterns = [
    path("documents/", views.DocumentListCreateApi.as_view(), name="document-list"),
    path("documents/batch/", views.DocumentBatchApi.as_view(), name="document-batch"),
    path("documents/<uuid:document_id>/", views.DocumentDetailApi.as_view(), name="document-detail"),
    path("documents/<uuid:document_id>/fields/", views.DocumentFieldsApi.as_view(), name="document-fields"),
    path("documents/<uuid:document_id>/approve/", views.DocumentApproveApi.as_view(), name="document-approve"),
    path("documents/<uuid:document_id>/reject/", views.DocumentRejectApi.as_view(), name="document-reject"),
]
