from django.urls import path

from documents.api import annotations, content, views, work

urlpatterns = [
    path("documents/", views.DocumentListCreateApi.as_view(), name="document-list"),
    path("documents/batch/", views.DocumentBatchApi.as_view(), name="document-batch"),
    path("documents/bulk/tags/", annotations.DocumentBulkTagsApi.as_view(), name="document-bulk-tags"),
    path("documents/<uuid:document_id>/", views.DocumentDetailApi.as_view(), name="document-detail"),
    path("documents/<uuid:document_id>/fields/", views.DocumentFieldsApi.as_view(), name="document-fields"),
    path("documents/<uuid:document_id>/approve/", views.DocumentApproveApi.as_view(), name="document-approve"),
    path("documents/<uuid:document_id>/reject/", views.DocumentRejectApi.as_view(), name="document-reject"),
    path("documents/<uuid:document_id>/pages/", content.DocumentPagesApi.as_view(), name="document-pages"),
    path(
        "documents/<uuid:document_id>/pages/<int:page_number>/image/",
        content.DocumentPageImageApi.as_view(),
        name="document-page-image",
    ),
    path("documents/<uuid:document_id>/original/", content.DocumentOriginalApi.as_view(), name="document-original"),
    path("documents/<uuid:document_id>/archive/", content.DocumentArchiveApi.as_view(), name="document-archive"),
    path("documents/<uuid:document_id>/thumbnail/", content.DocumentThumbnailApi.as_view(), name="document-thumbnail"),
    path("documents/<uuid:document_id>/tags/", annotations.DocumentTagsApi.as_view(), name="document-tags"),
    path("documents/<uuid:document_id>/notes/", annotations.DocumentNotesApi.as_view(), name="document-notes"),
    path(
        "documents/<uuid:document_id>/notes/<uuid:note_id>/",
        annotations.DocumentNoteDetailApi.as_view(),
        name="document-note-detail",
    ),
    path(
        "documents/<uuid:document_id>/relations/", annotations.DocumentRelationsApi.as_view(), name="document-relations"
    ),
    path(
        "documents/<uuid:document_id>/relations/<uuid:relation_id>/",
        annotations.DocumentRelationDetailApi.as_view(),
        name="document-relation-detail",
    ),
    path("documents/<uuid:document_id>/history/", annotations.DocumentHistoryApi.as_view(), name="document-history"),
    path(
        "documents/<uuid:document_id>/reprocess/", annotations.DocumentReprocessApi.as_view(), name="document-reprocess"
    ),
    path("documents/<uuid:document_id>/jobs/", work.DocumentJobsApi.as_view(), name="document-jobs"),
    path("jobs/<uuid:job_id>/", work.JobDetailApi.as_view(), name="job-detail"),
    path("jobs/<uuid:job_id>/retry/", work.JobRetryApi.as_view(), name="job-retry"),
    path("review/queue/", work.ReviewQueueApi.as_view(), name="review-queue"),
    path("review/claim-next/", work.ReviewClaimNextApi.as_view(), name="review-claim-next"),
    path("review/<uuid:document_id>/release/", work.ReviewReleaseApi.as_view(), name="review-release"),
]
