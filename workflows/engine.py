"""Running workflows: which ones an event starts, and one run from its current step to the end.

A run is a ``WorkflowExecution`` row that moves through its steps; every step pass is a
``WorkflowStepExecution`` row written before the step acts, so a worker that dies mid-run
leaves a record of where it was. Runs are taken with a lease (``lease_until``): a
redelivered message takes over only when the previous holder's lease has expired, and a
step execution that already completed is never run again.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from ablage.errors import ApplicationError
from workflows import jsonlogic
from workflows.context import execution_context
from workflows.models import Workflow, WorkflowExecution, WorkflowStep, WorkflowStepExecution
from workflows.steps import STEP_TYPES, StepError, StepRun

logger = logging.getLogger(__name__)

# Loop guard: a workflow action (update_field, assign_user ...) may fire further triggers;
# a chain deeper than this, or one that reaches a workflow already in it, is not started.
MAX_DEPTH = 3
# Step passes per run (conditionals can jump back): a bound, not a plan.
MAX_STEP_PASSES = 100
LEASE = timedelta(minutes=15)

Status = WorkflowExecution.Status


class _StepTimeout(Exception):
    pass


@contextmanager
def _time_limit(seconds: int):
    """Interrupt a step after ``seconds`` where signals can (the main thread of a worker)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise _StepTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --- starting runs ---------------------------------------------------------------------


def _trigger_matches(workflow: Workflow, *, document, data: dict) -> bool:
    """``trigger_config`` narrows a trigger: document types, a confidence threshold, suppliers."""
    config = workflow.trigger_config or {}
    if document is not None and config.get("document_types") and document.document_type not in config["document_types"]:
        return False
    if workflow.trigger_type == Workflow.Trigger.CONFIDENCE_BELOW_THRESHOLD:
        confidence = document.overall_confidence if document is not None else None
        if confidence is None or confidence >= float(config.get("threshold", 0.8)):
            return False
    if workflow.trigger_type == Workflow.Trigger.SUPPLIER_DETECTED:
        if document is None or document.supplier_id is None:
            return False
        if config.get("supplier_ids") and str(document.supplier_id) not in config["supplier_ids"]:
            return False
    return True


def workflows_trigger(
    *, event: str, document=None, user=None, data: dict | None = None, parent=None, dedup: str | None = None
) -> list[WorkflowExecution]:
    """Start every active workflow listening to ``event`` whose trigger config matches.

    ``dedup`` (e.g. the job id of a processing run) makes a repeated call for the same
    occurrence start nothing new. ``parent`` is the run whose action caused the event (loop
    guard). Runs are enqueued after the surrounding transaction commits.
    """
    started = []
    for workflow in Workflow.objects.filter(trigger_type=event, is_active=True, deleted_at=None):
        try:
            matches = _trigger_matches(workflow, document=document, data=data or {})
        except (TypeError, ValueError):
            logger.warning("workflow %s: unusable trigger_config %r", workflow.pk, workflow.trigger_config)
            continue
        if matches:
            execution = start_workflow(
                workflow, event=event, document=document, user=user, data=data, parent=parent, dedup=dedup
            )
            if execution is not None:
                started.append(execution)
    return started


def start_workflow(
    workflow: Workflow, *, event: str, document=None, user=None, data=None, parent=None, dedup: str | None = None
) -> WorkflowExecution | None:
    """Create one run and send it after commit; None when the loop guard or ``dedup`` stops it."""
    depth = parent.depth + 1 if parent is not None else 0
    node = parent
    while node is not None:
        if node.workflow_id == workflow.pk:
            logger.warning("workflow loop guard: %s would start itself again", workflow.pk)
            return None
        node = node.parent
    if depth > MAX_DEPTH:
        logger.warning("workflow loop guard: %s not started (depth %s)", workflow.pk, depth)
        return None
    key = f"{workflow.pk}:{event}:{dedup}" if dedup else None
    try:
        with transaction.atomic():
            execution = WorkflowExecution.objects.create(
                workflow=workflow,
                document=document,
                trigger_event=event,
                trigger_data=data or {},
                triggered_by=user if getattr(user, "is_authenticated", False) else None,
                depth=depth,
                parent=parent,
                dedup_key=key,
            )
    except IntegrityError:
        return None  # this occurrence already started a run
    _enqueue(execution)
    return execution


