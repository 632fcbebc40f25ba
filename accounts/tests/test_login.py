"""Signing in: Argon2, lockout per account and per address, TOTP, password reset, time zone."""

import re
import zoneinfo

import pyotp
import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher, make_password
from django.contrib.auth.models import Group
from django.core import mail
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.middleware import UserPreferencesMiddleware
from accounts.models import LoginFailure
from system.services import config_set

pytestmark = pytest.mark.django_db

LOGIN = "/konto/anmelden/"
PASSWORD = "Passwort-12345"


def _login(client, email, password=PASSWORD, ip="198.51.100.7"):
    return client.post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR=ip)


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def three_strikes():
    config_set(key="auth.login_max_failures", value=3, user=None)


def test_it_hashes_passwords_with_argon2_in_production_settings():
    from ablage import settings as production

    assert production.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    encoded = make_password("Passwort-12345", hasher=Argon2PasswordHasher())
    assert encoded.startswith("argon2$argon2id$")
    assert Argon2PasswordHasher().verify("Passwort-12345", encoded)


def test_it_signs_in_with_email_and_password(client, owner):
    response = _login(client, "Owner@Example.com")

    assert response.status_code == 302
    assert _signed_in(client)
    owner.refresh_from_db()
    assert owner.last_login_ip == "198.51.100.7"


def test_it_locks_an_account_after_too_many_wrong_passwords(client, owner, three_strikes):
    for _attempt in range(3):
        assert _login(client, owner.email, "falsch", ip=f"198.51.100.{_attempt}").status_code == 200

    response = _login(client, owner.email, ip="203.0.113.9")

    assert not _signed_in(client)
    assert "Zu viele fehlgeschlagene Anmeldungen" in response.content.decode()
    owner.refresh_from_db()
    assert owner.is_locked


def test_it_lets_the_account_in_again_after_the_lockout(client, owner, three_strikes):
    for _attempt in range(3):
        _login(client, owner.email, "falsch", ip=f"198.51.100.{_attempt}")
    type(owner).objects.filter(pk=owner.pk).update(locked_until=timezone.now() - timezone.timedelta(seconds=1))

    _login(client, owner.email, ip="203.0.113.9")

    assert _signed_in(client)


def test_it_locks_an_address_that_tries_many_accounts(client, owner, three_strikes):
    for name in ("a", "b", "gibt-es-nicht"):
        _login(client, f"{name}@example.com", "falsch", ip="192.0.2.66")

    refused = _login(client, owner.email, ip="192.0.2.66")
    assert not _signed_in(client)
    assert "Zu viele fehlgeschlagene Anmeldungen" in refused.content.decode()

    _login(client, owner.email, ip="192.0.2.67")
    assert _signed_in(client)


def test_it_forgets_failures_older_than_the_window(client, owner, three_strikes):
    for name in ("a", "b", "c"):
        _login(client, f"{name}@example.com", "falsch", ip="192.0.2.66")
    LoginFailure.objects.update(created_at=timezone.now() - timezone.timedelta(hours=1))

    _login(client, owner.email, ip="192.0.2.66")

    assert _signed_in(client)


def _enrol(client, user) -> pyotp.TOTP:
    client.force_login(user)
    client.post(reverse("accounts:two-factor-start"))
    page = client.get(reverse("accounts:settings")).content.decode()
    assert "<svg" in page
    user.refresh_from_db()
    totp = pyotp.TOTP(user.totp_secret)
    assert user.totp_secret in page
    response = client.post(reverse("accounts:two-factor-confirm"), {"code": totp.now()})
    assert response.status_code == 302
    client.logout()
    return totp


