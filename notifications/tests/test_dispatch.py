"""Each notification type reaches the right people through each channel, and never anyone else."""

import datetime
import zoneinfo

import pytest
from django.utils import timezone

from documents import services as document_services
from documents.models import Document, ProcessingJob
from notifications import email as email_queue
from notifications import services, webhooks
from notifications.models import DigestEntry, EmailQueue, Notification, NotificationPreference, WebhookDelivery
from notifications.tests.conftest import make_document
from ocr.errors import StopProcessing

pytestmark = pytest.mark.django_db

ALL_EVENTS = [
    "document.created",
    "document.processed",
    "document.review_required",
    "document.approved",
    "document.rejected",
    "document.failed",
    "workflow.failed",
]


def in_app(user) -> list[str]:
    return sorted(Notification.objects.filter(user=user).values_list("type", flat=True))


def mails(user) -> list[str]:
    return sorted(EmailQueue.objects.filter(user=user).values_list("template__key", flat=True))


def hooks(user) -> list[str]:
    return sorted(WebhookDelivery.objects.filter(endpoint__owner=user).values_list("event", flat=True))


@pytest.fixture
def endpoints(owner, reviewer, outsider, receiver, loopback_guard):
    """Everyone subscribes to everything; scope and visibility decide what they get."""
    from notifications.models import WebhookEndpoint

    webhooks.endpoint_create(owner=owner, name="o", url=receiver.url("/o"), events=ALL_EVENTS, guard=loopback_guard)
    webhooks.endpoint_create(
        owner=reviewer, name="r", url=receiver.url("/r"), events=ALL_EVENTS, scope="all", guard=loopback_guard
    )
    WebhookEndpoint.objects.create(owner=outsider, name="x", url=receiver.url("/x"), events=ALL_EVENTS, scope="all")


def _processed(document, status):
    Document.objects.filter(id=document.id).update(status=status, processed_at=timezone.now())
    document.refresh_from_db()
    services.notify_document_processed(document=document)


def test_it_tells_only_the_owner_about_an_auto_approved_document(owner, reviewer, outsider, endpoints):
    _processed(make_document(owner), Document.Status.APPROVED)
    assert in_app(owner) == ["document_processed"] and mails(owner) == []
    assert hooks(owner) == ["document.approved", "document.processed"]
    # The reviewer's "all documents" endpoint hears it; the reviewer as a person is not bothered.
    assert in_app(reviewer) == [] and hooks(reviewer) == ["document.approved", "document.processed"]
    assert in_app(outsider) == mails(outsider) == hooks(outsider) == []


def test_it_asks_reviewers_to_review_and_mails_them(owner, reviewer, outsider, endpoints):
    _processed(make_document(owner), Document.Status.REVIEW)
    assert in_app(owner) == ["document_processed"] and mails(owner) == []
    assert in_app(reviewer) == ["review_required"] and mails(reviewer) == ["review_required"]
    assert hooks(owner) == ["document.processed", "document.review_required"]
    assert in_app(outsider) == mails(outsider) == hooks(outsider) == []


@pytest.mark.embedded
def test_it_tells_the_owner_when_a_reviewer_rejects_and_not_the_reviewer(owner, reviewer, outsider, endpoints):
    document = make_document(owner)
    document_services.document_reject(document=document, user=reviewer, reason="Doppelt erfasst")
    assert in_app(owner) == ["review_completed"] and mails(owner) == ["review_completed"]
    assert "Doppelt erfasst" in Notification.objects.get(user=owner).message
    assert in_app(reviewer) == [] and mails(reviewer) == []
    assert hooks(owner) == ["document.rejected"]
    assert in_app(outsider) == mails(outsider) == hooks(outsider) == []


def test_it_tells_the_owner_in_the_app_only_when_a_reviewer_approves(owner, reviewer, outsider, endpoints):
    document_services.document_approve(document=make_document(owner), user=reviewer)
    assert in_app(owner) == ["review_completed"]
    assert mails(owner) == []  # default: e-mail about reviews only when rejected
    assert hooks(owner) == ["document.approved"]
    assert in_app(outsider) == hooks(outsider) == []


@pytest.mark.embedded
def test_it_tells_owner_and_reviewers_when_processing_dies(owner, reviewer, outsider, endpoints):
    document = make_document(owner, status=Document.Status.PROCESSING)
    job = ProcessingJob.objects.create(document=document, status=ProcessingJob.Status.RUNNING, attempts=3)
    document_services._job_fail(job, "Texterkennung abgestürzt", code="internal")
    assert in_app(owner) == ["processing_failed"] and mails(owner) == ["processing_failed"]
    assert in_app(reviewer) == ["processing_failed"] and mails(reviewer) == ["processing_failed"]
    assert hooks(owner) == ["document.failed"]
    assert in_app(outsider) == mails(outsider) == hooks(outsider) == []


