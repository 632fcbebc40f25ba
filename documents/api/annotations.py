"""Tags, notes, relations, history and reprocessing of one document over the API."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from ablage.errors import ApplicationError
from documents import annotations, services
from documents.api.serializers import (
    BulkTagsInputSerializer,
    BulkTagsOutputSerializer,
    ErrorResponseSerializer,
    HistoryEntryOutputSerializer,
    JobOutputSerializer,
    NoteInputSerializer,
    NoteOutputSerializer,
    RelationInputSerializer,
    RelationOutputSerializer,
    TagsInputSerializer,
    TagsOutputSerializer,
)
from documents.api.views import _get_document_for_user
from documents.models import DocumentNote

REFUSALS = {400: ErrorResponseSerializer, 403: ErrorResponseSerializer, 404: ErrorResponseSerializer}


def _tag_names(document) -> dict:
    return {"tags": sorted(document.tags.values_list("name", flat=True), key=str.casefold)}


class DocumentTagsApi(APIView):
    @extend_schema(responses={200: TagsOutputSerializer, 404: ErrorResponseSerializer})
    def get(self, request, document_id):
        return Response(_tag_names(_get_document_for_user(request.user, document_id)))

    @extend_schema(
        request=TagsInputSerializer,
        responses={200: TagsOutputSerializer, **REFUSALS},
        description="Ersetzt die Schlagwörter; fehlende werden angelegt.",
    )
    def put(self, request, document_id):
        document = _get_document_for_user(request.user, document_id)
        serializer = TagsInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        annotations.document_tags_set(document=document, user=request.user, names=serializer.validated_data["tags"])
        return Response(_tag_names(document))


class DocumentNotesApi(APIView):
    @extend_schema(responses={200: NoteOutputSerializer(many=True), 404: ErrorResponseSerializer})
    def get(self, request, document_id):
        document = _get_document_for_user(request.user, document_id)
        return Response(NoteOutputSerializer(document.notes.select_related("author"), many=True).data)

    @extend_schema(request=NoteInputSerializer, responses={201: NoteOutputSerializer, **REFUSALS})
    def post(self, request, document_id):
        document = _get_document_for_user(request.user, document_id)
        serializer = NoteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        note = annotations.document_note_add(
            document=document, user=request.user, text=serializer.validated_data["text"]
        )
        return Response(NoteOutputSerializer(note).data, status=status.HTTP_201_CREATED)


class DocumentNoteDetailApi(APIView):
    @extend_schema(responses={204: None, 403: ErrorResponseSerializer, 404: ErrorResponseSerializer})
    def delete(self, request, document_id, note_id):
        document = _get_document_for_user(request.user, document_id)
        note = get_object_or_404(DocumentNote.objects.select_related("document"), document=document, id=note_id)
        annotations.document_note_delete(note=note, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DocumentRelationsApi(APIView):
    @extend_schema(responses={200: RelationOutputSerializer(many=True), 404: ErrorResponseSerializer})
    def get(self, request, document_id):
        document = _get_document_for_user(request.user, document_id)
        relations = annotations.document_relations(user=request.user, document=document)
        return Response(RelationOutputSerializer(relations, many=True).data)

    @extend_schema(
        request=RelationInputSerializer,
        responses={201: RelationOutputSerializer, **REFUSALS, 409: ErrorResponseSerializer},
    )
    def post(self, request, document_id):
        document = _get_document_for_user(request.user, document_id)
        serializer = RelationInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # The other side must be visible too: an id of someone else's document is a 404.
        target = _get_document_for_user(request.user, serializer.validated_data["target"])
        relation = annotations.document_relation_add(
            source=document,
            target=target,
            user=request.user,
            relation_type=serializer.validated_data["relation_type"],
            notes=serializer.validated_data["notes"],
        )
        return Response(RelationOutputSerializer(relation).data, status=status.HTTP_201_CREATED)


class DocumentRelationDetailApi(APIView):
    @extend_schema(responses={204: None, 403: ErrorResponseSerializer, 404: ErrorResponseSerializer})
    def delete(self, request, document_id, relation_id):
        document = _get_document_for_user(request.user, document_id)
        relation = get_object_or_404(
            annotations.document_relations(user=request.user, document=document), id=relation_id
        )
        annotations.document_relation_delete(relation=relation, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DocumentHistoryApi(APIView):
    @extend_schema(responses={200: HistoryEntryOutputSerializer(many=True), 404: ErrorResponseSerializer})
    def get(self, request, document_id):
        document = _get_document_for_user(request.user, document_id)
        return Response(HistoryEntryOutputSerializer(annotations.document_history(document=document), many=True).data)


class DocumentReprocessApi(APIView):
    @extend_schema(
        request=None,
        responses={202: JobOutputSerializer, **REFUSALS, 409: ErrorResponseSerializer},
        description="Verarbeitet ein abgebrochenes oder abgelehntes Dokument neu (neuer Auftrag).",
    )
    def post(self, request, document_id):
        document = _get_document_for_user(request.user, document_id)
        if not annotations.may_change_document(request.user, document):
            raise ApplicationError(
                "Sie dürfen dieses Dokument nicht ändern.", code="permission_denied", status_code=403
            )
        job = services.document_reprocess(
            document=document, user=request.user, ip_address=request.META.get("REMOTE_ADDR")
        )
        return Response(JobOutputSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class DocumentBulkTagsApi(APIView):
    @extend_schema(
        request=BulkTagsInputSerializer,
        responses={200: BulkTagsOutputSerializer, **REFUSALS},
        description="Fügt allen genannten Dokumenten Schlagwörter hinzu – alle oder keines: ein fremdes "
        "oder nicht änderbares Dokument in der Liste lehnt die ganze Anfrage ab.",
    )
    def post(self, request):
        serializer = BulkTagsInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        updated = annotations.documents_bulk_tag(
            user=request.user,
            document_ids=serializer.validated_data["documents"],
            names=serializer.validated_data["tags"],
        )
        return Response({"updated": updated})
