"""Workflow screens: admins build and test workflows; everyone sees the runs of documents
they may see and starts manual workflows on them."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ablage.errors import ApplicationError
from documents.annotations import may_change_document
from documents.selectors import visible_documents
from workflows import engine, services
from workflows.forms import DryRunForm, WorkflowForm
from workflows.models import Workflow, WorkflowStep
from workflows.selectors import visible_executions, workflows_for_user


def _get_workflow_for_user(user, workflow_id) -> Workflow:
    return get_object_or_404(workflows_for_user(user).prefetch_related("steps"), pk=workflow_id)


def _require_admin(user) -> None:
    if not user.has_perm("workflows.change_workflow"):
        raise PermissionDenied


@login_required
def workflow_list(request):
    workflows = workflows_for_user(request.user).order_by("name")
    return render(request, "workflows/list.html", {"workflows": workflows})


@login_required
def workflow_detail(request, workflow_id):
    workflow = _get_workflow_for_user(request.user, workflow_id)
    executions = visible_executions(request.user).filter(workflow=workflow).order_by("-created_at")[:50]
    context = {"workflow": workflow, "executions": executions, "dry_run_form": DryRunForm(), "report": None}
    if "document" in request.GET and request.user.has_perm("workflows.change_workflow"):
        form = DryRunForm(request.GET)
        context["dry_run_form"] = form
        if form.is_valid():
            document = visible_documents(request.user).filter(pk=form.cleaned_data["document"]).first()
            if document is None:
                form.add_error("document", _("Dokument nicht gefunden."))
            else:
                context["report"] = engine.workflow_dry_run(workflow=workflow, document=document)
                context["dry_run_document"] = document
    return render(request, "workflows/detail.html", context)


def _form_initial(workflow: Workflow) -> dict:
    steps = [
        {
            "name": step.name,
            "step_type": step.step_type,
            "step_config": step.step_config,
            **({"conditions": step.conditions} if step.conditions else {}),
            **({"on_error": step.on_error} if step.on_error != "fail" else {}),
            **({"max_retries": step.max_retries} if step.max_retries else {}),
        }
        for step in workflow.steps.order_by("step_order")
    ]
    return {
        "name": workflow.name,
        "description": workflow.description,
        "trigger_type": workflow.trigger_type,
        "trigger_config": workflow.trigger_config,
        "conditions": workflow.conditions,
        "is_active": workflow.is_active,
        "steps": steps,
    }


@login_required
def workflow_edit(request, workflow_id=None):
    _require_admin(request.user)
    workflow = _get_workflow_for_user(request.user, workflow_id) if workflow_id else Workflow(created_by=request.user)
    form = WorkflowForm(request.POST or None, initial=_form_initial(workflow) if workflow.pk else {"is_active": True})
    problems = {}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        for name in ("name", "description", "trigger_type", "trigger_config", "conditions", "is_active"):
            setattr(workflow, name, data[name])
        steps = [
            WorkflowStep(step_order=order, **{key: value for key, value in step.items() if value is not None})
            for order, step in enumerate(data["steps"], start=1)
        ]
        try:
            with transaction.atomic():
                if workflow.pk:
                    workflow.steps.all().delete()
                services.workflow_save(workflow=workflow, steps=steps)
        except ApplicationError as refusal:
            problems = refusal.extra.get("problems", {"": [refusal.message]})
        else:
            messages.success(request, _("Workflow „%(name)s“ gespeichert.") % {"name": workflow.name})
            return redirect("workflows:detail", workflow_id=workflow.pk)
    return render(request, "workflows/edit.html", {"form": form, "workflow": workflow, "problems": problems})


@login_required
def execution_detail(request, execution_id):
    execution = get_object_or_404(visible_executions(request.user), pk=execution_id)
    steps = execution.step_executions.order_by("step_order", "visit")
    return render(request, "workflows/execution.html", {"execution": execution, "steps": steps})


@login_required
@require_POST
def workflow_start(request, workflow_id):
    """The "start workflow" button of a document."""
    workflow = _get_workflow_for_user(request.user, workflow_id)
    document = get_object_or_404(visible_documents(request.user), pk=request.POST.get("document"))
    if not may_change_document(request.user, document):
        raise PermissionDenied
    try:
        services.workflow_run_manual(workflow=workflow, document=document, user=request.user)
    except ApplicationError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, _("Workflow „%(name)s“ gestartet.") % {"name": workflow.name})
    return redirect("documents:review", document_id=document.pk)
