"""The notification centre and the settings page, as a signed-in user sees them."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications import services
from notifications.models import Notification, NotificationPreference
from notifications.tests.conftest import make_document

pytestmark = pytest.mark.django_db


def _notify(user, title="Bitte prüfen: <script>x</script>", document=None, **extra):
    return Notification.objects.create(
        user=user,
        type="review_required",
        title=title,
        message="m",
        document=document,
        expires_at=timezone.now() + datetime.timedelta(days=1),
        **extra,
    )


@pytest.mark.embedded
def test_it_shows_the_unread_count_on_the_bell(client, owner, outsider):
    _notify(owner)
    _notify(owner)
    _notify(owner, read_at=timezone.now())
    _notify(outsider)
    client.force_login(owner)
    page = client.get(reverse("documents:list")).content.decode()
    assert 'data-unread="2"' in page


def test_it_lists_own_notifications_escaped_and_marks_them_read(client, owner, outsider):
    mine, theirs = _notify(owner), _notify(outsider, title="Fremd")
    client.force_login(owner)
    page = client.get(reverse("notifications:list")).content.decode()
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x" not in page
    assert "Fremd" not in page

    assert client.post(reverse("notifications:read", args=[theirs.id])).status_code == 404
    assert client.post(reverse("notifications:read", args=[mine.id])).status_code == 302
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.is_read and not theirs.is_read


def test_it_marks_all_read_for_htmx_and_answers_with_the_partial(client, owner, outsider):
    _notify(owner)
    _notify(owner)
    other = _notify(outsider)
    client.force_login(owner)
    response = client.post(reverse("notifications:read-all"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "<html" not in response.content.decode()
    assert not Notification.objects.filter(user=owner, read_at__isnull=True).exists()
    other.refresh_from_db()
    assert not other.is_read


def test_it_opens_the_document_only_while_the_user_may_see_it(client, owner, outsider):
    document = make_document(owner)
    notification = _notify(owner, document=document)
    client.force_login(owner)
    response = client.get(reverse("notifications:open", args=[notification.id]))
    assert response.status_code == 302 and str(document.id) in response["Location"]
    notification.refresh_from_db()
    assert notification.is_read

    # A notification about a document the user can no longer see leads nowhere.
    Notification.objects.filter(id=notification.id).update(user=outsider, read_at=None)
    client.force_login(outsider)
    response = client.get(reverse("notifications:open", args=[notification.id]))
    assert response["Location"] == reverse("notifications:list")


def test_it_hides_expired_notifications_and_purges_them(client, owner):
    expired = _notify(owner, title="Alt")
    Notification.objects.filter(id=expired.id).update(
        created_at=timezone.now() - datetime.timedelta(days=10), expires_at=timezone.now() - datetime.timedelta(days=1)
    )
    client.force_login(owner)
    assert "Alt" not in client.get(reverse("notifications:list")).content.decode()
    assert services.notifications_purge_expired() == 1
    assert not Notification.objects.filter(id=expired.id).exists()


@pytest.mark.embedded
def test_it_saves_preferences_from_the_settings_page(client, owner):
    client.force_login(owner)
    page = client.get(reverse("notifications:settings"))
    assert page.status_code == 200 and "Prüfung erforderlich" in page.content.decode()
    data = {"quiet_hours_start": "22:00", "quiet_hours_end": "06:30"}
    for notification_type in (
        "document_processed",
        "review_required",
        "review_completed",
        "document_rejected",
        "processing_failed",
        "workflow_failed",
    ):
        data.update({f"{notification_type}-in_app": "on", f"{notification_type}-digest": "none"})
    data.update(
        {
            "review_required-email": "on",
            "review_required-digest": "daily",
            "review_required-confidence_below_percent": "80",
        }
    )

    assert client.post(reverse("notifications:settings"), data).status_code == 302

    email = NotificationPreference.objects.get(user=owner, notification_type="review_required", channel="email")
    assert email.enabled and email.digest == "daily" and email.confidence_below == 0.8
    assert email.quiet_hours_start == datetime.time(22, 0) and email.quiet_hours_end == datetime.time(6, 30)
    assert not NotificationPreference.objects.get(
        user=owner, notification_type="processing_failed", channel="email"
    ).enabled


def test_it_explains_an_incomplete_quiet_time(client, owner):
    client.force_login(owner)
    data = {"quiet_hours_start": "22:00"}
    for notification_type in (
        "document_processed",
        "review_required",
        "review_completed",
        "document_rejected",
        "processing_failed",
        "workflow_failed",
    ):
        data[f"{notification_type}-digest"] = "none"
    response = client.post(reverse("notifications:settings"), data)
    assert response.status_code == 200
    assert "Beginn und Ende der Ruhezeit" in response.content.decode()
    assert not NotificationPreference.objects.filter(user=owner).exists()


def test_it_sends_anonymous_visitors_to_the_login(client):
    response = client.get(reverse("notifications:list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