def test_it_asks_for_the_totp_code_after_the_password(client, owner):
    totp = _enrol(client, owner)

    response = _login(client, owner.email)
    assert response.url == reverse("accounts:two-factor")
    assert not _signed_in(client)

    wrong = client.post(reverse("accounts:two-factor"), {"code": "123456" if totp.now() != "123456" else "654321"})
    assert "Der Code stimmt nicht" in wrong.content.decode()
    assert not _signed_in(client)

    right = client.post(reverse("accounts:two-factor"), {"code": totp.now()})
    assert right.status_code == 302
    assert _signed_in(client)


def test_it_refuses_the_code_step_without_the_password_step(client, owner):
    totp = _enrol(client, owner)

    response = client.post(reverse("accounts:two-factor"), {"code": totp.now()})

    assert response.url == reverse("accounts:login")
    assert not _signed_in(client)


def test_it_counts_wrong_codes_towards_the_lockout(client, owner, three_strikes):
    _enrol(client, owner)
    _login(client, owner.email, ip="192.0.2.80")
    for _attempt in range(3):
        client.post(reverse("accounts:two-factor"), {"code": "abcdef"}, REMOTE_ADDR="192.0.2.80")
        client.post(reverse("accounts:two-factor"), {"code": "000001"}, REMOTE_ADDR="192.0.2.80")

    owner.refresh_from_db()
    assert owner.is_locked


def test_it_sends_people_whose_role_requires_two_factor_to_the_set_up_page(client, owner):
    owner.groups.add(Group.objects.get(name="clerk"))
    config_set(key="auth.two_factor_roles", value="admin,clerk", user=None)
    client.force_login(owner)

    page = client.get("/")
    api = client.get("/api/v1/documents/")

    assert page.status_code == 302
    assert page.url.startswith(reverse("accounts:settings"))
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "two_factor_required"
    assert client.get(reverse("accounts:settings")).status_code == 200


def test_it_lets_people_in_once_the_required_second_factor_is_set_up(client, owner):
    owner.groups.add(Group.objects.get(name="clerk"))
    config_set(key="auth.two_factor_roles", value="clerk", user=None)
    totp = _enrol(client, owner)
    _login(client, owner.email)
    client.post(reverse("accounts:two-factor"), {"code": totp.now()})

    assert client.get("/").status_code == 200


def test_it_resets_a_forgotten_password_by_email(client, owner):
    client.post(reverse("accounts:password-reset"), {"email": owner.email})

    [message] = mail.outbox
    assert "neues Passwort" in message.subject
    link = re.search(r"https?://[^/]+(/konto/passwort-neu/\S+)", message.body).group(1)
    form_url = client.get(link).url  # Django swaps the token for a session marker
    response = client.post(form_url, {"new_password1": "Neues-Passwort-987", "new_password2": "Neues-Passwort-987"})

    assert response.url == reverse("accounts:password-reset-complete")
    _login(client, owner.email, "Neues-Passwort-987")
    assert _signed_in(client)


def test_it_sends_no_mail_for_an_unknown_address_and_says_the_same(client):
    response = client.post(reverse("accounts:password-reset"), {"email": "niemand@example.com"})

    assert response.url == reverse("accounts:password-reset-done")
    assert mail.outbox == []


def test_it_applies_the_users_time_zone_to_the_request(owner):
    owner.timezone = "America/New_York"
    seen = {}

    def view(request):
        seen["zone"] = timezone.get_current_timezone()
        from django.http import HttpResponse

        return HttpResponse()

    request = RequestFactory().get("/")
    request.user = owner
    UserPreferencesMiddleware(view)(request)

    assert seen["zone"] == zoneinfo.ZoneInfo("America/New_York")
    assert timezone.get_current_timezone_name() != "America/New_York"


def test_it_saves_a_chosen_time_zone_and_refuses_unknown_ones(client, owner):
    client.force_login(owner)

    client.post(reverse("accounts:timezone-set"), {"timezone": "Europe/Vienna"})
    refused = client.post(reverse("accounts:timezone-set"), {"timezone": "Mars/Olympus"})

    owner.refresh_from_db()
    assert owner.timezone == "Europe/Vienna"
    assert refused.status_code == 400
