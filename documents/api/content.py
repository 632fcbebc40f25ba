"""Pages and files of a document over the API: page list, original, archive PDF, thumbnail, page images.

Files stream from storage; every lookup goes through ``visible_documents`` (404 otherwise).
"""

import mimetypes

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from documents import services
from documents.api.serializers import ErrorResponseSerializer, PageOutputSerializer
from documents.api.views import _get_document_for_user

ORIGINAL_TYPES = ("application/pdf", "image/png", "image/jpeg", "image/tiff", "application/xml")
NOT_FOUND = {404: ErrorResponseSerializer}


def _binary(*media_types):
    return {**{(200, media_type): OpenApiTypes.BINARY for media_type in media_types}, **NOT_FOUND}


def _stream(key: str, *, filename: str | None = None, content_type: str | None = None) -> FileResponse:
    if not key or not default_storage.exists(key):
        raise Http404
    response = FileResponse(
        default_storage.open(key, "rb"),
        as_attachment=filename is not None,
        filename=filename,
        content_type=content_type or mimetypes.guess_type(key)[0] or "application/octet-stream",
    )
    response["Cache-Control"] = "private, max-age=3600"
    return response


class DocumentPagesApi(APIView):
    @extend_schema(responses={200: PageOutputSerializer(many=True), **NOT_FOUND})
    def get(self, request, document_id):
        document = _get_document_for_user(request.user, document_id)
        return Response(PageOutputSerializer(document.pages.order_by("page_number"), many=True).data)


class DocumentPageImageApi(APIView):
    @extend_schema(responses=_binary("image/jpeg"))
    def get(self, request, document_id, page_number):
        document = _get_document_for_user(request.user, document_id)
        page = get_object_or_404(document.pages, page_number=page_number)
        return _stream(page.image_key, content_type="image/jpeg")


class DocumentOriginalApi(APIView):
    @extend_schema(responses=_binary(*ORIGINAL_TYPES), description="Die hochgeladene Datei, unverändert.")
    def get(self, request, document_id):
        document = _get_document_for_user(request.user, document_id)
        return _stream(document.storage_key, filename=document.original_filename, content_type=document.mime_type)


class DocumentArchiveApi(APIView):
    @extend_schema(
        responses=_binary(*ORIGINAL_TYPES),
        description="Die durchsuchbare Archivfassung (PDF); bei digital erzeugten PDFs das Original.",
    )
    def get(self, request, document_id):
        document = _get_document_for_user(request.user, document_id)
        if not document.archive_key:
            return _stream(document.storage_key, filename=document.original_filename, content_type=document.mime_type)
        stem = document.original_filename.rsplit(".", 1)[0]
        return _stream(document.archive_key, filename=f"{stem} (durchsuchbar).pdf", content_type="application/pdf")


class DocumentThumbnailApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("w", str, enum=list(services.THUMBNAIL_SIZES), description="Breite in Pixeln.")],
        responses=_binary("image/jpeg"),
        description="Vorschaubild der ersten Seite; 404 solange keines erzeugt ist.",
    )
    def get(self, request, document_id):
        document = _get_document_for_user(request.user, document_id)
        width = request.query_params.get("w", "400")
        if width not in services.THUMBNAIL_SIZES:
            width = "400"
        return _stream(document.thumbnails.get(width, ""), content_type="image/jpeg")
