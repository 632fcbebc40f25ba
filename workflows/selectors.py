"""Reads of the workflows app, already restricted to what the user may see."""

from django.db.models import Q, QuerySet

from documents.selectors import visible_documents
from workflows.models import Workflow, WorkflowExecution


def workflows_for_user(user) -> QuerySet[Workflow]:
    """Admins see every workflow; everyone else the active manual ones they may start."""
    alive = Workflow.objects.filter(deleted_at=None)
    if user.has_perm("workflows.change_workflow"):
        return alive
    return alive.filter(is_active=True, trigger_type=Workflow.Trigger.MANUAL)


def visible_executions(user) -> QuerySet[WorkflowExecution]:
    """Runs of documents the user can see; admins also see runs without a document."""
    executions = WorkflowExecution.objects.select_related("workflow", "document")
    documents = visible_documents(user).values("pk")
    if user.has_perm("workflows.change_workflow"):
        return executions.filter(Q(document__in=documents) | Q(document__isnull=True))
    return executions.filter(document__in=documents)