def test_it_tells_the_owner_when_the_pipeline_refuses_a_document(owner, reviewer, outsider, endpoints):
    document = make_document(owner, status=Document.Status.PROCESSING)
    job = ProcessingJob.objects.create(document=document, status=ProcessingJob.Status.RUNNING, attempts=1)
    document_services._job_reject(job, StopProcessing("Die Datei ist verschlüsselt.", code="encrypted"))
    assert in_app(owner) == ["document_rejected"] and mails(owner) == ["document_rejected"]
    assert in_app(reviewer) == []
    assert hooks(owner) == ["document.rejected"]
    assert in_app(outsider) == mails(outsider) == hooks(outsider) == []


def _failed_workflow_run(document):
    """A real workflow run through the engine whose step fails (a template reaching for a model)."""
    from workflows import engine
    from workflows.models import Workflow, WorkflowStep

    workflow = Workflow.objects.create(name="Freigabe", trigger_type=Workflow.Trigger.MANUAL)
    WorkflowStep.objects.create(
        workflow=workflow,
        name="Titel",
        step_type=WorkflowStep.StepType.UPDATE_FIELD,
        step_config={"field": "title", "value": "{{ document.owner.password }}"},
        step_order=1,
    )
    execution = engine.start_workflow(workflow, event=workflow.trigger_type, document=document)
    engine.execution_run(execution.pk)
    execution.refresh_from_db()
    assert execution.status == execution.Status.FAILED
    return execution


def test_it_tells_owner_and_reviewers_when_a_workflow_fails(owner, reviewer, outsider, endpoints):
    document = make_document(owner, status=Document.Status.APPROVED)
    _failed_workflow_run(document)
    assert in_app(owner) == in_app(reviewer) == ["workflow_failed"]
    assert mails(owner) == mails(reviewer) == ["workflow_failed"]
    assert "Freigabe" in Notification.objects.get(user=owner).title
    assert hooks(owner) == ["workflow.failed"]
    assert in_app(outsider) == mails(outsider) == hooks(outsider) == []


def test_it_announces_one_occurrence_once(owner, reviewer):
    execution = _failed_workflow_run(make_document(owner, status=Document.Status.APPROVED))
    services.notify_workflow_failed(execution=execution, error="noch einmal gemeldet")
    assert EmailQueue.objects.filter(user=owner).count() == 1


def test_it_delivers_every_channel_end_to_end(owner, reviewer, endpoints, receiver, loopback_guard, smtp_server):
    smtp_server.start()
    document = make_document(owner, status=Document.Status.PROCESSING)
    job = ProcessingJob.objects.create(document=document, status=ProcessingJob.Status.RUNNING, attempts=3)
    document_services._job_fail(job, "Abbruch", code="internal")

    for mail_id in email_queue.email_due_ids():
        email_queue.email_send(email_id=mail_id)
    for delivery_id in webhooks.delivery_due_ids():
        webhooks.delivery_attempt(delivery_id=delivery_id, guard=loopback_guard)

    assert sorted(envelope.rcpt_tos[0] for envelope in smtp_server.messages) == [owner.email, reviewer.email]
    assert sorted(request.path for request in receiver.requests) == ["/o", "/r"]
    assert Notification.objects.filter(document=document).count() == 2


def test_it_respects_a_switched_off_channel_and_only_failures(owner, reviewer):
    NotificationPreference.objects.create(
        user=reviewer, notification_type="review_required", channel="in_app", enabled=False
    )
    NotificationPreference.objects.create(
        user=owner, notification_type="document_processed", channel="in_app", only_failures=True
    )
    _processed(make_document(owner), Document.Status.REVIEW)
    assert in_app(reviewer) == [] and mails(reviewer) == ["review_required"]
    assert in_app(owner) == []


def test_it_mails_only_below_the_confidence_threshold(owner, reviewer):
    NotificationPreference.objects.create(
        user=reviewer, notification_type="review_required", channel="email", confidence_below=0.6
    )
    _processed(make_document(owner, overall_confidence=0.75), Document.Status.REVIEW)
    assert mails(reviewer) == []
    _processed(make_document(owner, overall_confidence=0.5), Document.Status.REVIEW)
    assert mails(reviewer) == ["review_required"]


def test_it_holds_mail_back_during_quiet_hours_in_the_users_timezone(owner, reviewer):
    reviewer.timezone = "America/New_York"
    reviewer.save()
    NotificationPreference.objects.create(
        user=reviewer,
        notification_type="review_required",
        channel="email",
        quiet_hours_start=datetime.time(22, 0),
        quiet_hours_end=datetime.time(7, 0),
    )
    zone = zoneinfo.ZoneInfo("America/New_York")
    night = datetime.datetime(2026, 11, 23, 23, 30, tzinfo=zone)
    document = make_document(owner)
    Document.objects.filter(id=document.id).update(processed_at=night)
    services.dispatch(
        message=services.Message(
            type="review_required",
            title="t",
            text="x",
            occurrence="q",
            template_key="review_required",
            template_context={"document": services._document_context(document), "document_url": "u", "reason": "r"},
            document=document,
        ),
        recipients=[reviewer],
        now=night,
    )
    queued = EmailQueue.objects.get(user=reviewer)
    assert queued.next_attempt_at == datetime.datetime(2026, 11, 24, 7, 0, tzinfo=zone)