def _enqueue(execution: WorkflowExecution, *, eta=None) -> None:
    from workflows.tasks import run_execution

    transaction.on_commit(lambda: run_execution.apply_async(args=[str(execution.pk)], eta=eta))


# --- one run ---------------------------------------------------------------------------


def _claim(execution_id) -> WorkflowExecution | None:
    now = timezone.now()
    runnable = (
        Q(status=Status.PENDING)
        | Q(status=Status.WAITING, resume_at__lte=now)
        | Q(status=Status.RUNNING, lease_until__lt=now)
    )
    claimed = WorkflowExecution.objects.filter(runnable, pk=execution_id).update(
        status=Status.RUNNING, lease_until=now + LEASE
    )
    if claimed != 1:
        return None
    execution = WorkflowExecution.objects.select_related("workflow", "document").get(pk=execution_id)
    if execution.started_at is None:
        WorkflowExecution.objects.filter(pk=execution_id).update(started_at=now)
        execution.started_at = now
    return execution


def _log(execution: WorkflowExecution, message: str, **data) -> None:
    entry = {"at": timezone.now().isoformat(), "message": message, **data}
    execution.execution_log = [*execution.execution_log, entry]
    WorkflowExecution.objects.filter(pk=execution.pk).update(execution_log=execution.execution_log)


def _finish(execution: WorkflowExecution, status: str, *, error: str = "") -> None:
    now = timezone.now()
    started = execution.started_at or now
    with transaction.atomic():
        updated = WorkflowExecution.objects.filter(pk=execution.pk, status=Status.RUNNING).update(
            status=status,
            completed_at=now,
            duration_ms=int((now - started).total_seconds() * 1000),
            error_message=error,
            lease_until=None,
            resume_at=None,
        )
        if updated:
            counters = {"total_executions": F("total_executions") + 1, "last_executed_at": now}
            if status == Status.COMPLETED:
                counters["successful_executions"] = F("successful_executions") + 1
            elif status == Status.FAILED:
                counters["failed_executions"] = F("failed_executions") + 1
            Workflow.objects.filter(pk=execution.workflow_id).update(**counters)
    if updated and status == Status.FAILED:
        _on_failure(execution, error)
    elif updated and status == Status.COMPLETED:
        from notifications.services import notify_workflow_completed

        notify_workflow_completed(execution=execution)


def _on_failure(execution: WorkflowExecution, error: str) -> None:
    """Tell the people responsible (notifications issue), if that part is installed."""
    try:
        from notifications.services import notify_workflow_failed
    except ImportError:
        return
    notify_workflow_failed(execution=execution, error=error)


def _park(execution: WorkflowExecution, *, next_order: int | None, resume_at) -> None:
    WorkflowExecution.objects.filter(pk=execution.pk, status=Status.RUNNING).update(
        status=Status.WAITING, next_step_order=next_order, resume_at=resume_at, lease_until=None
    )
    _enqueue(execution, eta=resume_at)


def _advance(execution: WorkflowExecution, next_order: int | None) -> None:
    execution.next_step_order = next_order
    WorkflowExecution.objects.filter(pk=execution.pk).update(
        next_step_order=next_order, lease_until=timezone.now() + LEASE
    )


def _following(steps: list[WorkflowStep], order: int) -> int | None:
    later = [step.step_order for step in steps if step.step_order > order]
    return min(later) if later else None


