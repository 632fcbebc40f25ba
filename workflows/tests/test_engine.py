from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.files.storage import default_storage
from django.utils import timezone

from documents import services as document_services
from documents.models import Category, Document, DocumentRelation, ExtractedField
from monitoring.models import AuditLog
from workflows import engine
from workflows.models import Workflow, WorkflowExecution, WorkflowStep, WorkflowStepExecution
from workflows.services import workflow_definition_errors, workflows_document_event

pytestmark = [pytest.mark.django_db]

Status = WorkflowExecution.Status
Step = WorkflowStep.StepType


@pytest.fixture
def processed(owner, born_digital_pdf):
    """A born-digital invoice after the real pipeline, waiting in review."""
    document = document_services.document_ingest(owner=owner, filename="rechnung.pdf", data=born_digital_pdf)
    document_services.job_run(job_id=document.jobs.get().id)
    Document.objects.filter(id=document.id).update(status=Document.Status.REVIEW)
    WorkflowExecution.objects.all().delete()  # runs the ingest itself started are not this test's business
    document.refresh_from_db()
    return document


def make_workflow(*steps, trigger=Workflow.Trigger.MANUAL, conditions=None, trigger_config=None, name="Test"):
    workflow = Workflow.objects.create(
        name=name, trigger_type=trigger, conditions=conditions, trigger_config=trigger_config or {}
    )
    for order, (step_type, config, *extra) in enumerate(steps, start=1):
        WorkflowStep.objects.create(
            workflow=workflow,
            name=f"Schritt {order}",
            step_type=step_type,
            step_config=config,
            step_order=order,
            **(extra[0] if extra else {}),
        )
    return workflow


def run(workflow, document):
    execution = engine.start_workflow(workflow, event=workflow.trigger_type, document=document)
    engine.execution_run(execution.pk)
    execution.refresh_from_db()
    return execution


def outputs(execution):
    return {step.step_order: step.output_data for step in execution.step_executions.order_by("step_order")}


def test_it_skips_a_run_whose_conditions_do_not_hold(processed):
    workflow = make_workflow(
        (Step.UPDATE_FIELD, {"field": "priority", "value": "9"}),
        conditions={">": [{"var": "document.total_amount"}, 1_000_000]},
    )
    execution = run(workflow, processed)
    assert execution.status == Status.SKIPPED
    processed.refresh_from_db()
    assert processed.priority == 5


def test_it_runs_the_steps_in_order_and_counts_the_run(processed):
    workflow = make_workflow(
        (Step.UPDATE_FIELD, {"field": "priority", "value": "9"}),
        (Step.UPDATE_FIELD, {"field": "title", "value": "{{ document.supplier_name }} {{ document.invoice_number }}"}),
        conditions={">": [{"var": "document.total_amount"}, 0]},
    )
    execution = run(workflow, processed)
    assert execution.status == Status.COMPLETED, execution.error_message
    processed.refresh_from_db()
    number = processed.fields.get(name="invoice_number").normalized_value
    assert processed.priority == 9 and processed.title.endswith(number)
    workflow.refresh_from_db()
    assert (workflow.total_executions, workflow.successful_executions) == (1, 1)
    assert AuditLog.objects.filter(action="document.updated_by_workflow", object_id=str(processed.pk)).count() == 2


def test_it_never_exposes_model_instances_to_templates(processed):
    workflow = make_workflow((Step.UPDATE_FIELD, {"field": "title", "value": "{{ document.owner.password }}"}))
    execution = run(workflow, processed)
    assert execution.status == Status.FAILED
    assert "Vorlage fehlerhaft" in execution.error_message


def test_it_classifies_the_document_from_its_words(processed):
    Document.objects.filter(pk=processed.pk).update(document_type=Document.DocumentType.UNKNOWN)
    execution = run(make_workflow((Step.CLASSIFY_DOCUMENT, {"min_confidence": 0.3})), processed)
    assert execution.status == Status.COMPLETED, execution.error_message
    processed.refresh_from_db()
    assert processed.document_type == "invoice" and outputs(execution)[1]["changed"] is True


