"""Workflows over the API: admins define and test them, clerks start manual ones and see runs
of documents they can see; an incoming webhook starts webhook-triggered ones."""

import uuid

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from documents.annotations import may_change_document
from documents.selectors import visible_documents
from workflows import engine, services
from workflows.api.serializers import (
    DocumentRefSerializer,
    DryRunEntrySerializer,
    ExecutionSerializer,
    WorkflowSerializer,
    WorkflowSummarySerializer,
)
from workflows.models import Workflow, WorkflowStep
from workflows.selectors import visible_executions, workflows_for_user


def _require_admin(user) -> None:
    if not user.has_perm("workflows.change_workflow"):
        raise PermissionDenied("Nur Administratoren verwalten Workflows.")


def _save(workflow: Workflow, data: dict) -> Workflow:
    steps_data = data.pop("steps")
    for name, value in data.items():
        setattr(workflow, name, value)
    steps = [WorkflowStep(workflow=workflow, **step) for step in steps_data]
    with transaction.atomic():
        if workflow.pk:
            workflow.steps.all().delete()
        return services.workflow_save(workflow=workflow, steps=steps)


class WorkflowListCreateApi(ListAPIView):
    def get_serializer_class(self):
        if self.request.user.has_perm("workflows.change_workflow"):
            return WorkflowSerializer
        return WorkflowSummarySerializer

    def get_queryset(self):
        return workflows_for_user(self.request.user).prefetch_related("steps")

    @extend_schema(request=WorkflowSerializer, responses={201: WorkflowSerializer})
    def post(self, request):
        _require_admin(request.user)
        serializer = WorkflowSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        workflow = _save(Workflow(created_by=request.user), dict(serializer.validated_data))
        return Response(WorkflowSerializer(workflow).data, status=status.HTTP_201_CREATED)


class WorkflowDetailApi(APIView):
    @extend_schema(responses=WorkflowSerializer)
    def get(self, request, workflow_id):
        workflow = get_object_or_404(workflows_for_user(request.user), pk=workflow_id)
        if request.user.has_perm("workflows.change_workflow"):
            return Response(WorkflowSerializer(workflow).data)
        return Response(WorkflowSummarySerializer(workflow).data)

    @extend_schema(request=WorkflowSerializer, responses=WorkflowSerializer)
    def put(self, request, workflow_id):
        workflow = get_object_or_404(workflows_for_user(request.user), pk=workflow_id)
        _require_admin(request.user)
        serializer = WorkflowSerializer(workflow, data=request.data)
        serializer.is_valid(raise_exception=True)
        workflow = _save(workflow, dict(serializer.validated_data))
        return Response(WorkflowSerializer(workflow).data)


class WorkflowRunApi(APIView):
    @extend_schema(request=DocumentRefSerializer, responses={202: ExecutionSerializer})
    def post(self, request, workflow_id):
        workflow = get_object_or_404(workflows_for_user(request.user), pk=workflow_id)
        serializer = DocumentRefSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        document = get_object_or_404(visible_documents(request.user), pk=serializer.validated_data["document_id"])
        if not may_change_document(request.user, document):
            raise PermissionDenied("Keine Berechtigung, Workflows für dieses Dokument zu starten.")
        execution = services.workflow_run_manual(workflow=workflow, document=document, user=request.user)
        return Response(ExecutionSerializer(execution).data, status=status.HTTP_202_ACCEPTED)


class WorkflowDryRunApi(APIView):
    @extend_schema(request=DocumentRefSerializer, responses=DryRunEntrySerializer(many=True))
    def post(self, request, workflow_id):
        _require_admin(request.user)
        workflow = get_object_or_404(workflows_for_user(request.user), pk=workflow_id)
        serializer = DocumentRefSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        document = get_object_or_404(visible_documents(request.user), pk=serializer.validated_data["document_id"])
        return Response(engine.workflow_dry_run(workflow=workflow, document=document))


class ExecutionListApi(ListAPIView):
    serializer_class = ExecutionSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("document", str, description="Nur Ausführungen zu diesem Dokument"),
            OpenApiParameter("workflow", str, description="Nur Ausführungen dieses Workflows"),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        executions = visible_executions(self.request.user).prefetch_related("step_executions")
        for parameter in ("document", "workflow"):
            value = self.request.query_params.get(parameter)
            if value:
                try:
                    value = uuid.UUID(value)
                except ValueError as error:
                    raise ValidationError({parameter: "Keine gültige ID."}) from error
                executions = executions.filter(**{f"{parameter}_id": value})
        return executions


class ExecutionDetailApi(APIView):
    @extend_schema(responses=ExecutionSerializer)
    def get(self, request, execution_id):
        execution = get_object_or_404(visible_executions(request.user), pk=execution_id)
        return Response(ExecutionSerializer(execution).data)


class WorkflowHookApi(APIView):
    """Incoming webhook: ``Authorization: Bearer <token>`` (the workflow's own secret)."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(request=dict, responses={202: ExecutionSerializer})
    def post(self, request, workflow_id):
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        payload = request.data if isinstance(request.data, dict) else {}
        execution = services.workflow_run_webhook(
            workflow_id=workflow_id,
            token=token,
            payload=dict(payload),
            event_id=request.headers.get("Idempotency-Key") or request.headers.get("webhook-id"),
        )
        return Response({"execution": str(execution.pk), "status": execution.status}, status=status.HTTP_202_ACCEPTED)
