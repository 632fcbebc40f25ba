from django.core.exceptions import TooManyFilesSent
from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import ListAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from ablage.errors import ApplicationError
from documents import review, services
from documents.api.serializers import (
    BatchOutputSerializer,
    BatchRefusalOutputSerializer,
    DocumentBatchInputSerializer,
    DocumentDetailOutputSerializer,
    DocumentOutputSerializer,
    DocumentUploadInputSerializer,
    ErrorResponseSerializer,
    FieldsInputSerializer,
    RejectInputSerializer,
)
from documents.archives import is_zip, zip_entries
from documents.models import Document
from documents.selectors import document_etag, reviewable_documents, visible_documents


def _get_document_for_user(user, document_id, *, review=False) -> Document:
    document = get_object_or_404(visible_documents(user), id=document_id)
    if review and not reviewable_documents(user).filter(id=document.id).exists():
        raise PermissionDenied("Keine Berechtigung zur Prüfung dieses Dokuments.")
    return document


class DocumentListCreateApi(ListAPIView):
    serializer_class = DocumentOutputSerializer
    parser_classes = [MultiPartParser]

    def get_queryset(self):
        documents = visible_documents(self.request.user).prefetch_related("jobs", "tags")
        status_filter = self.request.query_params.get("status")
        return documents.filter(status=status_filter) if status_filter else documents

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=Document.Status.values, description="Nur Dokumente mit diesem Status.")
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=DocumentUploadInputSerializer, responses={202: DocumentOutputSerializer})
    def post(self, request):
        if not request.user.has_perm("documents.add_document"):
            raise PermissionDenied("Keine Berechtigung zum Hochladen.")
        serializer = DocumentUploadInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.intake_capacity_check(entry="api")
        services.upload_rate_check(user=request.user)
        data = serializer.validated_data
        upload = data["file"]

        def read() -> bytes:
            content = services.read_upload(upload)
            if is_zip(content):
                # Refused for what it is (not enabled, a bomb, ...) first; a good archive still
                # needs the batch endpoint: one request here answers with one document.
                zip_entries(filename=services.clean_filename(upload.name), data=content)
                raise ApplicationError(
                    f"„{services.clean_filename(upload.name)}“: ZIP-Archive bitte an /api/v1/documents/batch/ senden.",
                    code="zip_needs_batch",
                    status_code=415,
                )
            return content

        # A batch of one: the same refusals (and status codes) as ever, and the tags are
        # attached before the job is enqueued.
        [outcome] = services.document_ingest_batch(
            owner=request.user,
            files=[
                services.IngestFile(
                    filename=upload.name,
                    read=read,
                    title=data.get("title", ""),
                    document_type_hint=data["document_type"],
                    metadata=data["metadata"],
                    callback_url=data["callback_url"],
                )
            ],
            source=Document.Source.API,
            priority=data["priority"],
            tags=data["tags"],
        )
        if outcome.refusal is not None:
            raise outcome.refusal
        return Response(DocumentOutputSerializer(outcome.document).data, status=status.HTTP_202_ACCEPTED)


class DocumentBatchApi(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request=DocumentBatchInputSerializer,
        responses={202: BatchOutputSerializer, 207: BatchOutputSerializer, 400: BatchRefusalOutputSerializer},
        description="Bis zu 50 Dateien (Feld `files` wiederholt). Ein Ergebnis je Datei; eine abgelehnte "
        "Datei hält die übrigen nicht auf. 202: alle angenommen, 207: gemischt, 400: keine angenommen.",
    )
    def post(self, request):
        if not request.user.has_perm("documents.add_document"):
            raise PermissionDenied("Keine Berechtigung zum Hochladen.")
        try:
            data = request.data
        except TooManyFilesSent:
            # Django stops parsing at DATA_UPLOAD_MAX_NUMBER_FILES, before our own limit is seen.
            raise ApplicationError(
                f"Zu viele Dateien; höchstens {services.MAX_BATCH_FILES} pro Sendung.", code="too_many_files"
            ) from None
        serializer = DocumentBatchInputSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        uploads = serializer.validated_data["files"]
        services.intake_capacity_check(files=max(1, len(uploads)), entry="batch")
        services.upload_rate_check(user=request.user, files=max(1, len(uploads)))
        files = [
            services.IngestFile(filename=upload.name, read=lambda upload=upload: services.read_upload(upload))
            for upload in uploads
        ]
        if serializer.validated_data["combine"]:
            files = [_combined(uploads)]
        outcomes = services.document_ingest_batch(
            owner=request.user,
            files=files,
            source=Document.Source.API,
            priority=serializer.validated_data["priority"],
            tags=serializer.validated_data["tags"],
        )
        accepted = sum(1 for outcome in outcomes if outcome.document is not None)
        body = {
            "results": [
                {
                    "filename": outcome.filename,
                    "status": outcome.status,
                    "document": outcome.document,
                    "error": {"code": outcome.refusal.code, "message": outcome.refusal.message}
                    if outcome.refusal is not None
                    else None,
                }
                for outcome in outcomes
            ],
            "accepted": accepted,
            "rejected": len(outcomes) - accepted,
        }
        if accepted == len(outcomes):
            code = status.HTTP_202_ACCEPTED
        elif accepted:
            code = status.HTTP_207_MULTI_STATUS
        else:
            code = status.HTTP_400_BAD_REQUEST
            body["error"] = {"code": "all_files_rejected", "message": "Keine der Dateien wurde angenommen."}
        return Response(BatchOutputSerializer(body).data, status=code)


