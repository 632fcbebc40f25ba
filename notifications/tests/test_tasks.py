"""A real Celery worker on the notify queue sends a queued mail to a real SMTP server."""

import email
import time
from email import policy

import pytest

from documents import services as document_services
from notifications.models import EmailQueue
from notifications.tests.conftest import make_document


@pytest.fixture
def smtp_env(smtp_server, monkeypatch):
    """The worker process reads its SMTP settings from the environment, like a deployment."""
    smtp_server.start()
    monkeypatch.setenv("EMAIL_HOST", "127.0.0.1")
    monkeypatch.setenv("EMAIL_PORT", str(smtp_server.port))
    return smtp_server


def test_it_sends_the_mail_of_a_rejection_through_the_worker(smtp_env, celery_worker, owner, reviewer):
    document = make_document(owner)
    document_services.document_reject(document=document, user=reviewer, reason="Falscher Mandant")

    deadline = time.monotonic() + 30
    while not smtp_env.messages and time.monotonic() < deadline:
        time.sleep(0.2)

    (envelope,) = smtp_env.messages
    assert envelope.rcpt_tos == [owner.email]
    message = email.message_from_bytes(envelope.original_content, policy=policy.default)
    assert "Grund: Falscher Mandant" in message.get_body(preferencelist=("plain",)).get_content()
    queued = EmailQueue.objects.get(user=owner)
    assert queued.status == EmailQueue.Status.SENT and queued.attempts == 1
    time.sleep(1)
    assert len(smtp_env.messages) == 1
