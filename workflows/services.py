"""Writes of the workflows app: validating definitions, keeping schedules in step, and the
entry points that start runs (document events, manual, schedule, incoming webhook)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import zoneinfo
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ablage.errors import ApplicationError
from workflows import jsonlogic
from workflows.engine import start_workflow, workflows_trigger
from workflows.models import Workflow, WorkflowExecution, WorkflowStep
from workflows.steps import step_config_errors

Trigger = Workflow.Trigger

# Which workflow triggers a document event fires, in this order.
_DOCUMENT_EVENTS = {
    "uploaded": [Trigger.DOCUMENT_UPLOADED],
    "processed": [Trigger.DOCUMENT_PROCESSED, Trigger.CONFIDENCE_BELOW_THRESHOLD, Trigger.SUPPLIER_DETECTED],
    "approved": [Trigger.DOCUMENT_APPROVED],
    "rejected": [Trigger.DOCUMENT_REJECTED],
}


def workflows_document_event(*, document, event: str, user=None, dedup: str | None = None, parent=None) -> int:
    """Start the workflows a document event concerns. Call inside the transaction that
    made the change: runs are created with it and sent after commit. Returns runs started."""
    from documents.models import Document

    # Callers may hold an instance from before their own queryset updates (type, confidence).
    document = Document.all_objects.get(pk=document.pk)
    started = 0
    for trigger in _DOCUMENT_EVENTS[event]:
        started += len(
            workflows_trigger(
                event=trigger,
                document=document,
                user=user,
                data={"document_id": str(document.pk), "event": event},
                parent=parent,
                dedup=f"{document.pk}:{dedup}" if dedup else None,
            )
        )
    return started


# --- definitions -------------------------------------------------------------------------


def _cron_errors(config: dict) -> list[str]:
    from django_celery_beat.validators import crontab_validator

    errors = []
    try:
        crontab_validator(str(config.get("cron", "")))
    except Exception as error:
        errors.append(f"cron ungültig: {getattr(error, 'message', error)}")
    try:
        zoneinfo.ZoneInfo(config.get("timezone", "Europe/Berlin"))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        errors.append(f"Unbekannte Zeitzone: {config.get('timezone')}")
    return errors


def workflow_definition_errors(workflow: Workflow, steps: list[WorkflowStep]) -> dict[str, list[str]]:
    """Every problem of a workflow and its steps, keyed by where it is (``workflow``, ``step 3``)."""
    problems: dict[str, list[str]] = {}
    own = jsonlogic.rule_errors(workflow.conditions) if workflow.conditions else []
    config = workflow.trigger_config if isinstance(workflow.trigger_config, dict) else None
    if config is None:
        own.append("Auslöser-Konfiguration: erwartet wird ein JSON-Objekt.")
    elif workflow.trigger_type == Trigger.SCHEDULE:
        own += _cron_errors(config)
    elif workflow.trigger_type == Trigger.CONFIDENCE_BELOW_THRESHOLD:
        threshold = config.get("threshold", 0.8)
        if not isinstance(threshold, int | float) or not 0 < threshold <= 1:
            own.append("threshold muss eine Zahl zwischen 0 und 1 sein.")
    if own:
        problems["workflow"] = own
    orders = {step.step_order for step in steps}
    for step in steps:
        errors = step_config_errors(step.step_type, step.step_config)
        errors += jsonlogic.rule_errors(step.conditions) if step.conditions else []
        if step.step_type == WorkflowStep.StepType.CONDITIONAL and isinstance(step.step_config, dict):
            for key in ("true_step", "false_step"):
                target = step.step_config.get(key)
                if isinstance(target, int) and target and target not in orders:
                    errors.append(f"{key}: Schritt {target} gibt es nicht.")
        if errors:
            problems[f"Schritt {step.step_order}"] = errors
    return problems


def workflow_schedule_sync(*, workflow: Workflow) -> None:
    """Create, update or remove the workflow's django-celery-beat entry to match it."""
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    wanted = (
        workflow.trigger_type == Trigger.SCHEDULE
        and workflow.is_active
        and workflow.deleted_at is None
        and not _cron_errors(workflow.trigger_config or {})
    )
    task = workflow.schedule_task
    if not wanted:
        if task is not None:
            Workflow.objects.filter(pk=workflow.pk).update(schedule_task=None)
            task.delete()
            workflow.schedule_task = None
        return
    minute, hour, day_of_month, month_of_year, day_of_week = workflow.trigger_config["cron"].split()
    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
        timezone=zoneinfo.ZoneInfo(workflow.trigger_config.get("timezone", "Europe/Berlin")),
    )
    values = {
        "crontab": schedule,
        "task": "workflows.tasks.run_scheduled_workflow",
        "args": json.dumps([str(workflow.pk)]),
        "enabled": True,
        "description": f"Workflow „{workflow.name}“",
    }
    if task is None:
        task = PeriodicTask.objects.create(name=f"workflow:{workflow.pk}", **values)
        Workflow.objects.filter(pk=workflow.pk).update(schedule_task=task)
        workflow.schedule_task = task
    else:
        for name, value in values.items():
            setattr(task, name, value)
        task.save()


