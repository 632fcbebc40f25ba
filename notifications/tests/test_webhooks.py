"""Webhook deliveries against a real HTTP receiver on loopback: signatures, retries, exactly once."""

import base64
import datetime
import hashlib
import hmac
import json
import logging

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from ablage.errors import ApplicationError
from monitoring.models import AuditLog
from notifications import webhooks
from notifications.models import NotificationPreference, WebhookDelivery, WebhookEndpoint
from notifications.tests.conftest import Reply, make_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(owner, receiver, loopback_guard):
    return webhooks.endpoint_create(
        owner=owner,
        name="ERP",
        url=receiver.url(),
        events=["document.processed", "document.approved", "document.rejected"],
        guard=loopback_guard,
    )


def _attempt_until_settled(delivery, guard, *, limit=10):
    """Run attempts the way the beat sweep would, each one when its backoff has passed."""
    statuses = []
    for _ in range(limit):
        delivery.refresh_from_db()
        if delivery.status not in (WebhookDelivery.Status.PENDING,):
            break
        statuses.append(webhooks.delivery_attempt(delivery_id=delivery.id, now=delivery.next_attempt_at, guard=guard))
    delivery.refresh_from_db()
    return statuses


def _verify(secret: str, headers: dict, body: bytes) -> bool:
    """What a receiver does (Standard Webhooks): HMAC over id.timestamp.body with the base64 key."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(part == f"v1,{expected}" for part in headers["webhook-signature"].split(" "))


def test_it_delivers_a_signed_json_event_with_standard_webhooks_headers(owner, endpoint, receiver, loopback_guard):
    document = make_document(owner, title="Rechnung <RE-7>")
    (delivery,) = webhooks.event_emit(event="document.processed", occurrence="a", document=document)

    assert webhooks.delivery_attempt(delivery_id=delivery.id, guard=loopback_guard) == WebhookDelivery.Status.DELIVERED

    (request,) = receiver.requests
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert headers["content-type"] == "application/json"
    assert headers["webhook-id"] == f"msg_{delivery.id.hex}"
    assert abs(int(headers["webhook-timestamp"]) - timezone.now().timestamp()) < 60
    assert _verify(endpoint.secret, headers, request.body)
    body = json.loads(request.body)
    assert body["type"] == "document.processed"
    assert body["data"]["document"]["id"] == str(document.id)
    assert body["data"]["document"]["title"] == "Rechnung <RE-7>"
    endpoint.refresh_from_db()
    assert endpoint.last_success_at is not None and endpoint.failure_count == 0


@pytest.mark.embedded
def test_it_retries_500_three_times_then_delivers_once_with_the_same_webhook_id(
    owner, endpoint, receiver, loopback_guard
):
    receiver.script = [Reply(500), Reply(500), Reply(500), Reply(200)]
    (delivery,) = webhooks.event_emit(event="document.processed", occurrence="a", document=make_document(owner))

    statuses = _attempt_until_settled(delivery, loopback_guard)

    assert statuses == ["pending", "pending", "pending", "delivered"]
    assert delivery.status == WebhookDelivery.Status.DELIVERED and delivery.attempts == 4
    assert len({request.headers["webhook-id"] for request in receiver.requests}) == 1
    assert receiver.processed_ids == [f"msg_{delivery.id.hex}"]


def test_it_backs_off_with_growing_jittered_delays(owner, endpoint, receiver, loopback_guard):
    receiver.script = [Reply(503)]
    (delivery,) = webhooks.event_emit(event="document.processed", occurrence="a", document=make_document(owner))
    delays, now = [], timezone.now()
    for _ in range(3):
        webhooks.delivery_attempt(delivery_id=delivery.id, now=now, guard=loopback_guard)
        delivery.refresh_from_db()
        delays.append((delivery.next_attempt_at - now).total_seconds())
        now = delivery.next_attempt_at
    assert 30 <= delays[0] <= 45 and 60 <= delays[1] <= 90 and 120 <= delays[2] <= 180
    # Not yet due: a sweep before the backoff has passed leaves it alone.
    assert webhooks.delivery_attempt(delivery_id=delivery.id, now=now - datetime.timedelta(seconds=1)) is None


def test_it_times_out_a_hanging_receiver_and_delivers_once_on_the_retry(
    settings, owner, endpoint, receiver, loopback_guard
):
    settings.ABLAGE_WEBHOOK_TIMEOUT_SECONDS = 0.5
    receiver.script = [Reply(200, delay=1.5), Reply(200)]
    (delivery,) = webhooks.event_emit(event="document.processed", occurrence="a", document=make_document(owner))

    assert webhooks.delivery_attempt(delivery_id=delivery.id, guard=loopback_guard) == WebhookDelivery.Status.PENDING
    delivery.refresh_from_db()
    assert delivery.last_error == "Zeitüberschreitung"

    assert _attempt_until_settled(delivery, loopback_guard) == ["delivered"]
    assert len(receiver.requests) == 2
    # The hanging request may still have been processed late by the receiver; the id makes it one event.
    assert set(receiver.processed_ids) == {f"msg_{delivery.id.hex}"}


def test_it_gives_up_after_max_attempts_and_can_be_resent_with_the_same_id(owner, endpoint, receiver, loopback_guard):
    receiver.script = [Reply(500)]
    (delivery,) = webhooks.event_emit(event="document.processed", occurrence="a", document=make_document(owner))
    WebhookDelivery.objects.filter(id=delivery.id).update(max_attempts=3)

    _attempt_until_settled(delivery, loopback_guard)

    assert delivery.status == WebhookDelivery.Status.DEAD and delivery.attempts == 3
    assert delivery.last_error == "HTTP 500" and delivery.response_status == 500

    receiver.script = [Reply(204)]
    webhooks.delivery_resend(delivery=delivery)
    assert _attempt_until_settled(delivery, loopback_guard) == ["delivered"]
    assert {request.headers["webhook-id"] for request in receiver.requests} == {f"msg_{delivery.id.hex}"}


def test_it_does_not_retry_a_client_error(owner, endpoint, receiver, loopback_guard):
    receiver.script = [Reply(410)]
    (delivery,) = webhooks.event_emit(event="document.processed", occurrence="a", document=make_document(owner))
    assert _attempt_until_settled(delivery, loopback_guard) == ["dead"]


def test_it_retries_429_and_connection_errors(owner, receiver, loopback_guard):
    receiver.script = [Reply(429), Reply(200)]
    webhooks.endpoint_create(
        owner=owner, name="A", url=receiver.url(), events=["document.created"], guard=loopback_guard
    )
    (delivery,) = webhooks.event_emit(event="document.created", occurrence="a", document=make_document(owner))
    assert _attempt_until_settled(delivery, loopback_guard) == ["pending", "delivered"]

    receiver.close()  # nobody listens any more: connection refused
    (second,) = webhooks.event_emit(event="document.created", occurrence="b", document=make_document(owner))
    assert webhooks.delivery_attempt(delivery_id=second.id, guard=loopback_guard) == WebhookDelivery.Status.PENDING
    second.refresh_from_db()
    assert "ConnectionRefused" in second.last_error


def test_it_emits_one_occurrence_once_per_endpoint(owner, endpoint):
    document = make_document(owner)
    first = webhooks.event_emit(event="document.processed", occurrence="x", document=document)
    again = webhooks.event_emit(event="document.processed", occurrence="x", document=document)
    assert len(first) == 1 and again == []
    assert WebhookDelivery.objects.count() == 1


def test_it_sends_only_subscribed_events_of_documents_in_scope(owner, outsider, reviewer, receiver, loopback_guard):
    own = webhooks.endpoint_create(
        owner=owner, name="own", url=receiver.url("/own"), events=["document.processed"], guard=loopback_guard
    )
    everything = webhooks.endpoint_create(
        owner=reviewer,
        name="all",
        url=receiver.url("/all"),
        events=["document.processed"],
        scope="all",
        guard=loopback_guard,
    )
    # The outsider subscribes with scope "all" by writing the row directly: visibility still stops it.
    foreign = WebhookEndpoint.objects.create(
        owner=outsider, name="spy", url=receiver.url("/spy"), events=["document.processed"], scope="all"
    )

    deliveries = webhooks.event_emit(event="document.processed", occurrence="1", document=make_document(owner))
    webhooks.event_emit(event="document.approved", occurrence="1", document=make_document(owner))

    assert {delivery.endpoint_id for delivery in deliveries} == {own.id, everything.id}
    assert not WebhookDelivery.objects.filter(endpoint=foreign).exists()


def test_it_refuses_scope_all_to_users_who_cannot_see_everything(outsider, receiver, loopback_guard):
    with pytest.raises(ApplicationError):
        webhooks.endpoint_create(
            owner=outsider,
            name="all",
            url=receiver.url(),
            events=["document.processed"],
            scope="all",
            guard=loopback_guard,
        )


def test_it_sends_team_events_only_for_documents_of_team_members(
    owner, outsider, django_user_model, receiver, loopback_guard
):
    from django.contrib.auth.models import Permission

    team = Group.objects.create(name="Buchhaltung")
    lead = django_user_model.objects.create_user("lead@example.com", "Passwort-12345")
    lead.user_permissions.add(Permission.objects.get(codename="view_all_documents"))
    lead.groups.add(team)
    owner.groups.add(team)
    webhooks.endpoint_create(
        owner=lead,
        name="team",
        url=receiver.url(),
        events=["document.processed"],
        scope="team",
        team=team,
        guard=loopback_guard,
    )
    assert len(webhooks.event_emit(event="document.processed", occurrence="1", document=make_document(owner))) == 1
    assert webhooks.event_emit(event="document.processed", occurrence="2", document=make_document(outsider)) == []


def test_it_honours_the_owners_webhook_preference(owner, endpoint):
    NotificationPreference.objects.create(
        user=owner, notification_type="document_processed", channel="webhook", enabled=False
    )
    assert webhooks.event_emit(event="document.processed", occurrence="1", document=make_document(owner)) == []


def test_it_delivers_a_per_document_callback_through_the_same_path(owner, receiver, loopback_guard):
    document = make_document(owner)
    delivery = webhooks.callback_emit(
        url=receiver.url("/cb"), event="document.processed", occurrence="1", document=document
    )
    assert webhooks.delivery_attempt(delivery_id=delivery.id, guard=loopback_guard) == WebhookDelivery.Status.DELIVERED
    assert receiver.requests[0].path == "/cb"
    assert receiver.requests[0].headers["webhook-id"] == f"msg_{delivery.id.hex}"


def test_it_lets_the_owner_resend_a_dead_delivery_from_the_ui(client, owner, outsider, endpoint):
    (delivery,) = webhooks.event_emit(event="document.processed", occurrence="1", document=make_document(owner))
    WebhookDelivery.objects.filter(id=delivery.id).update(status="dead", attempts=8, last_error="HTTP 500")
    url = reverse("notifications:delivery-resend", args=[delivery.id])

    client.force_login(outsider)
    assert client.post(url).status_code == 404
    client.force_login(owner)
    page = client.get(reverse("notifications:webhook", args=[endpoint.id]))
    assert "HTTP 500" in page.content.decode() and "Erneut senden" in page.content.decode()
    assert client.post(url).status_code == 302

    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 0


def test_it_hides_other_peoples_webhooks(client, outsider, endpoint):
    client.force_login(outsider)
    assert client.get(reverse("notifications:webhook", args=[endpoint.id])).status_code == 404
    assert endpoint.name not in client.get(reverse("notifications:webhooks")).content.decode()


def test_it_keeps_the_signing_secret_out_of_the_logs_and_encrypted_in_the_database(
    owner, endpoint, receiver, loopback_guard, caplog
):
    from tests.helpers import stored_column

    receiver.script = [Reply(500), Reply(200)]
    (delivery,) = webhooks.event_emit(event="document.processed", occurrence="a", document=make_document(owner))

    with caplog.at_level(logging.DEBUG):
        statuses = _attempt_until_settled(delivery, loopback_guard)

    assert statuses[-1] == WebhookDelivery.Status.DELIVERED
    assert "retrying" in caplog.text
    assert endpoint.secret.removeprefix("whsec_") not in caplog.text
    assert endpoint.secret.removeprefix("whsec_") not in stored_column(endpoint, "secret")


def test_it_deletes_a_webhook_from_the_ui_only_when_confirmed_and_sends_nothing_pending(
    client, owner, outsider, endpoint, receiver, loopback_guard
):
    (delivery,) = webhooks.event_emit(event="document.processed", occurrence="1", document=make_document(owner))
    url = reverse("notifications:webhook-delete", args=[endpoint.id])

    client.force_login(outsider)
    assert client.post(url, {"confirm": "yes"}).status_code == 404
    client.force_login(owner)
    assert "Webhook löschen" in client.get(reverse("notifications:webhook", args=[endpoint.id])).content.decode()
    client.post(url)
    assert WebhookEndpoint.objects.filter(id=endpoint.id).exists(), "deleted without confirmation"

    response = client.post(url, {"confirm": "yes"}, follow=True)

    assert "gelöscht" in response.content.decode()
    assert not WebhookEndpoint.objects.filter(id=endpoint.id).exists()
    assert webhooks.delivery_attempt(delivery_id=delivery.id, guard=loopback_guard) is None
    assert receiver.requests == []
    audit = AuditLog.objects.get(action="webhook.deleted", object_id=str(endpoint.id))
    assert audit.changes["pending"] == 1 and audit.changes["url"] == endpoint.url