def execution_run(execution_id) -> str | None:
    """Run (or resume) one execution until it completes, fails, or parks. Idempotent."""
    execution = _claim(execution_id)
    if execution is None:
        return None
    workflow = execution.workflow
    steps = list(workflow.steps.order_by("step_order"))
    by_order = {step.step_order: step for step in steps}

    if execution.next_step_order is None and not execution.step_executions.exists():
        context = execution_context(execution)
        try:
            holds = jsonlogic.truthy(jsonlogic.evaluate(workflow.conditions, context)) if workflow.conditions else True
        except jsonlogic.JsonLogicError as error:
            _finish(execution, Status.FAILED, error=f"Bedingung des Workflows fehlerhaft: {error}")
            return Status.FAILED
        if not holds:
            _log(execution, "Bedingungen nicht erfüllt – übersprungen")
            _finish(execution, Status.SKIPPED)
            return Status.SKIPPED
        _advance(execution, steps[0].step_order if steps else None)

    passes = execution.step_executions.count()
    order = execution.next_step_order
    while order is not None and order in by_order:
        if passes >= MAX_STEP_PASSES:
            _finish(execution, Status.FAILED, error=f"Mehr als {MAX_STEP_PASSES} Schritte – Schleife abgebrochen.")
            return Status.FAILED
        step = by_order[order]
        outcome = _run_step(execution, step)
        passes += 1
        if outcome.kind == "fail":
            _finish(execution, Status.FAILED, error=outcome.error)
            return Status.FAILED
        if outcome.kind == "park":
            _park(execution, next_order=outcome.next_order, resume_at=outcome.resume_at)
            return Status.WAITING
        order = outcome.next_order
        _advance(execution, order)
    _finish(execution, Status.COMPLETED)
    return Status.COMPLETED


class _Outcome:
    def __init__(self, kind: str, *, next_order=None, resume_at=None, error: str = ""):
        self.kind, self.next_order, self.resume_at, self.error = kind, next_order, resume_at, error


def _current_step_execution(execution, step) -> WorkflowStepExecution:
    """The pass this run is in for ``step``: an unfinished one is resumed, else a new visit."""
    latest = execution.step_executions.filter(step_order=step.step_order).order_by("-visit").first()
    if latest is not None and latest.status in (Status.PENDING, Status.RUNNING):
        return latest
    return WorkflowStepExecution.objects.create(
        execution=execution,
        step=step,
        step_name=step.name,
        step_type=step.step_type,
        step_order=step.step_order,
        visit=(latest.visit + 1) if latest is not None else 1,
    )


def _run_step(execution: WorkflowExecution, step: WorkflowStep) -> _Outcome:
    record = _current_step_execution(execution, step)
    following = _following(list(execution.workflow.steps.all()), step.step_order)
    context = execution_context(execution)
    if step.conditions:
        try:
            holds = jsonlogic.truthy(jsonlogic.evaluate(step.conditions, context))
        except jsonlogic.JsonLogicError as error:
            return _step_failed(execution, step, record, f"Bedingung fehlerhaft: {error}", following)
        if not holds:
            WorkflowStepExecution.objects.filter(pk=record.pk).update(status=Status.SKIPPED)
            _log(execution, f"Schritt {step.step_order} übersprungen (Bedingung nicht erfüllt)")
            return _Outcome("next", next_order=following)

    handler = STEP_TYPES.get(step.step_type)
    started = timezone.now()
    WorkflowStepExecution.objects.filter(pk=record.pk).update(
        status=Status.RUNNING, started_at=started, completed_at=None, input_data={"config": step.step_config}
    )
    clock = time.monotonic()
    try:
        if handler is None:
            raise StepError(f"Schritttyp „{step.step_type}“ ist in dieser Installation nicht verfügbar.")
        run = StepRun(step=step, document=execution.document, context=context, idempotency_key=str(record.pk))
        with _time_limit(step.timeout_seconds):
            output = handler.run(run)
    except _StepTimeout:
        return _step_failed(
            execution, step, record, f"Zeitlimit von {step.timeout_seconds} s überschritten.", following
        )
    except (StepError, ApplicationError) as error:
        return _step_failed(execution, step, record, str(getattr(error, "message", error)), following)
    except Exception as error:
        logger.exception("workflow step %s failed", step.pk)
        return _step_failed(execution, step, record, f"Interner Fehler: {error.__class__.__name__}: {error}", following)

    finished = timezone.now()
    WorkflowStepExecution.objects.filter(pk=record.pk).update(
        status=Status.COMPLETED,
        completed_at=finished,
        duration_ms=int((time.monotonic() - clock) * 1000),
        output_data=output,
        error_message="",
    )
    _log(execution, f"Schritt {step.step_order} „{step.name}“ abgeschlossen")
    if step.step_type == WorkflowStep.StepType.CONDITIONAL:
        target = output.get("next_step")
        return _Outcome("next", next_order=None if target == 0 else (target or following))
    if step.step_type == WorkflowStep.StepType.WAIT:
        return _Outcome("park", next_order=following, resume_at=datetime.fromisoformat(output["resume_at"]))
    return _Outcome("next", next_order=following)