def test_it_extracts_again_without_touching_a_clerks_correction(processed, owner):
    document_services.document_update_fields(document=processed, user=owner, values={"invoice_number": "KORR-1"})
    ExtractedField.objects.filter(document=processed, name="iban").delete()
    execution = run(make_workflow((Step.EXTRACT_DATA, {"apply": True})), processed)
    assert execution.status == Status.COMPLETED, execution.error_message
    output = outputs(execution)[1]
    assert "iban" in output["written"] and "invoice_number" not in output["written"]
    assert processed.fields.get(name="invoice_number").value == "KORR-1"
    assert processed.fields.get(name="iban").normalized_value == output["fields"]["iban"]


def test_it_validates_sums_and_fails_with_the_difference(processed):
    ExtractedField.objects.filter(document=processed, name="vat_amount").update(normalized_value="1.00")
    processed.refresh_from_db()
    rules = [
        {"type": "required", "fields": ["invoice_number", "total_amount"]},
        {"type": "sum", "parts": ["net_amount", "vat_amount"], "total": "total_amount"},
    ]
    execution = run(make_workflow((Step.VALIDATE_DATA, {"rules": rules})), processed)
    assert execution.status == Status.FAILED
    assert "net_amount + vat_amount ≠ total_amount (Differenz" in execution.error_message


def test_it_continues_after_a_failed_step_when_told_to(processed):
    workflow = make_workflow(
        (
            Step.VALIDATE_DATA,
            {"rules": [{"type": "range", "field": "total_amount", "max": 1}]},
            {"on_error": "continue"},
        ),
        (Step.UPDATE_FIELD, {"field": "tags_add", "value": "geprüft"}),
    )
    execution = run(workflow, processed)
    assert execution.status == Status.COMPLETED
    statuses = list(execution.step_executions.order_by("step_order").values_list("status", flat=True))
    assert statuses == [Status.FAILED, Status.COMPLETED]
    assert list(processed.tags.values_list("name", flat=True)) == ["geprüft"]


def test_it_branches_on_a_condition(processed):
    workflow = make_workflow(
        (
            Step.CONDITIONAL,
            {"condition": {">": [{"var": "document.total_amount"}, 1_000_000]}, "true_step": 2, "false_step": 3},
        ),
        (Step.UPDATE_FIELD, {"field": "priority", "value": "10"}),
        (Step.UPDATE_FIELD, {"field": "priority", "value": "2"}),
    )
    execution = run(workflow, processed)
    processed.refresh_from_db()
    assert execution.status == Status.COMPLETED and processed.priority == 2
    assert outputs(execution)[1] == {"result": False, "next_step": 3}


def test_it_waits_without_a_sleeping_worker_and_resumes_when_due(processed):
    workflow = make_workflow((Step.WAIT, {"seconds": 3600}), (Step.UPDATE_FIELD, {"field": "priority", "value": "8"}))
    execution = run(workflow, processed)
    assert execution.status == Status.WAITING and execution.next_step_order == 2
    assert engine.execution_run(execution.pk) is None  # not due yet: nobody may take it
    WorkflowExecution.objects.filter(pk=execution.pk).update(resume_at=timezone.now() - timedelta(seconds=1))
    assert engine.execution_run(execution.pk) == Status.COMPLETED
    processed.refresh_from_db()
    assert processed.priority == 8


def test_it_retries_a_failing_step_after_its_delay(processed):
    workflow = make_workflow(
        (
            Step.UPDATE_FIELD,
            {"field": "category", "value": "Eingang"},
            {"on_error": "retry", "max_retries": 1, "retry_delay_seconds": 60},
        ),
    )
    execution = run(workflow, processed)
    assert execution.status == Status.WAITING and execution.resume_at > timezone.now() + timedelta(seconds=50)
    Category.objects.create(name="Eingang")
    WorkflowExecution.objects.filter(pk=execution.pk).update(resume_at=timezone.now())
    assert engine.execution_run(execution.pk) == Status.COMPLETED
    record = execution.step_executions.get()
    assert record.retry_count == 1 and record.status == Status.COMPLETED


