"""The e-mail queue against a real SMTP server on loopback (aiosmtpd), including an outage."""

import datetime
import email as email_parser
from email import policy

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from notifications import email as email_queue
from notifications.models import EmailQueue, EmailTemplate

pytestmark = pytest.mark.django_db

DOCUMENT = {
    "title": "Rechnung <b>RE-1</b>",
    "original_filename": "re-1.pdf",
    "status": "Prüfung nötig",
    "document_number": "RE-1",
    "total_amount": "",
    "overall_confidence": "70 %",
}


def _enqueue(to="olga@example.com", **kwargs):
    return email_queue.email_enqueue(
        template_key="review_required",
        to_address=to,
        to_name="Olga Owner",
        context={"user_name": "Olga", "document": DOCUMENT, "document_url": "http://x/d/1/", "reason": "unsicher"},
        **kwargs,
    )


def _parsed(envelope):
    return email_parser.message_from_bytes(envelope.original_content, policy=policy.default)


def test_it_renders_html_and_text_parts_from_the_seeded_german_template():
    queued = _enqueue()
    assert queued.subject == "Bitte prüfen: Rechnung <b>RE-1</b>"
    assert "Rechnung <b>RE-1</b>" in queued.text_body
    # The HTML part escapes what came from the document.
    assert "Rechnung &lt;b&gt;RE-1&lt;/b&gt;" in queued.html_body and "<b>RE-1" not in queued.html_body
    assert queued.message_id.startswith("<") and queued.message_id.endswith("@localhost>")


def test_it_refuses_a_context_that_does_not_match_the_declared_variables():
    with pytest.raises(email_queue.TemplateContextError, match="reason"):
        email_queue.email_enqueue(
            template_key="review_required",
            to_address="a@example.com",
            context={"user_name": "x", "document": DOCUMENT, "document_url": "u", "secret": "x"},
        )


def test_it_refuses_to_save_a_template_with_undeclared_variables():
    template = EmailTemplate.objects.get(key="review_required")
    template.text_template += "{{ settings.SECRET_KEY }}"
    with pytest.raises(ValidationError):
        template.full_clean()


def test_it_keeps_templates_in_the_sandbox():
    template = EmailTemplate(
        key="probe",
        name="p",
        subject_template="x",
        variables=["user_name"],
        text_template="{{ user_name.__class__.__mro__ }}",
        html_template="",
    )
    with pytest.raises(email_queue.TemplateContextError):
        email_queue.email_render(template, {"user_name": "x"})


@pytest.mark.embedded
def test_it_seeds_the_default_german_templates():
    keys = set(EmailTemplate.objects.values_list("key", flat=True))
    assert {
        "document_processed",
        "review_required",
        "document_rejected",
        "workflow_failed",
        "daily_digest",
        "password_reset",
        "processing_failed",
        "review_completed",
    } <= keys
    for template in EmailTemplate.objects.all():
        template.full_clean()
        subject, text, html = email_queue.email_render(template, email_queue.sample_context(template))
        assert subject and text and html


def test_it_sends_through_smtp_with_both_parts_and_the_stored_message_id(smtp_server):
    smtp_server.start()
    queued = _enqueue()

    assert email_queue.email_send(email_id=queued.id) == EmailQueue.Status.SENT

    (envelope,) = smtp_server.messages
    message = _parsed(envelope)
    assert envelope.rcpt_tos == ["olga@example.com"]
    assert message["Message-ID"] == queued.message_id
    assert message["Subject"] == "Bitte prüfen: Rechnung <b>RE-1</b>"
    assert {part.get_content_type() for part in message.walk()} >= {"text/plain", "text/html"}
    queued.refresh_from_db()
    assert queued.status == EmailQueue.Status.SENT and queued.sent_at is not None and queued.attempts == 1