@pytest.mark.embedded
def test_it_bundles_digest_entries_into_one_mail(owner, reviewer, smtp_server):
    smtp_server.start()
    NotificationPreference.objects.create(
        user=reviewer, notification_type="review_required", channel="email", digest="hourly"
    )
    for title in ("Rechnung A", "Rechnung B"):
        _processed(make_document(owner, title=title), Document.Status.REVIEW)
    assert mails(reviewer) == [] and DigestEntry.objects.filter(user=reviewer).count() == 2

    assert email_queue.digest_send_due(now=timezone.now()) == 0  # the hour is not over yet
    assert email_queue.digest_send_due(now=timezone.now() + datetime.timedelta(hours=1)) == 1
    assert email_queue.digest_send_due(now=timezone.now() + datetime.timedelta(hours=2)) == 0

    (queued,) = EmailQueue.objects.filter(user=reviewer)
    assert queued.template.key == "daily_digest"
    assert "Rechnung A" in queued.text_body and "Rechnung B" in queued.text_body
    email_queue.email_send(email_id=queued.id, now=queued.next_attempt_at)
    assert len(smtp_server.messages) == 1


def test_it_waits_for_the_digest_hour_for_daily_summaries(owner, reviewer):
    reviewer.timezone = "Europe/Berlin"
    reviewer.save()
    NotificationPreference.objects.create(
        user=reviewer, notification_type="review_required", channel="email", digest="daily"
    )
    zone = zoneinfo.ZoneInfo("Europe/Berlin")
    _processed(make_document(owner), Document.Status.REVIEW)
    DigestEntry.objects.update(created_at=datetime.datetime(2026, 11, 23, 6, 0, tzinfo=zone))
    assert email_queue.digest_send_due(now=datetime.datetime(2026, 11, 23, 7, 59, tzinfo=zone)) == 0
    assert email_queue.digest_send_due(now=datetime.datetime(2026, 11, 23, 8, 1, tzinfo=zone)) == 1


@pytest.mark.parametrize("breakage", ["missing", "undeclared_variable"])
def test_it_still_sends_webhooks_and_records_the_mail_as_failed_when_its_template_is_broken(
    owner, reviewer, outsider, endpoints, breakage
):
    from notifications.models import EmailTemplate

    if breakage == "missing":
        EmailTemplate.objects.filter(key="review_required").update(is_active=False)
        reason = "keine aktive E-Mail-Vorlage „review_required“"
    else:
        template = EmailTemplate.objects.get(key="review_required")
        template.variables = [*template.variables, "nicht_da"]
        template.save()
        reason = "fehlende Variablen nicht_da"

    _processed(make_document(owner), Document.Status.REVIEW)

    assert hooks(owner) == ["document.processed", "document.review_required"]
    assert hooks(reviewer) == ["document.processed", "document.review_required"]
    assert in_app(reviewer) == ["review_required"]
    failed = EmailQueue.objects.get(user=reviewer)
    assert failed.status == EmailQueue.Status.FAILED
    assert reason in failed.last_error
    assert failed.subject.startswith("Bitte prüfen:")


def test_it_never_fails_the_document_change_when_notifying_breaks(owner, reviewer, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("kaputt")

    monkeypatch.setattr(services, "dispatch", broken)
    document = make_document(owner)
    document_services.document_reject(document=document, user=reviewer, reason="Grund")
    document.refresh_from_db()
    assert document.status == Document.Status.REJECTED


def test_it_notifies_from_the_real_pipeline(owner, reviewer, outsider, endpoints, born_digital_pdf):
    document = document_services.document_ingest(owner=owner, filename="rechnung.pdf", data=born_digital_pdf)
    job = document.jobs.get()
    document_services.job_run(job_id=job.id)
    document.refresh_from_db()

    assert document.status in (Document.Status.APPROVED, Document.Status.REVIEW)
    assert in_app(owner) == ["document_processed"]
    expected_hooks = {"document.created", "document.processed"} | (
        {"document.approved"} if document.status == Document.Status.APPROVED else {"document.review_required"}
    )
    assert set(hooks(owner)) == expected_hooks
    assert in_app(outsider) == mails(outsider) == hooks(outsider) == []


def test_it_tells_the_author_about_a_failed_run_without_a_document(owner, reviewer, outsider, endpoints):
    from workflows.models import Workflow, WorkflowExecution

    workflow = Workflow.objects.create(name="Wochenexport", trigger_type=Workflow.Trigger.MANUAL, created_by=owner)
    execution = WorkflowExecution.objects.create(workflow=workflow, trigger_event=Workflow.Trigger.MANUAL)

    services.notify_workflow_failed(execution=execution, error="Ziel nicht erreichbar")

    assert in_app(owner) == ["workflow_failed"] and mails(owner) == ["workflow_failed"]
    assert in_app(reviewer) == [] and in_app(outsider) == []
    # Only endpoints for all documents hear about a run that concerns no document.
    assert hooks(owner) == hooks(outsider) == [] and hooks(reviewer) == ["workflow.failed"]
