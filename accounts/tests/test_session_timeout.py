"""Session timeout: idle (sliding, background polling does not count) plus an absolute maximum."""

import pytest
from django.urls import reverse

from accounts import middleware

pytestmark = pytest.mark.django_db

IDLE, MAXIMUM = 600, 3600
T0 = 1_800_000_000.0


@pytest.fixture
def clock(monkeypatch, settings):
    settings.SESSION_IDLE_TIMEOUT_SECONDS = IDLE
    settings.SESSION_MAX_AGE_SECONDS = MAXIMUM
    now = {"t": T0}
    monkeypatch.setattr(middleware, "clock", lambda: now["t"])

    def at(seconds):
        now["t"] = T0 + seconds

    return at


@pytest.fixture
def clerk_client(client, django_user_model):
    user = django_user_model.objects.create_user("clerk@example.com", "Passwort-12345")
    client.force_login(user)
    return client


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def _inbox(client, **headers):
    return client.get(reverse("documents:list"), **headers)


def test_it_signs_out_after_the_idle_timeout_and_says_why(clock, clerk_client):
    clock(0)
    assert _inbox(clerk_client).status_code == 200
    clock(IDLE - 1)
    assert _inbox(clerk_client).status_code == 200  # activity: the idle period starts again here

    clock(2 * IDLE)
    response = _inbox(clerk_client)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert not _signed_in(clerk_client)
    login_page = clerk_client.get(response["Location"])
    assert "wegen Inaktivität abgelaufen" in login_page.content.decode()


def test_it_keeps_an_active_session_past_the_idle_timeout(clock, clerk_client):
    for seconds in range(0, 3 * IDLE, IDLE // 2):
        clock(seconds)
        assert _inbox(clerk_client).status_code == 200, seconds
    assert _signed_in(clerk_client)


def test_it_does_not_count_polling_as_activity(clock, clerk_client):
    clock(0)
    _inbox(clerk_client)
    clock(IDLE // 2)
    assert clerk_client.get(reverse("notifications:bell")).status_code == 200
    clock(IDLE - 10)
    assert _inbox(clerk_client, HTTP_X_ABLAGE_BACKGROUND="1").status_code == 200

    clock(IDLE + 1)

    assert _inbox(clerk_client).status_code == 302
    assert not _signed_in(clerk_client)


def test_it_ends_a_session_at_the_maximum_age_however_active(clock, clerk_client):
    for seconds in range(0, MAXIMUM + 1, IDLE // 2):
        clock(seconds)
        assert _inbox(clerk_client).status_code == 200, seconds

    clock(MAXIMUM + 1)
    response = _inbox(clerk_client)

    assert response.status_code == 302
    assert not _signed_in(clerk_client)
    assert "Höchstdauer" in clerk_client.get(response["Location"]).content.decode()


def test_it_answers_the_api_with_authentication_required_after_the_timeout(clock, clerk_client):
    clock(0)
    assert clerk_client.get("/api/v1/me/").status_code == 200

    clock(IDLE + 1)
    response = clerk_client.get("/api/v1/me/")

    assert response.status_code in (401, 403)
    assert not _signed_in(clerk_client)
