"""When the model is asked (policy), the „Modell fragen“ button, the panel, and the metrics."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from extraction.llm.services import model_assist_after_processing, model_run_execute
from extraction.models import ModelRun
from extraction.tests.model_server import invoice_document
from monitoring.metrics import metrics_text
from system.selectors import config_cache_invalidate
from system.services import config_set

pytestmark = [pytest.mark.django_db]


def _set(key, value):
    config_set(key=key, value=value, user=None)
    config_cache_invalidate()


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- when -------------------------------------------------------------------------------------------


def test_it_asks_automatically_for_an_invoice_below_its_threshold(
    owner, configured_model, django_capture_on_commit_callbacks
):
    document = invoice_document(owner, confidence=0.5)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = model_assist_after_processing(document=document)

    assert run.trigger == ModelRun.Trigger.AUTOMATIC and run.status == ModelRun.Status.PENDING
    assert len(callbacks) == 1


def test_it_does_not_ask_automatically_above_the_threshold(owner, configured_model):
    _set("extraction.threshold.invoice", 0.8)
    assert model_assist_after_processing(document=invoice_document(owner, confidence=0.82)) is None
    assert model_assist_after_processing(document=invoice_document(owner, confidence=0.79, title="B")) is not None


@pytest.mark.parametrize("mode", ["on_demand", "off"])
def test_it_asks_automatically_only_where_the_type_is_configured_so(owner, configured_model, mode):
    _set("extraction.model.modes", {"default": "on_demand", "invoice": mode})

    assert model_assist_after_processing(document=invoice_document(owner, confidence=0.1)) is None
    assert not ModelRun.objects.exists()


def test_without_a_model_documents_take_the_normal_path(owner, settings):
    settings.ABLAGE_MODEL_URL = ""

    assert model_assist_after_processing(document=invoice_document(owner, confidence=0.1)) is None


# --- on demand --------------------------------------------------------------------------------------


def test_a_reviewer_asks_the_model_from_the_review_screen(
    client, reviewer, owner, configured_model, django_capture_on_commit_callbacks
):
    document = invoice_document(owner, confidence=0.9)
    client.force_login(reviewer)

    page = client.get(reverse("documents:review", args=[document.id])).content.decode()
    assert "Modell fragen" in page
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("extraction:model-ask", args=[document.id]))

    assert response.status_code == 302
    assert "Das Modell wird gefragt" in _messages(response)[0]
    run = ModelRun.objects.get(document=document)
    assert run.trigger == ModelRun.Trigger.ON_DEMAND and run.requested_by == reviewer
    page = client.get(reverse("documents:review", args=[document.id])).content.decode()
    assert 'data-run-status="pending"' in page

    model_run_execute(run_id=run.id)
    page = client.get(reverse("documents:review", args=[document.id])).content.decode()
    assert 'data-field="bic"' in page and "nicht belegt" in page
    assert "auf Seite 1 gefunden" in page
    assert "in leeres Feld übernommen" in page


def test_it_refuses_a_second_request_while_one_is_under_way(client, reviewer, owner, configured_model):
    document = invoice_document(owner)
    ModelRun.objects.create(document=document, trigger=ModelRun.Trigger.ON_DEMAND)
    client.force_login(reviewer)

    response = client.post(reverse("extraction:model-ask", args=[document.id]))

    assert _messages(response) == ["Das Modell wird für dieses Dokument bereits gefragt."]
    assert ModelRun.objects.count() == 1


def test_the_button_is_disabled_and_the_state_shown_when_the_budget_is_used_up(
    client, reviewer, owner, configured_model
):
    _set("extraction.model.monthly_calls", 0)
    document = invoice_document(owner)
    client.force_login(reviewer)

    page = client.get(reverse("documents:review", args=[document.id])).content.decode()
    response = client.post(reverse("extraction:model-ask", args=[document.id]))

    assert "Monatsbudget erreicht" in page
    assert "disabled>Modell fragen" in page
    assert _messages(response) == ["Monatsbudget für Modellanfragen erreicht (0 von 0 Aufrufen)."]
    assert not ModelRun.objects.exists()


def test_it_refuses_the_type_whose_mode_is_off(client, reviewer, owner, configured_model):
    _set("extraction.model.modes", {"default": "on_demand", "invoice": "off"})
    client.force_login(reviewer)

    response = client.post(reverse("extraction:model-ask", args=[invoice_document(owner).id]))

    assert "ausgeschaltet" in _messages(response)[0]


def test_someone_who_may_not_review_the_document_gets_a_404(client, outsider, owner, configured_model):
    client.force_login(outsider)

    response = client.post(reverse("extraction:model-ask", args=[invoice_document(owner).id]))

    assert response.status_code == 404
    assert not ModelRun.objects.exists()


def test_the_review_screen_has_no_model_panel_without_a_model(client, reviewer, owner, settings):
    settings.ABLAGE_MODEL_URL = ""
    client.force_login(reviewer)

    page = client.get(reverse("documents:review", args=[invoice_document(owner).id])).content.decode()

    assert "Modellhilfe" not in page and "Modell fragen" not in page


# --- metrics ----------------------------------------------------------------------------------------


def test_token_usage_and_latency_appear_in_the_metrics(owner, configured_model):
    run = ModelRun.objects.create(document=invoice_document(owner), trigger=ModelRun.Trigger.ON_DEMAND)
    model_run_execute(run_id=run.id)

    text = metrics_text().decode()

    assert 'ablage_model_tokens_total{kind="prompt"} 120.0' in text
    assert 'ablage_model_tokens_total{kind="completion"} 40.0' in text
    assert 'ablage_model_runs_total{status="succeeded",trigger="on_demand"} 1.0' in text
    assert 'ablage_model_latency_seconds_count{model="test-modell-7b"} 1.0' in text


def test_the_pipeline_asks_the_model_for_a_document_it_sends_to_review_below_the_threshold(
    owner, configured_model, born_digital_pdf, django_capture_on_commit_callbacks
):
    from documents import services
    from documents.models import Document

    _set("extraction.threshold.invoice", 1.0)
    document = services.document_ingest(owner=owner, filename="rechnung.pdf", data=born_digital_pdf)
    with django_capture_on_commit_callbacks(execute=False):
        services.job_run(job_id=document.jobs.get().id)
    document.refresh_from_db()
    assert document.status == Document.Status.REVIEW and document.overall_confidence < 1.0

    run = ModelRun.objects.get(document=document)
    assert run.trigger == ModelRun.Trigger.AUTOMATIC
    model_run_execute(run_id=run.id)

    run.refresh_from_db()
    document.refresh_from_db()
    assert run.status == ModelRun.Status.SUCCEEDED
    assert "Gesamtbetrag" in configured_model.requests[0]["messages"][1]["content"]
    assert document.status == Document.Status.REVIEW


def test_a_run_lost_with_its_worker_does_not_block_asking_again(client, reviewer, owner, configured_model):
    from datetime import timedelta

    from django.utils import timezone

    document = invoice_document(owner)
    lost = ModelRun.objects.create(
        document=document, trigger=ModelRun.Trigger.ON_DEMAND, status=ModelRun.Status.RUNNING
    )
    ModelRun.objects.filter(id=lost.id).update(created_at=timezone.now() - timedelta(minutes=16))
    client.force_login(reviewer)

    page = client.get(reverse("documents:review", args=[document.id])).content.decode()
    response = client.post(reverse("extraction:model-ask", args=[document.id]))

    assert "Modell fragen" in page and "disabled>Modell fragen" not in page
    assert "Das Modell wird gefragt" in _messages(response)[0]
    lost.refresh_from_db()
    assert lost.status == ModelRun.Status.FAILED and "nicht zu Ende" in lost.message