def _step_failed(execution, step, record, message: str, following) -> _Outcome:
    now = timezone.now()
    retry = step.on_error == WorkflowStep.OnError.RETRY and record.retry_count < step.max_retries
    if retry:
        WorkflowStepExecution.objects.filter(pk=record.pk).update(
            status=Status.PENDING, retry_count=F("retry_count") + 1, error_message=message
        )
        _log(execution, f"Schritt {step.step_order} fehlgeschlagen, neuer Versuch folgt: {message}")
        return _Outcome("park", next_order=step.step_order, resume_at=now + timedelta(seconds=step.retry_delay_seconds))
    WorkflowStepExecution.objects.filter(pk=record.pk).update(
        status=Status.FAILED, completed_at=now, error_message=message
    )
    _log(execution, f"Schritt {step.step_order} „{step.name}“ fehlgeschlagen: {message}")
    if step.on_error == WorkflowStep.OnError.CONTINUE:
        return _Outcome("next", next_order=following)
    return _Outcome("fail", error=f"Schritt {step.step_order} „{step.name}“: {message}")


# --- dry run ---------------------------------------------------------------------------


def workflow_dry_run(*, workflow: Workflow, document) -> list[dict]:
    """What each step would do for ``document``, without writing anything."""
    execution = WorkflowExecution(workflow=workflow, document=document, trigger_event="manual")
    context = execution_context(execution)
    report = []
    try:
        holds = jsonlogic.truthy(jsonlogic.evaluate(workflow.conditions, context)) if workflow.conditions else True
    except jsonlogic.JsonLogicError as error:
        return [{"step": 0, "name": "Bedingungen", "result": "error", "detail": str(error)}]
    report.append({"step": 0, "name": "Bedingungen", "result": "ok" if holds else "skipped", "detail": ""})
    steps = list(workflow.steps.order_by("step_order"))
    by_order = {step.step_order: step for step in steps}
    order = steps[0].step_order if steps and holds else None
    passes = 0
    while order is not None and order in by_order and passes < MAX_STEP_PASSES:
        passes += 1
        step = by_order[order]
        following = _following(steps, order)
        entry = {"step": order, "name": step.name, "type": step.step_type}
        if step.conditions and not jsonlogic.truthy(jsonlogic.evaluate(step.conditions, context)):
            report.append({**entry, "result": "skipped", "detail": "Bedingung nicht erfüllt"})
            order = following
            continue
        handler = STEP_TYPES.get(step.step_type)
        try:
            if handler is None:
                raise StepError(f"Schritttyp „{step.step_type}“ ist in dieser Installation nicht verfügbar.")
            output = handler.run(
                StepRun(step=step, document=document, context=context, idempotency_key="dry-run", dry_run=True)
            )
        except (StepError, ApplicationError) as error:
            report.append({**entry, "result": "error", "detail": str(getattr(error, "message", error))})
            if step.on_error != WorkflowStep.OnError.CONTINUE:
                break
            order = following
            continue
        report.append({**entry, "result": "ok", "detail": output})
        context["steps"][str(order)] = output
        if step.step_type == WorkflowStep.StepType.CONDITIONAL:
            target = output.get("next_step")
            order = None if target == 0 else (target or following)
        else:
            order = following
    return report


# --- recovery --------------------------------------------------------------------------


def executions_resume_due(*, now=None) -> int:
    """Re-send runs that are due: waiting past ``resume_at``, running with an expired lease
    (worker died), pending for a while (message lost). Claiming stays with ``_claim``."""
    now = now or timezone.now()
    due = WorkflowExecution.objects.filter(
        Q(status=Status.WAITING, resume_at__lte=now)
        | Q(status=Status.RUNNING, lease_until__lt=now)
        | Q(status=Status.PENDING, created_at__lt=now - timedelta(minutes=2))
    ).values_list("pk", flat=True)[:500]
    from workflows.tasks import run_execution

    count = 0
    for execution_id in due:
        run_execution.delay(str(execution_id))
        count += 1
    return count
