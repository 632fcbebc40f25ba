import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from monitoring.models import AuditLog
from workflows.models import Workflow, WorkflowExecution, WorkflowStep, WorkflowStepExecution

HIGH_AMOUNT = {">": [{"var": "document.total_amount"}, 1000]}


def workflow(**extra):
    return Workflow.objects.create(
        **{"name": "Hohe Rechnungen prüfen lassen", "trigger_type": Workflow.Trigger.DOCUMENT_PROCESSED, **extra}
    )


def step(wf, **extra):
    values = {"name": "Prüfer zuweisen", "step_type": WorkflowStep.StepType.ASSIGN_USER, "step_order": 1, **extra}
    return WorkflowStep.objects.create(workflow=wf, **values)


def execution(wf, **extra):
    return WorkflowExecution.objects.create(workflow=wf, **{"trigger_event": wf.trigger_type, **extra})


def step_execution(wf, **extra):
    values = {"step_name": "Prüfer zuweisen", "step_type": WorkflowStep.StepType.ASSIGN_USER, **extra}
    return WorkflowStepExecution.objects.create(execution=execution(wf), **values)


NOW = timezone.now()
EARLIER = NOW - datetime.timedelta(seconds=5)

# Each entry writes a row that breaks exactly the named constraint (earlier rows are valid).
BAD_ROWS = {
    "workflow_name_unique_alive": lambda: (workflow(), workflow()),
    "workflow_execution_counts_non_negative": lambda: workflow(failed_executions=-1),
    "workflow_execution_counts_consistent": lambda: workflow(
        total_executions=1, successful_executions=1, failed_executions=1
    ),
    "workflow_step_order_unique_per_workflow": lambda: (lambda wf: (step(wf), step(wf, name="Zweiter")))(workflow()),
    "workflow_step_order_positive": lambda: step(workflow(), step_order=0),
    "workflow_step_on_error_valid": lambda: step(workflow(), on_error="explode"),
    "workflow_step_max_retries_non_negative": lambda: step(workflow(), max_retries=-1),
    "workflow_step_retry_has_budget": lambda: step(workflow(), on_error="retry", max_retries=0),
    "workflow_step_retry_delay_non_negative": lambda: step(workflow(), retry_delay_seconds=-5),
    "workflow_step_timeout_positive": lambda: step(workflow(), timeout_seconds=0),
    "workflow_execution_failure_has_message": lambda: execution(workflow(), status="failed"),
    "workflow_execution_duration_non_negative": lambda: execution(workflow(), duration_ms=-1),
    "workflow_execution_completed_after_start": lambda: execution(workflow(), started_at=NOW, completed_at=EARLIER),
    "workflow_step_execution_retry_count_non_negative": lambda: step_execution(workflow(), retry_count=-1),
    "workflow_step_execution_duration_non_negative": lambda: step_execution(workflow(), duration_ms=-3),
    "workflow_step_execution_failure_has_message": lambda: step_execution(workflow(), status="failed"),
    "workflow_step_execution_completed_after_start": lambda: step_execution(
        workflow(), started_at=NOW, completed_at=EARLIER
    ),
    "workflow_step_execution_unique_visit": lambda: (
        lambda run: (
            WorkflowStepExecution.objects.create(execution=run, step_name="a", step_type="wait", step_order=1),
            WorkflowStepExecution.objects.create(execution=run, step_name="b", step_type="wait", step_order=1),
        )
    )(execution(workflow())),
}


@pytest.mark.django_db
@pytest.mark.parametrize("constraint", BAD_ROWS)
def test_it_rejects_a_row_that_breaks_the_named_constraint(constraint):
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        BAD_ROWS[constraint]()


def test_it_has_a_bad_row_test_for_every_named_constraint():
    models = (Workflow, WorkflowStep, WorkflowExecution, WorkflowStepExecution)
    names = {constraint.name for model in models for constraint in model._meta.constraints}
    assert names == set(BAD_ROWS)


def test_it_offers_every_step_type_and_trigger_the_engine_will_handle():
    assert set(WorkflowStep.StepType.values) == {
        "classify_document",
        "extract_data",
        "validate_data",
        "send_notification",
        "send_email",
        "call_webhook",
        "update_field",
        "assign_user",
        "create_relation",
        "export_document",
        "conditional",
        "wait",
    }
    assert set(Workflow.Trigger.values) == {
        "manual",
        "document_uploaded",
        "document_processed",
        "confidence_below_threshold",
        "supplier_detected",
        "document_approved",
        "document_rejected",
        "schedule",
        "webhook",
    }


@pytest.mark.django_db
def test_it_frees_the_name_of_a_deleted_workflow():
    workflow(deleted_at=timezone.now())
    workflow()
    assert Workflow.all_objects.filter(name="Hohe Rechnungen prüfen lassen").count() == 2


@pytest.mark.django_db
def test_it_lets_two_workflows_number_their_steps_from_one():
    step(workflow(name="A"))
    step(workflow(name="B"))
    assert WorkflowStep.objects.filter(step_order=1, workflow__name__in=["A", "B"]).count() == 2


@pytest.mark.django_db
def test_it_keeps_the_step_run_record_when_the_step_is_removed_from_the_workflow():
    wf = workflow()
    removed = step(wf)
    run = WorkflowStepExecution.objects.create(
        execution=execution(wf), step=removed, step_name=removed.name, step_type=removed.step_type, status="completed"
    )
    removed.delete()
    run.refresh_from_db()
    assert run.step is None
    assert run.step_name == "Prüfer zuweisen"


