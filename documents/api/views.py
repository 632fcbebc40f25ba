from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import ListAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from documents import services
from documents.api.serializers import (
    DocumentDetailOutputSerializer,
    DocumentOutputSerializer,
    DocumentUploadInputSerializer,
    FieldsInputSerializer,
    RejectInputSerializer,
)
from documents.models import Document
from documents.selectors import reviewable_documents, visible_documents


def _get_document_for_user(user, document_id, *, review=False) -> Document:
    document = get_object_or_404(visible_documents(user), id=document_id)
    if review and not reviewable_documents(user).filter(id=document.id).exists():
        raise PermissionDenied("Keine Berechtigung zur Prüfung dieses Dokuments.")
    return document


class DocumentListCreateApi(ListAPIView):
    serializer_class = DocumentOutputSerializer
    parser_classes = [MultiPartParser]

    def get_queryset(self):
        documents = visible_documents(self.request.user).prefetch_related("jobs")
        status_filter = self.request.query_params.get("status")
        return documents.filter(status=status_filter) if status_filter else documents

    @extend_schema(request=DocumentUploadInputSerializer, responses={202: DocumentOutputSerializer})
    def post(self, request):
        if not request.user.has_perm("documents.add_document"):
            raise PermissionDenied("Keine Berechtigung zum Hochladen.")
        serializer = DocumentUploadInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        document = services.document_ingest(
            owner=request.user,
            filename=upload.name,
            data=services.read_upload(upload),
            source=Document.Source.API,
            title=serializer.validated_data.get("title", ""),
            priority=serializer.validated_data["priority"],
        )
        return Response(DocumentOutputSerializer(document).data, status=status.HTTP_202_ACCEPTED)


class DocumentDetailApi(APIView):
    @extend_schema(responses=DocumentDetailOutputSerializer)
    def get(self, request, document_id):
        document = _get_document_for_user(request.user, document_id)
        return Response(DocumentDetailOutputSerializer(document).data)


class DocumentFieldsApi(APIView):
    @extend_schema(request=FieldsInputSerializer, responses=DocumentDetailOutputSerializer)
    def patch(self, request, document_id):
        document = _get_document_for_user(request.user, document_id, review=True)
        serializer = FieldsInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.document_update_fields(
            document=document,
            user=request.user,
            values=serializer.validated_data["fields"],
            ip_address=request.META.get("REMOTE_ADDR"),
        )
        document.refresh_from_db()
        return Response(DocumentDetailOutputSerializer(document).data)


class DocumentApproveApi(APIView):
    @extend_schema(request=None, responses=DocumentOutputSerializer)
    def post(self, request, document_id):
        document = _get_document_for_user(request.user, document_id, review=True)
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
