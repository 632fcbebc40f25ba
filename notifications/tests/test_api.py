import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification

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
