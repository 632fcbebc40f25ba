import datetime
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone

from notifications.models import (
    EmailQueue,
    EmailTemplate,
    Notification,
    NotificationPreference,
    WebhookDelivery,
    WebhookEndpoint,
)


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("nora@example.com", "Passwort-12345")


@pytest.fixture
def endpoint(user):
    return WebhookEndpoint.objects.create(
        owner=user, name="ERP", url="https://erp.example.com/hooks/ablage", events=["document.processed"]
    )


@pytest.mark.django_db
def test_it_refuses_a_notification_that_expires_before_it_was_created(user):
    now = timezone.now()
    with pytest.raises(IntegrityError):
        Notification.objects.create(
            user=user,
            type=Notification.Type.INFO,
            title="Hinweis",
            message="Text",
            created_at=now,
            expires_at=now - datetime.timedelta(minutes=1),
        )


@pytest.mark.django_db
def test_it_reports_a_notification_as_read_only_after_read_at_is_set(user):
    notification = Notification.objects.create(user=user, type=Notification.Type.INFO, title="Hinweis", message="x")
    assert not notification.is_read
    notification.read_at = timezone.now()
    assert notification.is_read


@pytest.mark.django_db
def test_it_keeps_one_preference_per_user_type_and_channel(user):
    NotificationPreference.objects.create(
        user=user, notification_type=Notification.Type.REVIEW_REQUIRED, channel=NotificationPreference.Channel.EMAIL
    )
    NotificationPreference.objects.create(
        user=user, notification_type=Notification.Type.REVIEW_REQUIRED, channel=NotificationPreference.Channel.IN_APP
    )
    with pytest.raises(IntegrityError):
        NotificationPreference.objects.create(
            user=user,
            notification_type=Notification.Type.REVIEW_REQUIRED,
            channel=NotificationPreference.Channel.EMAIL,
            enabled=False,
        )


@pytest.mark.django_db
def test_it_refuses_a_digest_on_a_channel_other_than_email(user):
    with pytest.raises(IntegrityError):
        NotificationPreference.objects.create(
            user=user,
            notification_type=Notification.Type.DOCUMENT_PROCESSED,
            channel=NotificationPreference.Channel.IN_APP,
            digest=NotificationPreference.Digest.DAILY,
        )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "end"),
    [(datetime.time(22, 0), None), (None, datetime.time(7, 0)), (datetime.time(8, 0), datetime.time(8, 0))],
)
def test_it_refuses_incomplete_or_empty_quiet_hours(user, start, end):
    with pytest.raises(IntegrityError):
        NotificationPreference.objects.create(
            user=user,
            notification_type=Notification.Type.DOCUMENT_PROCESSED,
            channel=NotificationPreference.Channel.EMAIL,
            quiet_hours_start=start,
            quiet_hours_end=end,
        )


def test_it_applies_quiet_hours_that_span_midnight():
    preference = NotificationPreference(quiet_hours_start=datetime.time(22, 0), quiet_hours_end=datetime.time(7, 0))
    assert preference.is_quiet_at(datetime.time(23, 30))
    assert preference.is_quiet_at(datetime.time(6, 59))
    assert not preference.is_quiet_at(datetime.time(7, 0))
    assert not preference.is_quiet_at(datetime.time(12, 0))


def _email(**overrides):
    values = {"to_address": "kunde@example.com", "subject": "Rechnung", "text_body": "Hallo"}
    return EmailQueue.objects.create(**{**values, **overrides})


@pytest.mark.django_db
def test_it_refuses_an_email_marked_sent_without_a_send_time():
    with pytest.raises(IntegrityError):
        _email(status=EmailQueue.Status.SENT)


@pytest.mark.django_db
def test_it_refuses_more_email_attempts_than_allowed():
    with pytest.raises(IntegrityError):
        _email(attempts=4, max_attempts=3)


@pytest.mark.django_db
def test_it_enqueues_a_mail_with_the_same_dedup_key_only_once():
    _email(dedup_key="review_required:doc-1")
    _email()
    _email()  # blank keys do not deduplicate
    with pytest.raises(IntegrityError):
        _email(dedup_key="review_required:doc-1")


@pytest.mark.django_db
def test_it_delivers_each_event_at_most_once_per_endpoint(user, endpoint):
    other = WebhookEndpoint.objects.create(
        owner=user, name="DMS", url="https://dms.example.com/in", events=["document.processed"]
    )
    event_id = uuid.uuid4()
    WebhookDelivery.objects.create(endpoint=endpoint, event="document.processed", event_id=event_id)
    WebhookDelivery.objects.create(endpoint=other, event="document.processed", event_id=event_id)
    with pytest.raises(IntegrityError):
        WebhookDelivery.objects.create(endpoint=endpoint, event="document.processed", event_id=event_id)


@pytest.mark.django_db
def test_it_refuses_an_impossible_http_status_on_a_delivery(endpoint):
    with pytest.raises(IntegrityError):
        WebhookDelivery.objects.create(
            endpoint=endpoint, event="document.processed", event_id=uuid.uuid4(), response_status=42
        )


@pytest.mark.django_db
def test_it_generates_a_distinct_signing_secret_per_endpoint(user, endpoint):
    other = WebhookEndpoint.objects.create(
        owner=user, name="DMS", url="https://dms.example.com/in", events=["document.failed"]
    )
    assert len(endpoint.secret) >= 32
    assert endpoint.secret != other.secret


@pytest.mark.django_db
def test_it_refuses_unknown_webhook_events(user):
    endpoint = WebhookEndpoint(owner=user, name="ERP", url="https://erp.example.com/", events=["document.exploded"])
    with pytest.raises(ValidationError) as excinfo:
        endpoint.full_clean()
    assert "document.exploded" in str(excinfo.value.message_dict["events"])


def _template(**overrides):
    values = {
        "key": "test_mail",
        "name": "Test",
        "subject_template": "Neu: {{ document.title }}",
        "html_template": "<p>{{ document.title }}</p>",
        "text_template": "{{ document.title }}",
        "variables": ["document"],
    }
    return EmailTemplate(**{**values, **overrides})


@pytest.mark.django_db
def test_it_accepts_an_email_template_that_uses_only_declared_variables():
    _template().full_clean()


@pytest.mark.django_db
def test_it_rejects_an_email_template_using_an_undeclared_variable():
    template = _template(text_template="Hallo {{ user_name }}, {{ document.title }}")
    with pytest.raises(ValidationError) as excinfo:
        template.full_clean()
    assert "user_name" in str(excinfo.value.message_dict["text_template"])


@pytest.mark.django_db
def test_it_rejects_an_email_template_with_a_jinja_syntax_error():
    template = _template(html_template="<p>{{ document.title </p>")
    with pytest.raises(ValidationError) as excinfo:
        template.full_clean()
    assert "Syntaxfehler" in str(excinfo.value.message_dict["html_template"])