@pytest.mark.embedded
def test_it_delivers_mails_queued_during_an_smtp_outage_exactly_once_after_it_returns(smtp_server):
    first, second = _enqueue("a@example.com"), _enqueue("b@example.com")
    now = timezone.now()

    # Down: each attempt fails and waits 5, then 10 minutes.
    assert email_queue.email_send(email_id=first.id, now=now) == EmailQueue.Status.QUEUED
    assert email_queue.email_send(email_id=second.id, now=now) == EmailQueue.Status.QUEUED
    first.refresh_from_db()
    assert first.next_attempt_at == now + datetime.timedelta(minutes=5)
    assert "Connection" in first.last_error or "refused" in first.last_error.lower()
    assert email_queue.email_due_ids(now=now + datetime.timedelta(minutes=4)) == []
    later = now + datetime.timedelta(minutes=5)
    for mail_id in email_queue.email_due_ids(now=later):
        email_queue.email_send(email_id=mail_id, now=later)
    first.refresh_from_db()
    assert first.attempts == 2 and first.next_attempt_at == later + datetime.timedelta(minutes=10)

    smtp_server.start()
    back = later + datetime.timedelta(minutes=10)
    for _sweep in range(3):  # several sweeps, as the beat would run them
        for mail_id in email_queue.email_due_ids(now=back):
            email_queue.email_send(email_id=mail_id, now=back)

    assert sorted(envelope.rcpt_tos[0] for envelope in smtp_server.messages) == ["a@example.com", "b@example.com"]
    first.refresh_from_db()
    second.refresh_from_db()
    assert {_parsed(envelope)["Message-ID"] for envelope in smtp_server.messages} == {
        first.message_id,
        second.message_id,
    }
    assert first.status == second.status == EmailQueue.Status.SENT


def test_it_backs_off_5_10_20_40_minutes_then_fails_with_the_error(smtp_server):
    queued = _enqueue()
    now, delays = timezone.now(), []
    while True:
        status = email_queue.email_send(email_id=queued.id, now=now)
        queued.refresh_from_db()
        if status == EmailQueue.Status.FAILED:
            break
        delays.append(queued.next_attempt_at - now)
        now = queued.next_attempt_at
    assert delays == [datetime.timedelta(minutes=m) for m in (5, 10, 20, 40)]
    assert queued.attempts == queued.max_attempts == 5
    assert queued.last_error
    assert email_queue.email_send(email_id=queued.id, now=now + datetime.timedelta(days=1)) is None


def test_it_fails_at_once_when_the_server_refuses_the_recipient(smtp_server):
    class RefusingRecorder(type(smtp_server.recorder)):
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            return "550 5.1.1 Unbekannter Empfänger"

    smtp_server.recorder = RefusingRecorder()
    smtp_server.start()
    queued = _enqueue()
    assert email_queue.email_send(email_id=queued.id) == EmailQueue.Status.FAILED
    queued.refresh_from_db()
    assert "550" in queued.last_error and queued.attempts == 1


def test_it_queues_a_mail_with_the_same_dedup_key_once():
    assert _enqueue(dedup_key="k").id == _enqueue(dedup_key="k").id
    assert EmailQueue.objects.count() == 1


def test_it_does_not_send_a_mail_held_back_until_later(smtp_server):
    smtp_server.start()
    queued = _enqueue(send_after=timezone.now() + datetime.timedelta(hours=2))
    assert email_queue.email_send(email_id=queued.id) is None
    assert smtp_server.messages == []


def test_it_sends_a_mail_left_in_sending_by_a_dead_worker_again_with_the_same_message_id(smtp_server):
    smtp_server.start()
    queued = _enqueue()
    stuck_since = timezone.now() - datetime.timedelta(minutes=30)
    EmailQueue.objects.filter(id=queued.id).update(status="sending", attempts=1, sending_started_at=stuck_since)

    assert email_queue.email_recover_stuck() == 1
    assert email_queue.email_send(email_id=queued.id) == EmailQueue.Status.SENT
    assert _parsed(smtp_server.messages[0])["Message-ID"] == queued.message_id


def test_it_marks_a_sent_mail_as_bounced(smtp_server):
    smtp_server.start()
    queued = _enqueue()
    email_queue.email_send(email_id=queued.id)
    email_queue.email_mark_bounced(email=queued, reason="550 mailbox unavailable")
    queued.refresh_from_db()
    assert queued.status == EmailQueue.Status.BOUNCED


def test_it_previews_a_template_in_the_admin_with_the_html_sandboxed(admin_client):
    template = EmailTemplate.objects.get(key="review_required")
    page = admin_client.get(f"/admin/notifications/emailtemplate/{template.pk}/change/").content.decode()
    assert "Bitte prüfen: Rechnung RE-2026-0042" in page
    assert '<iframe sandbox="" srcdoc="' in page
    # The rendered HTML sits inside an attribute, escaped: it cannot break out into the admin page.
    assert 'srcdoc="&lt;p&gt;Hallo Erika Mustermann' in page