@transaction.atomic
def workflow_save(*, workflow: Workflow, steps: list[WorkflowStep] | None = None) -> Workflow:
    """Validate and store a workflow (and its steps when given), then sync its schedule."""
    steps = steps if steps is not None else list(workflow.steps.all()) if workflow.pk else []
    problems = workflow_definition_errors(workflow, steps)
    if problems:
        text = "; ".join(f"{where}: {' '.join(errors)}" for where, errors in problems.items())
        raise ApplicationError(f"Workflow ungültig – {text}", code="invalid_workflow", extra={"problems": problems})
    workflow.save()
    for step in steps:
        step.workflow = workflow
        step.save()
    workflow_schedule_sync(workflow=workflow)
    return workflow


# --- other ways to start a run ---------------------------------------------------------------


@transaction.atomic
def workflow_run_manual(*, workflow: Workflow, document, user) -> WorkflowExecution:
    """A person starts a workflow for a document they may see (the caller checked that)."""
    if not workflow.is_active or workflow.deleted_at is not None:
        raise ApplicationError("Dieser Workflow ist nicht aktiv.", code="workflow_inactive", status_code=409)
    if workflow.trigger_type != Trigger.MANUAL:
        raise ApplicationError(
            "Dieser Workflow wird nicht von Hand gestartet.", code="workflow_not_manual", status_code=409
        )
    return start_workflow(
        workflow,
        event=Trigger.MANUAL,
        document=document,
        user=user,
        data={"document_id": str(document.pk) if document else None},
    )


def workflow_run_scheduled(*, workflow_id) -> int:
    """One tick of a schedule: a run per matching document (``for_each``) or a single run."""
    from documents.models import Document

    workflow = Workflow.objects.filter(pk=workflow_id, is_active=True, deleted_at=None).first()
    if workflow is None or workflow.trigger_type != Trigger.SCHEDULE:
        return 0
    tick = timezone.now().strftime("%Y%m%d%H%M")
    selection = (workflow.trigger_config or {}).get("for_each")
    with transaction.atomic():
        if selection is None:
            return int(start_workflow(workflow, event=Trigger.SCHEDULE, data={"tick": tick}, dedup=tick) is not None)
        documents = Document.objects.filter(deleted_at=None)
        if selection.get("status"):
            documents = documents.filter(status=selection["status"])
        if selection.get("document_types"):
            documents = documents.filter(document_type__in=selection["document_types"])
        if selection.get("older_than_hours"):
            documents = documents.filter(
                created_at__lt=timezone.now() - timedelta(hours=float(selection["older_than_hours"]))
            )
        started = 0
        for document in documents.order_by("created_at")[: int(selection.get("limit", 500))]:
            run = start_workflow(
                workflow, event=Trigger.SCHEDULE, document=document, data={"tick": tick}, dedup=f"{tick}:{document.pk}"
            )
            started += run is not None
        return started


def workflow_webhook_token_reset(*, workflow: Workflow) -> str:
    """A new secret for the incoming webhook; shown once, stored as its SHA-256."""
    token = secrets.token_urlsafe(32)
    Workflow.objects.filter(pk=workflow.pk).update(webhook_token_hash=hashlib.sha256(token.encode()).hexdigest())
    workflow.webhook_token_hash = hashlib.sha256(token.encode()).hexdigest()
    return token


@transaction.atomic
def workflow_run_webhook(*, workflow_id, token: str, payload: dict, event_id: str | None = None) -> WorkflowExecution:
    """An authenticated incoming call starts a webhook-triggered workflow.

    ``payload["document_id"]`` may name a document the workflow's creator may see;
    ``event_id`` (the caller's delivery id) makes a resent call start nothing new.
    """
    from documents.selectors import visible_documents

    workflow = Workflow.objects.filter(pk=workflow_id, deleted_at=None, trigger_type=Trigger.WEBHOOK).first()
    digest = hashlib.sha256((token or "").encode()).hexdigest()
    # Same answer for "no such workflow" and "wrong token": nothing to probe.
    if (
        workflow is None
        or not workflow.webhook_token_hash
        or not hmac.compare_digest(digest, workflow.webhook_token_hash)
    ):
        raise ApplicationError("Unbekannter Workflow oder falsches Token.", code="not_found", status_code=404)
    if not workflow.is_active:
        raise ApplicationError("Dieser Workflow ist nicht aktiv.", code="workflow_inactive", status_code=409)
    document = None
    if payload.get("document_id"):
        document = visible_documents(workflow.created_by).filter(pk=payload["document_id"]).first()
        if document is None:
            raise ApplicationError("Dokument nicht gefunden.", code="document_not_found", status_code=404)
    execution = start_workflow(
        workflow, event=Trigger.WEBHOOK, document=document, data={"payload": payload}, dedup=event_id
    )
    if execution is None:
        execution = WorkflowExecution.objects.get(dedup_key=f"{workflow.pk}:{Trigger.WEBHOOK}:{event_id}")
    return execution


def execution_cancel(*, execution: WorkflowExecution, user) -> None:
    from monitoring.services import audit_log_record

    changed = WorkflowExecution.objects.filter(
        pk=execution.pk, status__in=[WorkflowExecution.Status.PENDING, WorkflowExecution.Status.WAITING]
    ).update(status=WorkflowExecution.Status.CANCELLED, completed_at=timezone.now(), resume_at=None)
    if changed != 1:
        raise ApplicationError(
            "Nur wartende Ausführungen können abgebrochen werden.", code="invalid_status", status_code=409
        )
    audit_log_record(actor=user, action="workflow.execution_cancelled", obj=execution)
