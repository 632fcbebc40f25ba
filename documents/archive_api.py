"""Archive operations over the API: trash and restore (owner or admin), legal hold and its
release (admins), the retention state of a document, and GDPR erasure requests (admins)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from documents import retention_services
from documents.models import Document
from documents.retention import deletion_refusal, retention_until
from documents.retention_services import may_administer_archive
from documents.selectors import visible_documents


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class ErasureSerializer(serializers.Serializer):
    subject = serializers.CharField(min_length=3, max_length=200)


class RetentionStateSerializer(serializers.Serializer):
    retention_until = serializers.DateField()
    legal_hold = serializers.BooleanField()
    legal_hold_reason = serializers.CharField()
    deleted = serializers.BooleanField()
    deletion_reason = serializers.CharField()
    may_be_purged = serializers.BooleanField()
    refusal = serializers.CharField(allow_null=True)


def _document(user, document_id, *, trash_included=False) -> Document:
    """Through the one access path; the trash (hidden by it) only for its owner and admins."""
    document = visible_documents(user).filter(pk=document_id).first()
    if document is None and trash_included:
        trash = Document.all_objects.exclude(deleted_at=None)
        document = (trash if may_administer_archive(user) else trash.filter(owner=user)).filter(pk=document_id).first()
    if document is None:
        return get_object_or_404(Document.objects.none(), pk=document_id)
    return document


def _state(document: Document) -> dict:
    refusal = deletion_refusal(document)
    return {
        "retention_until": retention_until(document),
        "legal_hold": document.legal_hold,
        "legal_hold_reason": document.legal_hold_reason,
        "deleted": document.deleted_at is not None,
        "deletion_reason": document.deletion_reason,
        "may_be_purged": refusal is None,
        "refusal": refusal,
    }


class RetentionApi(APIView):
    @extend_schema(responses=RetentionStateSerializer)
    def get(self, request, document_id):
        return Response(
            RetentionStateSerializer(_state(_document(request.user, document_id, trash_included=True))).data
        )


class TrashApi(APIView):
    @extend_schema(request=ReasonSerializer, responses={204: None})
    def post(self, request, document_id):
        document = _document(request.user, document_id)
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        retention_services.document_trash(
            document=document, user=request.user, reason=serializer.validated_data["reason"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class RestoreApi(APIView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request, document_id):
        document = _document(request.user, document_id, trash_included=True)
        retention_services.document_restore(document=document, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LegalHoldApi(APIView):
    @extend_schema(request=ReasonSerializer, responses={204: None})
    def post(self, request, document_id):
        if not may_administer_archive(request.user):
            raise PermissionDenied("Nur Administratoren setzen Aufbewahrungssperren.")
        document = _document(request.user, document_id, trash_included=True)
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        retention_services.legal_hold_set(
            document=document, user=request.user, reason=serializer.validated_data["reason"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=ReasonSerializer, responses={204: None})
    def delete(self, request, document_id):
        if not may_administer_archive(request.user):
            raise PermissionDenied("Nur Administratoren heben Aufbewahrungssperren auf.")
        document = _document(request.user, document_id, trash_included=True)
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        retention_services.legal_hold_release(
            document=document, user=request.user, reason=serializer.validated_data["reason"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ErasureApi(APIView):
    @extend_schema(request=ErasureSerializer, responses={200: dict})
    def post(self, request):
        serializer = ErasureSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = retention_services.erasure_request_process(
            subject=serializer.validated_data["subject"], user=request.user
        )
        return Response(outcome)