def _combined(uploads) -> services.IngestFile:
    """Scanned pages sent as separate images, as one file: refused as a whole when one page is bad."""
    pages = [(upload.name, services.read_upload(upload)) for upload in uploads]
    combined = services.images_combine(files=pages)
    stem = services.clean_filename(pages[0][0]).rsplit(".", 1)[0]
    return services.IngestFile(filename=f"{stem} ({len(pages)} Bilder).tif", read=lambda: combined)


ETAG_HEADER = OpenApiResponse(
    response=DocumentDetailOutputSerializer,
    description="Mit `ETag`-Header; beim Ändern der Felder als `If-Match` zurücksenden.",
)


class DocumentDetailApi(APIView):
    @extend_schema(responses={200: ETAG_HEADER})
    def get(self, request, document_id):
        document = _get_document_for_user(request.user, document_id)
        response = Response(DocumentDetailOutputSerializer(document).data)
        response["ETag"] = document_etag(document)
        return response


class DocumentFieldsApi(APIView):
    @extend_schema(
        request=FieldsInputSerializer,
        parameters=[
            OpenApiParameter(
                "If-Match",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="Der `ETag` aus der letzten Antwort zu diesem Dokument.",
            )
        ],
        responses={200: ETAG_HEADER, 412: ErrorResponseSerializer, 428: ErrorResponseSerializer},
        description="Korrigiert Felder. Ohne `If-Match`: 428; hat sich das Dokument seitdem geändert: 412.",
    )
    def patch(self, request, document_id):
        document = _get_document_for_user(request.user, document_id, review=True)
        serializer = FieldsInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            # Check and write under one row lock (documents.review.document_lock_unchanged): 428
            # without If-Match, 412 with the changes made since when the tag is stale.
            document = review.document_lock_unchanged(document=document, etag=request.headers.get("If-Match"))
            services.document_update_fields(
                document=document,
                user=request.user,
                values=serializer.validated_data["fields"],
                ip_address=request.META.get("REMOTE_ADDR"),
            )
        document = _get_document_for_user(request.user, document_id)
        response = Response(DocumentDetailOutputSerializer(document).data)
        response["ETag"] = document_etag(document)
        return response


class DocumentApproveApi(APIView):
    @extend_schema(
        request=None,
        parameters=[
            OpenApiParameter(
                "If-Match",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="Optional: der `ETag` der gelesenen Fassung; hat sich das Dokument seitdem geändert: 412.",
            )
        ],
        responses={200: DocumentOutputSerializer, 412: ErrorResponseSerializer},
    )
    def post(self, request, document_id):
        document = _get_document_for_user(request.user, document_id, review=True)
        with transaction.atomic():
            if request.headers.get("If-Match"):
                # Optional here: a client that sends the tag is refused (412) when it approves
                # values it has not seen.
                document = review.document_lock_unchanged(document=document, etag=request.headers["If-Match"])
            services.document_approve(document=document, user=request.user, ip_address=request.META.get("REMOTE_ADDR"))
        document.refresh_from_db()
        return Response(DocumentOutputSerializer(document).data)


class DocumentRejectApi(APIView):
    @extend_schema(request=RejectInputSerializer, responses=DocumentOutputSerializer)
    def post(self, request, document_id):
        document = _get_document_for_user(request.user, document_id, review=True)
        serializer = RejectInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.document_reject(
            document=document,
            user=request.user,
            reason=serializer.validated_data["reason"],
            ip_address=request.META.get("REMOTE_ADDR"),
        )
        document.refresh_from_db()
        return Response(DocumentOutputSerializer(document).data)