@pytest.mark.django_db
def test_it_records_a_failed_run_with_its_reason():
    run = execution(workflow(), status="failed", error_message="Webhook antwortete 500")
    assert run.is_terminal


@pytest.mark.django_db
def test_it_refuses_conditions_that_are_not_a_jsonlogic_rule():
    candidate = Workflow(
        name="X", trigger_type="manual", conditions={"==": [1, 1], "and": []}, trigger_config={"document_types": []}
    )
    with pytest.raises(ValidationError) as excinfo:
        candidate.full_clean()
    assert "JSONLogic" in " ".join(excinfo.value.message_dict["conditions"])


@pytest.mark.django_db
def test_it_accepts_a_jsonlogic_condition_on_a_step():
    wf = workflow()
    WorkflowStep(
        workflow=wf, name="Nur hohe Beträge", step_type="wait", step_order=2, conditions=HIGH_AMOUNT
    ).full_clean()


# --- admin ---------------------------------------------------------------------------------

ADMIN_MODELS = [Workflow, WorkflowStep, WorkflowExecution, WorkflowStepExecution]


@pytest.fixture
def populated(db):
    wf = workflow(conditions=HIGH_AMOUNT)
    assign = step(wf)
    step(wf, name="Buchhaltung benachrichtigen", step_type="send_notification", step_order=2)
    run = execution(wf, status="running", started_at=NOW)
    WorkflowStepExecution.objects.create(
        execution=run, step=assign, step_name=assign.name, step_type=assign.step_type, status="completed"
    )
    return wf


@pytest.mark.django_db
@pytest.mark.parametrize("model", ADMIN_MODELS, ids=lambda m: m.__name__)
def test_it_renders_the_admin_changelist_with_rows(admin_client, populated, model):
    response = admin_client.get(reverse(f"admin:workflows_{model._meta.model_name}_changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count == model._default_manager.count() > 0


@pytest.mark.django_db
@pytest.mark.parametrize("model", [Workflow, WorkflowStep, WorkflowStepExecution], ids=lambda m: m.__name__)
def test_it_renders_the_admin_add_page(admin_client, model):
    response = admin_client.get(reverse(f"admin:workflows_{model._meta.model_name}_add"))
    assert response.status_code == 200


@pytest.mark.django_db
def test_it_shows_a_workflows_steps_in_order_on_its_admin_page(admin_client, populated):
    response = admin_client.get(reverse("admin:workflows_workflow_change", args=[populated.pk]))
    body = response.content.decode()
    assert body.index("Prüfer zuweisen") < body.index("Buchhaltung benachrichtigen")


@pytest.mark.django_db
def test_it_shows_the_step_runs_on_an_executions_admin_page(admin_client, populated):
    run = populated.executions.get()
    response = admin_client.get(reverse("admin:workflows_workflowexecution_change", args=[run.pk]))
    assert response.status_code == 200
    assert "Prüfer zuweisen" in response.content.decode()


@pytest.mark.django_db
def test_it_refuses_a_duplicate_step_order_in_the_admin_form(admin_client, populated):
    wf = populated
    steps = list(wf.steps.order_by("step_order"))
    data = {
        "name": wf.name,
        "trigger_type": wf.trigger_type,
        "trigger_config": "{}",
        "conditions": '{">": [{"var": "document.total_amount"}, 1000]}',
        "is_active": "on",
        "steps-TOTAL_FORMS": "2",
        "steps-INITIAL_FORMS": "2",
    }
    for i, s in enumerate(steps):
        data.update(
            {
                f"steps-{i}-id": s.pk,
                f"steps-{i}-workflow": wf.pk,
                f"steps-{i}-step_order": "1",  # both steps claim position 1
                f"steps-{i}-name": s.name,
                # Valid configurations, so that only the duplicate position is wrong.
                f"steps-{i}-step_type": "update_field",
                f"steps-{i}-step_config": '{"field": "priority", "value": "5"}',
                f"steps-{i}-conditions": "null",
                f"steps-{i}-on_error": s.on_error,
                f"steps-{i}-max_retries": "0",
                f"steps-{i}-retry_delay_seconds": "60",
                f"steps-{i}-timeout_seconds": "300",
            }
        )
    response = admin_client.post(reverse("admin:workflows_workflow_change", args=[wf.pk]), data)
    assert response.status_code == 200  # the form comes back with an error instead of a 500
    formset = response.context["inline_admin_formsets"][0].formset
    assert "step_order" in str(formset.non_form_errors())
    assert sorted(wf.steps.values_list("step_order", flat=True)) == [1, 2]


@pytest.mark.django_db
def test_it_soft_deletes_workflows_from_admin_but_not_system_ones(admin_client, populated):
    system = workflow(name="Systemworkflow", is_system=True)
    response = admin_client.post(
        reverse("admin:workflows_workflow_changelist"),
        {"action": "soft_delete_selected", "_selected_action": [populated.pk, system.pk]},
    )
    assert response.status_code == 302
    assert list(Workflow.objects.filter(is_system=False).values_list("name", flat=True)) == []
    assert Workflow.objects.filter(name="Systemworkflow").exists()
    assert WorkflowExecution.objects.filter(workflow=populated).exists()  # history stays
    assert AuditLog.objects.filter(action="workflow.soft_deleted", object_id=str(populated.pk)).exists()
