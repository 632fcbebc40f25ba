import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification, WebhookEndpoint

pytestmark = pytest.mark.django_db


def _notify(user, title="Bitte prüfen"):
    return Notification.objects.create(
        user=user,
        type="review_required",
        title=title,
        message="m",
        expires_at=timezone.now() + datetime.timedelta(days=1),
    )


def test_it_lists_and_marks_only_the_callers_notifications(client, owner, outsider):
    mine, theirs = _notify(owner), _notify(outsider, title="Fremd")
    client.force_login(owner)

    listed = client.get(reverse("api-v1:notification-list")).json()
    assert [item["id"] for item in listed["results"]] == [str(mine.id)]
    assert client.post(reverse("api-v1:notification-read", args=[theirs.id])).status_code == 404
    response = client.post(reverse("api-v1:notification-read", args=[mine.id]))
    assert response.status_code == 200 and response.json()["is_read"] is True

    _notify(owner)
    assert client.post(reverse("api-v1:notification-read-all")).json() == {"marked_read": 1}
    assert client.get(reverse("api-v1:notification-list") + "?unread=1").json()["results"] == []
    theirs.refresh_from_db()
    assert not theirs.is_read


def test_it_requires_authentication(client):
    assert client.get(reverse("api-v1:notification-list")).status_code in (401, 403)


@pytest.fixture
def local_receiver_allowed(settings, receiver):
    """The loopback receiver is the one internal address the outgoing guard lets through."""
    settings.ABLAGE_OUTGOING_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.ABLAGE_OUTGOING_ALLOWED_PORTS = [80, 443, receiver.port]
    return f"http://127.0.0.1:{receiver.port}/hook"


def test_it_creates_a_webhook_over_the_api_and_hands_out_its_secret_once(client, owner, local_receiver_allowed):
    client.force_login(owner)

    created = client.post(
        reverse("api-v1:webhook-list"),
        {"name": "ERP", "url": local_receiver_allowed, "events": ["document.processed"]},
        content_type="application/json",
    )

    assert created.status_code == 201
    body = created.json()
    endpoint = WebhookEndpoint.objects.get(id=body["id"])
    assert body["secret"] == endpoint.secret and endpoint.owner == owner
    assert "secret" not in client.get(reverse("api-v1:webhook-detail", args=[endpoint.id])).json()
    listed = client.get(reverse("api-v1:webhook-list")).json()["results"]
    assert [item["id"] for item in listed] == [str(endpoint.id)]


def test_it_refuses_a_webhook_to_an_internal_address_and_stores_nothing(client, owner):
    client.force_login(owner)

    response = client.post(
        reverse("api-v1:webhook-list"),
        {"name": "Intern", "url": "http://10.0.0.1/hook", "events": ["document.processed"]},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsafe_url"
    assert not WebhookEndpoint.objects.exists()


def test_it_hides_another_persons_webhook_and_its_deliveries(client, owner, outsider, local_receiver_allowed):
    endpoint = WebhookEndpoint.objects.create(
        owner=outsider, name="Fremd", url=local_receiver_allowed, events=["document.processed"]
    )
    client.force_login(owner)
    change = {"name": "Gekapert", "url": local_receiver_allowed, "events": ["document.processed"]}

    assert client.get(reverse("api-v1:webhook-detail", args=[endpoint.id])).status_code == 404
    assert (
        client.put(
            reverse("api-v1:webhook-detail", args=[endpoint.id]), change, content_type="application/json"
        ).status_code
        == 404
    )
    assert client.get(reverse("api-v1:webhook-deliveries", args=[endpoint.id])).status_code == 404
    assert client.get(reverse("api-v1:webhook-list")).json()["results"] == []
    endpoint.refresh_from_db()
    assert endpoint.name == "Fremd"


def test_it_changes_an_own_webhook_over_the_api(client, owner, local_receiver_allowed):
    endpoint = WebhookEndpoint.objects.create(
        owner=owner, name="ERP", url=local_receiver_allowed, events=["document.processed"]
    )
    client.force_login(owner)

    response = client.put(
        reverse("api-v1:webhook-detail", args=[endpoint.id]),
        {"name": "ERP neu", "url": local_receiver_allowed, "events": ["document.approved"], "is_active": False},
        content_type="application/json",
    )

    assert response.status_code == 200
    endpoint.refresh_from_db()
    assert (endpoint.name, endpoint.events, endpoint.is_active) == ("ERP neu", ["document.approved"], False)


def test_it_deletes_an_own_webhook_over_the_api_and_not_another_persons(
    client, owner, outsider, local_receiver_allowed
):
    endpoint = WebhookEndpoint.objects.create(
        owner=owner, name="ERP", url=local_receiver_allowed, events=["document.processed"]
    )
    url = reverse("api-v1:webhook-detail", args=[endpoint.id])
    client.force_login(outsider)
    assert client.delete(url).status_code == 404
    client.force_login(owner)

    assert client.delete(url).status_code == 204

    assert not WebhookEndpoint.objects.filter(id=endpoint.id).exists()
    assert client.get(url).status_code == 404
