"""Processing jobs (status, retry) and the review queue (list, claim next, release) over the API."""

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from ablage.errors import ApplicationError
from documents import annotations, review_queue, services
from documents.api.serializers import (
    DocumentOutputSerializer,
    ErrorResponseSerializer,
    JobDetailOutputSerializer,
    JobOutputSerializer,
    ReviewClaimOutputSerializer,
)
from documents.api.views import _get_document_for_user
from documents.models import JobEvent, ProcessingJob
from documents.selectors import visible_documents

NOT_FOUND = {404: ErrorResponseSerializer}
REVIEW_QUEUE_LIMIT = 200


def _get_job_for_user(user, job_id) -> ProcessingJob:
    jobs = ProcessingJob.objects.filter(document__in=visible_documents(user)).select_related("document")
    return get_object_or_404(
        jobs.prefetch_related(Prefetch("events", queryset=JobEvent.objects.order_by("created_at"))), id=job_id
    )


def _require_reviewer(user) -> None:
    if not (user.is_superuser or user.has_perm("documents.review_document")):
        raise ApplicationError("Keine Berechtigung zur Prüfung.", code="permission_denied", status_code=403)


class DocumentJobsApi(APIView):
    @extend_schema(responses={200: JobOutputSerializer(many=True), **NOT_FOUND})
    def get(self, request, document_id):
        document = _get_document_for_user(request.user, document_id)
        return Response(JobOutputSerializer(document.jobs.order_by("-created_at"), many=True).data)


class JobDetailApi(APIView):
    @extend_schema(responses={200: JobDetailOutputSerializer, **NOT_FOUND})
    def get(self, request, job_id):
        return Response(JobDetailOutputSerializer(_get_job_for_user(request.user, job_id)).data)


class JobRetryApi(APIView):
    @extend_schema(
        request=None,
        responses={
            202: JobOutputSerializer,
            403: ErrorResponseSerializer,
            409: ErrorResponseSerializer,
            **NOT_FOUND,
        },
        description="Wiederholt den letzten, fehlgeschlagenen Auftrag eines Dokuments als neuen Auftrag.",
    )
    def post(self, request, job_id):
        job = _get_job_for_user(request.user, job_id)
        if not annotations.may_change_document(request.user, job.document):
            raise ApplicationError(
                "Sie dürfen dieses Dokument nicht ändern.", code="permission_denied", status_code=403
            )
        new_job = services.job_retry(job=job, user=request.user, ip_address=request.META.get("REMOTE_ADDR"))
        return Response(JobOutputSerializer(new_job).data, status=status.HTTP_202_ACCEPTED)


class ReviewQueueApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("limit", int, description=f"Höchstens so viele (1–{REVIEW_QUEUE_LIMIT}).")],
        responses={200: DocumentOutputSerializer(many=True), 403: ErrorResponseSerializer},
        description="Dokumente in Prüfung, die Sie entscheiden dürfen, dringendste zuerst.",
    )
    def get(self, request):
        _require_reviewer(request.user)
        try:
            limit = min(max(int(request.query_params.get("limit", 50)), 1), REVIEW_QUEUE_LIMIT)
        except ValueError:
            raise ApplicationError("limit muss eine Zahl sein.", code="invalid_limit") from None
        documents = review_queue.review_queue(request.user).prefetch_related("jobs", "tags")[:limit]
        return Response(DocumentOutputSerializer(documents, many=True).data)


class ReviewClaimNextApi(APIView):
    @extend_schema(
        request=None,
        responses={200: ReviewClaimOutputSerializer, 403: ErrorResponseSerializer},
        description="Übernimmt das dringendste freie Dokument (oder verlängert die laufende Übernahme); "
        "`document` ist null, wenn nichts zu prüfen ist.",
    )
    def post(self, request):
        _require_reviewer(request.user)
        document = review_queue.review_claim_next(user=request.user)
        return Response(
            ReviewClaimOutputSerializer(
                {"document": document, "claimed_until": document.claimed_until if document else None}
            ).data
        )


class ReviewReleaseApi(APIView):
    @extend_schema(
        request=None,
        responses={204: None, 403: ErrorResponseSerializer, 409: ErrorResponseSerializer, **NOT_FOUND},
    )
    def post(self, request, document_id):
        _require_reviewer(request.user)
        document = _get_document_for_user(request.user, document_id)
        review_queue.review_release(document=document, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
