import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from documents.models import Document
from workflows.models import Workflow, WorkflowExecution, WorkflowStep
from workflows.services import workflow_run_scheduled, workflow_save, workflow_webhook_token_reset

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("admin@example.com", "x")


@pytest.fixture
def document(owner):
    return Document.objects.create(
        owner=owner,
        title="Rechnung",
        original_filename="r.pdf",
        mime_type="application/pdf",
        file_size=1,
        sha256="2" * 64,
        storage_key="r-key",
        status=Document.Status.REVIEW,
    )


def workflow_payload(**overrides):
    return {
        "name": "Priorität setzen",
        "description": "",
        "trigger_type": "manual",
        "trigger_config": {},
        "conditions": {">": [{"var": "document.priority"}, 0]},
        "is_active": True,
        "steps": [
            {
                "step_order": 1,
                "name": "Priorität",
                "step_type": "update_field",
                "step_config": {"field": "priority", "value": "7"},
            }
        ],
        **overrides,
    }


def test_it_lets_admins_create_workflows_and_refuses_bad_step_configs(client, admin_user):
    client.force_login(admin_user)
    url = reverse("api-v1:workflow-list")
    response = client.post(url, workflow_payload(), content_type="application/json")
    assert response.status_code == 201, response.json()
    assert response.json()["steps"][0]["step_config"] == {"field": "priority", "value": "7"}

    bad = workflow_payload(
        name="kaputt",
        steps=[
            {
                "step_order": 1,
                "name": "x",
                "step_type": "update_field",
                "step_config": {"field": "is_staff", "value": "1"},
            }
        ],
    )
    response = client.post(url, bad, content_type="application/json")
    assert response.status_code == 400
    assert "field muss einer von" in response.json()["error"]["message"]
    assert not Workflow.objects.filter(name="kaputt").exists()


def test_it_keeps_workflow_definitions_from_clerks(client, owner):
    client.force_login(owner)
    response = client.post(reverse("api-v1:workflow-list"), workflow_payload(), content_type="application/json")
    assert response.status_code == 403


def test_it_lets_a_clerk_start_a_manual_workflow_on_their_document_only(client, owner, outsider, document):
    workflow = workflow_save(
        workflow=Workflow(name="Manuell", trigger_type="manual"),
        steps=[
            WorkflowStep(
                name="p", step_type="update_field", step_config={"field": "priority", "value": "7"}, step_order=1
            )
        ],
    )
    owner.user_permissions.add(Permission.objects.get(codename="change_document", content_type__app_label="documents"))
    client.force_login(owner)
    listed = client.get(reverse("api-v1:workflow-list")).json()["results"]
    assert [item["name"] for item in listed] == ["Manuell"]
    response = client.post(
        reverse("api-v1:workflow-run", args=[workflow.pk]),
        {"document_id": str(document.pk)},
        content_type="application/json",
    )
    assert response.status_code == 202
    execution = WorkflowExecution.objects.get()
    assert execution.triggered_by == owner and execution.document == document

    client.force_login(outsider)
    response = client.post(
        reverse("api-v1:workflow-run", args=[workflow.pk]),
        {"document_id": str(document.pk)},
        content_type="application/json",
    )
    assert response.status_code == 404
    assert client.get(reverse("api-v1:workflow-execution-detail", args=[execution.pk])).status_code == 404
    assert client.get(reverse("api-v1:workflow-execution-list")).json()["results"] == []


def test_it_starts_a_webhook_workflow_only_with_its_token_and_once_per_delivery(client, admin_user, document):
    workflow = Workflow.objects.create(name="Hook", trigger_type="webhook", created_by=admin_user)
    token = workflow_webhook_token_reset(workflow=workflow)
    url = reverse("api-v1:workflow-hook", args=[workflow.pk])
    assert client.post(url, {}, content_type="application/json", HTTP_AUTHORIZATION="Bearer falsch").status_code == 404
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_IDEMPOTENCY_KEY": "lieferung-1"}
    body = {"document_id": str(document.pk), "reason": "ERP"}
    first = client.post(url, body, content_type="application/json", **headers)
    again = client.post(url, body, content_type="application/json", **headers)
    assert first.status_code == again.status_code == 202
    assert first.json()["execution"] == again.json()["execution"]
    execution = WorkflowExecution.objects.get()
    assert execution.trigger_data == {"payload": body} and execution.document == document


def test_it_keeps_a_schedule_in_django_celery_beat_and_runs_one_per_matching_document(document):
    workflow = workflow_save(
        workflow=Workflow(
            name="Morgens",
            trigger_type="schedule",
            trigger_config={"cron": "0 8 * * 1-5", "timezone": "Europe/Berlin", "for_each": {"status": "review"}},
        ),
        steps=[
            WorkflowStep(
                name="p", step_type="update_field", step_config={"field": "priority", "value": "8"}, step_order=1
            )
        ],
    )
    task = PeriodicTask.objects.get(name=f"workflow:{workflow.pk}")
    assert task.crontab.hour == "8" and str(task.crontab.timezone) == "Europe/Berlin" and task.enabled
    assert workflow_run_scheduled(workflow_id=workflow.pk) == 1
    assert workflow_run_scheduled(workflow_id=workflow.pk) == 0  # same tick: nothing twice
    workflow.is_active = False
    workflow_save(workflow=workflow)
    assert not PeriodicTask.objects.filter(name=f"workflow:{workflow.pk}").exists()


def test_it_refuses_a_bad_cron_expression(document):
    from ablage.errors import ApplicationError

    with pytest.raises(ApplicationError, match="cron ungültig"):
        workflow_save(
            workflow=Workflow(name="x", trigger_type="schedule", trigger_config={"cron": "jeden Morgen"}), steps=[]
        )


def test_it_ships_the_three_examples_inactive_and_valid():
    from workflows.services import workflow_definition_errors

    examples = Workflow.objects.filter(is_system=True)
    assert examples.count() == 3 and not examples.filter(is_active=True).exists()
    for workflow in examples:
        problems = workflow_definition_errors(workflow, list(workflow.steps.all()))
        unavailable = [text for errors in problems.values() for text in errors if "nicht verfügbar" not in text]
        assert unavailable == [], problems


def test_it_shows_the_dry_run_in_admin(client, admin_user, document):
    workflow = Workflow.objects.create(name="Probe", trigger_type="manual")
    WorkflowStep.objects.create(
        workflow=workflow,
        name="p",
        step_type="update_field",
        step_config={"field": "priority", "value": "3"},
        step_order=1,
    )
    client.force_login(admin_user)
    response = client.get(reverse("admin:workflows_workflow_dry_run", args=[workflow.pk]) + f"?document={document.pk}")
    assert response.status_code == 200
    body = response.content.decode()
    assert "ausgeführt" in body and "&#x27;after&#x27;: 3" in body
    document.refresh_from_db()
    assert document.priority == 5
