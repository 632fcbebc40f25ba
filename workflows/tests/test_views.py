import pytest
from django.contrib.auth.models import Permission
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from documents.models import Document
from workflows.models import Workflow, WorkflowExecution, WorkflowStep

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("admin@example.com", "x")


@pytest.fixture
def document(owner):
    return Document.objects.create(
        owner=owner,
        title="Rechnung <b>fett</b>",
        original_filename="r.pdf",
        mime_type="application/pdf",
        file_size=1,
        sha256="3" * 64,
        storage_key="v-key",
        status=Document.Status.REVIEW,
    )


def test_it_builds_a_workflow_in_the_screen_and_shows_step_errors(client, admin_user):
    client.force_login(admin_user)
    form = {
        "name": "Markieren",
        "trigger_type": "document_approved",
        "trigger_config": "{}",
        "conditions": "",
        "is_active": "on",
        "steps": '[{"name": "Tag", "step_type": "update_field", "step_config": {"field": "passwort", "value": "x"}}]',
    }
    response = client.post(reverse("workflows:create"), form)
    assert response.status_code == 200 and "Schritt 1: field muss einer von" in response.content.decode()
    assert not Workflow.objects.filter(name="Markieren").exists()

    form["steps"] = (
        '[{"name": "Tag", "step_type": "update_field", "step_config": {"field": "tags_add", "value": "ok"}}]'
    )
    response = client.post(reverse("workflows:create"), form)
    workflow = Workflow.objects.get(name="Markieren")
    assert response.status_code == 302 and workflow.steps.get().step_config["value"] == "ok"

    form["steps"] = "[kein json"
    response = client.post(reverse("workflows:edit", args=[workflow.pk]), form)
    assert "Kein gültiges JSON" in response.content.decode()


def test_it_dry_runs_from_the_screen(client, admin_user, document):
    workflow = Workflow.objects.create(name="Probe", trigger_type="manual")
    WorkflowStep.objects.create(
        workflow=workflow,
        name="p",
        step_type="update_field",
        step_config={"field": "priority", "value": "4"},
        step_order=1,
    )
    client.force_login(admin_user)
    response = client.get(reverse("workflows:detail", args=[workflow.pk]), {"document": str(document.pk)})
    body = response.content.decode()
    assert 'id="dry-run-report"' in body and "ausgeführt" in body
    document.refresh_from_db()
    assert document.priority == 5


def test_it_keeps_editing_from_clerks_and_foreign_runs_hidden(client, owner, outsider, document):
    workflow = Workflow.objects.create(name="Manuell", trigger_type="manual")
    execution = WorkflowExecution.objects.create(workflow=workflow, document=document, trigger_event="manual")
    client.force_login(outsider)
    assert client.get(reverse("workflows:create")).status_code == 403
    assert client.get(reverse("workflows:execution", args=[execution.pk])).status_code == 404
    client.force_login(owner)
    assert client.get(reverse("workflows:execution", args=[execution.pk])).status_code == 200


def test_it_starts_a_manual_workflow_from_the_document_panel(client, owner, document):
    workflow = Workflow.objects.create(name="Manuell", trigger_type="manual")
    WorkflowStep.objects.create(
        workflow=workflow,
        name="p",
        step_type="update_field",
        step_config={"field": "priority", "value": "4"},
        step_order=1,
    )
    owner.user_permissions.add(Permission.objects.get(codename="change_document", content_type__app_label="documents"))
    request = RequestFactory().get("/")
    request.user = owner
    from django.contrib.auth.context_processors import PermWrapper

    html = Template("{% load workflow_tags %}{% document_workflows document %}").render(
        Context({"request": request, "document": document, "perms": PermWrapper(owner), "csrf_token": "t"})
    )
    assert "„Manuell“ starten" in html
    client.force_login(owner)
    response = client.post(reverse("workflows:start", args=[workflow.pk]), {"document": str(document.pk)})
    assert response.status_code == 302
    assert WorkflowExecution.objects.get().triggered_by == owner