def test_it_takes_over_a_run_whose_worker_died_and_reruns_the_unfinished_step_once(processed):
    workflow = make_workflow(
        (Step.UPDATE_FIELD, {"field": "tags_add", "value": "a"}),
        (Step.UPDATE_FIELD, {"field": "tags_add", "value": "b"}),
    )
    execution = engine.start_workflow(workflow, event="manual", document=processed)
    # The dead worker had claimed the run, finished step 1 and begun step 2.
    WorkflowExecution.objects.filter(pk=execution.pk).update(
        status=Status.RUNNING,
        lease_until=timezone.now() + timedelta(minutes=5),
        next_step_order=2,
        started_at=timezone.now(),
    )
    WorkflowStepExecution.objects.create(
        execution=execution, step_name="1", step_type=Step.UPDATE_FIELD, step_order=1, status=Status.COMPLETED
    )
    unfinished = WorkflowStepExecution.objects.create(
        execution=execution, step_name="2", step_type=Step.UPDATE_FIELD, step_order=2, status=Status.RUNNING
    )
    assert engine.execution_run(execution.pk) is None  # the lease still holds
    WorkflowExecution.objects.filter(pk=execution.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert engine.execution_run(execution.pk) == Status.COMPLETED
    assert list(processed.tags.values_list("name", flat=True)) == ["b"]  # step 1 was not run again
    assert execution.step_executions.get(step_order=2).pk == unfinished.pk
    assert engine.execution_run(execution.pk) is None  # finished runs stay finished


def test_it_assigns_the_least_loaded_reviewer_who_can_see_the_document(
    processed, reviewer, django_user_model, outsider
):
    busy = django_user_model.objects.create_user("busy@example.com", "x")
    busy.groups.add(*reviewer.groups.all())
    Document.objects.filter(pk=processed.pk).update(assigned_to=None)
    other = Document.objects.create(
        owner=processed.owner,
        title="x",
        original_filename="x.pdf",
        mime_type="application/pdf",
        file_size=1,
        sha256="0" * 64,
        storage_key="x-key",
        status=Document.Status.REVIEW,
        assigned_to=busy,
    )
    assert other.pk
    group = reviewer.groups.get()
    outsider.groups.add(group)  # a member of the role who may not see the document...
    outsider.user_permissions.remove(*outsider.user_permissions.all())
    group.permissions.remove(Permission.objects.get(codename="view_all_documents"))
    for user in (reviewer, busy):
        user.user_permissions.add(Permission.objects.get(codename="view_all_documents"))
    execution = run(make_workflow((Step.ASSIGN_USER, {"role": group.name, "strategy": "least_loaded"})), processed)
    assert execution.status == Status.COMPLETED, execution.error_message
    assert outputs(execution)[1]["assigned_to"] == reviewer.email  # ...is never chosen
    assert outputs(execution)[1]["candidates"] == 2


def test_it_assigns_round_robin(processed, reviewer, django_user_model):
    second = django_user_model.objects.create_user("zweite@example.com", "x")
    second.groups.add(*reviewer.groups.all())
    workflow = make_workflow((Step.ASSIGN_USER, {"role": reviewer.groups.get().name, "strategy": "round_robin"}))
    chosen = [outputs(run(workflow, processed))[1]["assigned_to"] for _ in range(3)]
    assert chosen == [reviewer.email, second.email, reviewer.email]


def test_it_links_a_credit_note_to_its_invoice(processed, owner):
    number = processed.fields.get(name="invoice_number").normalized_value
    credit = Document.objects.create(
        owner=owner,
        title="Gutschrift",
        original_filename="g.pdf",
        mime_type="application/pdf",
        file_size=1,
        sha256="1" * 64,
        storage_key="g-key",
        document_type="credit_note",
        status=Document.Status.REVIEW,
    )
    ExtractedField.objects.create(document=credit, name="order_number", value=number, normalized_value=number)
    config = {
        "relation_type": "credit_note_for",
        "target_field": "invoice_number",
        "target_value": "{{ document.fields.order_number }}",
        "target_type": "invoice",
    }
    execution = run(make_workflow((Step.CREATE_RELATION, config)), credit)
    assert execution.status == Status.COMPLETED, execution.error_message
    assert DocumentRelation.objects.filter(source=credit, target=processed, relation_type="credit_note_for").exists()


def test_it_exports_data_and_original_to_a_target(processed):
    execution = run(
        make_workflow((Step.EXPORT_DOCUMENT, {"target": "buchhaltung", "include_original": True})), processed
    )
    assert execution.status == Status.COMPLETED, execution.error_message
    data_key, original_key = outputs(execution)[1]["keys"]
    with default_storage.open(data_key) as exported:
        assert str(processed.pk) in exported.read().decode()
    with default_storage.open(original_key) as copy, default_storage.open(processed.storage_key) as original:
        assert copy.read() == original.read()
    assert (
        run(make_workflow((Step.EXPORT_DOCUMENT, {"target": "buchhaltung"}), name="zweimal"), processed).status
        == Status.COMPLETED
    )


def test_it_notifies_and_mails_once_per_step_execution(processed, reviewer, outsider):
    from notifications.models import EmailQueue, Notification

    group = reviewer.groups.get()
    outsider.groups.add(group)  # in the role, but may not see the document...
    group.permissions.remove(Permission.objects.get(codename="view_all_documents"))
    reviewer.user_permissions.add(Permission.objects.get(codename="view_all_documents"))
    workflow = make_workflow(
        (
            Step.SEND_NOTIFICATION,
            {
                "role": reviewer.groups.get().name,
                "title": "Bitte prüfen: {{ document.title }}",
                "channels": ["in_app", "email"],
            },
        ),
        (
            Step.SEND_EMAIL,
            {
                "to": ["buchhaltung@example.com", "{{ user.email if user else 'steuer@example.com' }}"],
                "subject": "Beleg {{ document.invoice_number }}",
                "body": "Anbei.",
                "attach_original": True,
            },
        ),
    )
    execution = run(workflow, processed)
    assert execution.status == Status.COMPLETED, execution.error_message
    from_workflow = Notification.objects.filter(data__step_execution__isnull=False)
    assert list(from_workflow.values_list("user__email", flat=True)) == [reviewer.email]
    assert from_workflow.get().title == f"Bitte prüfen: {processed.title}"
    mails = EmailQueue.objects.filter(template__key="workflow_message").order_by("to_address")
    assert [mail.to_address for mail in mails] == ["buchhaltung@example.com", reviewer.email, "steuer@example.com"]
    attached = mails.get(to_address="buchhaltung@example.com").attachments
    assert attached == [
        {"key": processed.storage_key, "name": processed.original_filename, "mime_type": processed.mime_type}
    ]
    # A redelivered run repeats the steps under the same step execution ids: nothing twice.
    WorkflowExecution.objects.filter(pk=execution.pk).update(
        status=Status.RUNNING, next_step_order=1, lease_until=timezone.now() - timedelta(seconds=1)
    )
    WorkflowStepExecution.objects.filter(execution=execution).update(status=Status.RUNNING)
    assert engine.execution_run(execution.pk) == Status.COMPLETED
    assert from_workflow.count() == 1 and mails.count() == 3


def test_it_calls_a_webhook_through_the_guarded_delivery(processed, monkeypatch):
    from ablage import net
    from notifications.models import WebhookDelivery

    # DNS answers the test controls: a public address for the ERP, an internal one for the trap.
    answers = {"erp.example.com": ["93.184.215.14"], "intranet.example.com": ["10.0.0.7"]}
    monkeypatch.setattr(net, "system_resolver", lambda host, port: answers.get(host, ["127.0.0.1"]))

    refused = make_workflow((Step.CALL_WEBHOOK, {"url": "http://169.254.169.254/latest"}), name="intern")
    from workflows.services import workflow_definition_errors

    assert "url:" in workflow_definition_errors(refused, list(refused.steps.all()))["Schritt 1"][0]
    allowed = make_workflow(
        (Step.CALL_WEBHOOK, {"url": "https://erp.example.com/hook", "payload": {"nr": "{{ document.invoice_number }}"}})
    )
    execution = run(allowed, processed)
    assert execution.status == Status.COMPLETED, execution.error_message
    delivery = WebhookDelivery.objects.get()
    assert delivery.callback_url == "https://erp.example.com/hook" and delivery.event == "workflow.step"
    assert delivery.payload["data"]["payload"]["nr"] == processed.fields.get(name="invoice_number").normalized_value
    # A name that resolves inside at run time is refused at run time too.
    inside = make_workflow((Step.CALL_WEBHOOK, {"url": "https://intranet.example.com/x"}), name="drinnen")
    failed = run(inside, processed)
    assert failed.status == Status.FAILED and WebhookDelivery.objects.count() == 1


def test_it_validates_step_configs_in_words(processed):
    workflow = make_workflow(
        (Step.UPDATE_FIELD, {"field": "owner", "value": "x"}),
        (Step.CONDITIONAL, {"condition": {"exec": []}, "true_step": 9}),
        (Step.VALIDATE_DATA, {"rules": [{"type": "pattern", "field": "x", "regex": "("}]}),
    )
    problems = workflow_definition_errors(workflow, list(workflow.steps.all()))
    assert "field muss einer von" in problems["Schritt 1"][0]
    assert any("Unbekannter JSONLogic-Operator" in text for text in problems["Schritt 2"])
    assert any("Schritt 9 gibt es nicht" in text for text in problems["Schritt 2"])
    assert "regulärer Ausdruck fehlerhaft" in problems["Schritt 3"][0]


def test_it_dry_runs_without_writing(processed):
    workflow = make_workflow(
        (Step.UPDATE_FIELD, {"field": "priority", "value": "9"}),
        (Step.EXPORT_DOCUMENT, {"target": "probe"}),
    )
    report = engine.workflow_dry_run(workflow=workflow, document=processed)
    assert [entry["result"] for entry in report] == ["ok", "ok", "ok"]
    assert report[1]["detail"]["after"] == 9
    processed.refresh_from_db()
    assert processed.priority == 5 and not default_storage.exists(report[2]["detail"]["keys"][0])
    assert not WorkflowExecution.objects.exists()


def test_it_starts_workflows_on_document_events_once_per_occurrence(processed, reviewer):
    approved = make_workflow(
        (Step.UPDATE_FIELD, {"field": "tags_add", "value": "freigegeben"}), trigger=Workflow.Trigger.DOCUMENT_APPROVED
    )
    make_workflow(
        (Step.UPDATE_FIELD, {"field": "priority", "value": "1"}),
        trigger=Workflow.Trigger.DOCUMENT_REJECTED,
        name="abgelehnt",
    )
    document_services.document_approve(document=processed, user=reviewer)
    execution = WorkflowExecution.objects.get()
    assert execution.workflow == approved and execution.triggered_by == reviewer
    assert workflows_document_event(document=processed, event="processed", dedup="job-1") == 0
    low = make_workflow(
        trigger=Workflow.Trigger.CONFIDENCE_BELOW_THRESHOLD, trigger_config={"threshold": 1.01}, name="unsicher"
    )
    assert workflows_document_event(document=processed, event="processed", dedup="job-1") == 1
    assert workflows_document_event(document=processed, event="processed", dedup="job-1") == 0
    assert WorkflowExecution.objects.filter(workflow=low).count() == 1


def test_it_refuses_to_start_a_workflow_from_its_own_run(processed):
    workflow = make_workflow(
        (Step.UPDATE_FIELD, {"field": "priority", "value": "3"}), trigger=Workflow.Trigger.DOCUMENT_PROCESSED
    )
    parent = engine.start_workflow(workflow, event="document_processed", document=processed)
    assert engine.start_workflow(workflow, event="document_processed", document=processed, parent=parent) is None
    chain = parent
    for depth in range(1, engine.MAX_DEPTH + 1):
        chain = engine.start_workflow(
            make_workflow(name=f"Kette {depth}"), event="manual", document=processed, parent=chain
        )
        assert chain.depth == depth
    assert (
        engine.start_workflow(make_workflow(name="zu tief"), event="manual", document=processed, parent=chain) is None
    )


def test_it_starts_upload_and_supplier_workflows(owner, born_digital_pdf, processed):
    from suppliers.models import Supplier

    uploaded = make_workflow(trigger=Workflow.Trigger.DOCUMENT_UPLOADED, name="beim Hochladen")
    known = make_workflow(trigger=Workflow.Trigger.SUPPLIER_DETECTED, name="Lieferant erkannt")
    document = document_services.document_ingest(owner=owner, filename="zweite.pdf", data=born_digital_pdf)
    assert WorkflowExecution.objects.get(workflow=uploaded).document == document
    Document.objects.filter(pk=processed.pk).update(supplier=None)
    assert workflows_document_event(document=processed, event="processed", dedup="a") == 0
    Document.objects.filter(pk=processed.pk).update(supplier=Supplier.objects.create(name="Muster GmbH"))
    assert workflows_document_event(document=processed, event="processed", dedup="b") == 1
    assert WorkflowExecution.objects.get(workflow=known).document == processed
