"""The three example workflows shipped by migration, switched on, on a real document in a real worker."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.files.storage import default_storage

from documents import services as document_services
from documents.models import Document
from tests.helpers import wait_for
from workflows.models import Workflow, WorkflowExecution

pytestmark = [pytest.mark.e2e]

HIGH_VALUE = "Hohe Rechnungsbeträge: Geschäftsführung prüft"
LOW_CONFIDENCE = "Niedrige Konfidenz: gezielt prüfen"
AUTOMATIC = "Rechnungen automatisch verarbeiten"


def _member(django_user_model, email, role):
    user = django_user_model.objects.create_user(email, "x")
    user.groups.add(Group.objects.get(name=role))
    # Candidates must be able to see the document (the assign step checks it).
    user.user_permissions.add(Permission.objects.get(codename="view_all_documents"))
    return user


def test_it_runs_the_shipped_examples_on_a_processed_invoice(celery_worker, django_user_model, owner, born_digital_pdf):
    chef = _member(django_user_model, "chefin@example.com", "admin")
    reviewer = _member(django_user_model, "pruefer@example.com", "reviewer")
    clerk = _member(django_user_model, "buchhaltung@example.com", "clerk")
    # An administrator adapts the examples to this test's invoice and switches them on.
    high = Workflow.objects.get(name=HIGH_VALUE)
    high.conditions = {
        "and": [{"==": [{"var": "document.type"}, "invoice"]}, {">": [{"var": "document.total_amount"}, 1]}]
    }
    high.is_active = True
    high.save()
    low = Workflow.objects.get(name=LOW_CONFIDENCE)
    low.trigger_config = {"threshold": 1.01}  # every document counts as "low" here
    low.is_active = True
    low.save()
    Workflow.objects.filter(name=AUTOMATIC).update(is_active=True)

    document = document_services.document_ingest(owner=owner, filename="rechnung.pdf", data=born_digital_pdf)

    def finished():
        runs = list(WorkflowExecution.objects.filter(document=document).select_related("workflow"))
        return runs if len(runs) == 3 and all(run.is_terminal for run in runs) else None

    try:
        found = wait_for(finished, timeout=180, message="three workflow runs")
    except AssertionError:
        state = [(run.workflow.name, run.status, run.error_message) for run in WorkflowExecution.objects.all()]
        document.refresh_from_db()
        raise AssertionError(f"document {document.status} {document.decision_reason}; runs {state}") from None
    runs = {run.workflow.name: run for run in found}
    for run in runs.values():
        assert run.status == "completed", (run.workflow.name, run.error_message, run.execution_log)

    def output(name, order):
        return runs[name].step_executions.get(step_order=order)

    assert output(HIGH_VALUE, 2).output_data["assigned_to"] == chef.email
    assert output(HIGH_VALUE, 3).output_data["after"] == 10
    assert output(LOW_CONFIDENCE, 3).output_data["assigned_to"] == reviewer.email
    automatic = runs[AUTOMATIC]
    valid = output(AUTOMATIC, 2).output_data.get("valid")
    if valid:
        document.refresh_from_db()
        assert "automatisch geprüft" in document.tags.values_list("name", flat=True)
        keys = output(AUTOMATIC, 5).output_data["keys"]
        assert all(default_storage.exists(key) for key in keys)
        assert automatic.step_executions.get(step_order=6).status == "skipped"
    else:
        assert output(AUTOMATIC, 6).output_data["assigned_to"] == clerk.email
    assert Document.objects.get(pk=document.pk).status in ("review", "approved")
