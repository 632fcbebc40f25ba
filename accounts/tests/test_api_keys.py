"""API keys: scopes, expiry, allowed networks, per-key rate, usage counters, revocation, the settings page."""

from datetime import timedelta

import pytest
from django.core.cache import caches
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from ablage.errors import ApplicationError
from accounts.models import APIKey
from accounts.services import api_key_create, api_key_revoke
from monitoring.models import AuditLog

pytestmark = pytest.mark.django_db

LIST = "/api/v1/documents/"


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    caches["throttle"].clear()


def _client(raw_key, ip="127.0.0.1"):
    client = APIClient(REMOTE_ADDR=ip)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return client


def _key(user, **options):
    options.setdefault("scopes", ["read"])
    return api_key_create(user=user, actor=user, name="ERP", **options)


def test_it_lets_a_read_key_read_but_not_write(owner):
    _api_key, raw = _key(owner, scopes=["read"])
    client = _client(raw)

    assert client.get(LIST).status_code == 200
    refused = client.post(LIST, {}, format="multipart")
    assert refused.status_code == 403
    assert "write" in refused.json()["error"]["message"]


def test_it_lets_a_write_only_key_write_but_not_read(owner):
    _api_key, raw = _key(owner, scopes=["write"])
    client = _client(raw)

    assert client.get(LIST).status_code == 403
    assert client.post(LIST, {}, format="multipart").status_code == 400  # past the scope check: no file


def test_it_refuses_an_expired_key(owner):
    api_key, raw = _key(owner, expires_at=timezone.now() + timedelta(hours=1))
    APIKey.objects.filter(pk=api_key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert _client(raw).get(LIST).status_code == 401


def test_it_refuses_a_revoked_key_and_records_who_revoked_it(owner):
    api_key, raw = _key(owner)

    api_key_revoke(api_key=api_key, actor=owner)

    assert _client(raw).get(LIST).status_code == 401
    assert AuditLog.objects.filter(action="api_key_revoked", object_id=str(api_key.pk), actor=owner).exists()
    with pytest.raises(ApplicationError):
        api_key_revoke(api_key=api_key, actor=owner)


def test_it_accepts_a_key_only_from_its_allowed_networks(owner):
    _api_key, raw = _key(owner, allowed_networks=["192.0.2.0/24", "2001:db8::1"])

    assert _client(raw, ip="192.0.2.77").get(LIST).status_code == 200
    assert _client(raw, ip="2001:db8::1").get(LIST).status_code == 200
    assert _client(raw, ip="198.51.100.1").get(LIST).status_code == 401


def test_it_refuses_malformed_networks_by_name(owner):
    with pytest.raises(ApplicationError, match=r"10\.0\.0\.0/33"):
        _key(owner, allowed_networks=["10.0.0.0/33"])


def test_it_counts_requests_and_remembers_the_last_use(owner):
    api_key, raw = _key(owner)
    client = _client(raw, ip="192.0.2.5")

    client.get(LIST)
    client.get(LIST)

    api_key.refresh_from_db()
    assert api_key.request_count == 2
    assert api_key.last_used_ip == "192.0.2.5"
    assert api_key.last_used_at is not None


def test_it_limits_each_key_to_its_own_rate(owner):
    _slow, slow_raw = _key(owner, rate_limit_per_minute=2)
    _fast, fast_raw = _key(owner)
    slow = _client(slow_raw)

    assert [slow.get(LIST).status_code for _ in range(3)] == [200, 200, 429]
    assert slow.get(LIST).json()["error"]["code"] == "throttled"
    assert _client(fast_raw).get(LIST).status_code == 200


def test_it_gives_the_admin_scope_to_admins_only(owner, django_user_model):
    with pytest.raises(ApplicationError):
        _key(owner, scopes=["read", "admin"])
    admin = django_user_model.objects.create_superuser("chef@example.com", "Passwort-12345")
    api_key, _raw = _key(admin, scopes=["admin"])
    assert api_key.scopes == ["admin"]


def test_it_lets_no_one_but_admins_create_keys_for_others(owner, outsider):
    with pytest.raises(ApplicationError):
        api_key_create(user=outsider, actor=owner, name="fremd", scopes=["read"])


def test_it_shows_a_new_key_once_on_the_settings_page(client, owner):
    client.force_login(owner)

    created = client.post(
        reverse("accounts:api-key-create"),
        {"name": "Buchhaltung", "scopes": ["read", "write"], "allowed_networks": "192.0.2.0/24"},
    )

    api_key = APIKey.objects.get(user=owner)
    raw = created.context["new_raw_key"]
    assert raw in created.content.decode()
    assert api_key.scopes == ["read", "write"]
    assert api_key.allowed_networks == ["192.0.2.0/24"]
    assert raw not in client.get(reverse("accounts:settings")).content.decode()
    assert api_key.prefix in client.get(reverse("accounts:settings")).content.decode()


def test_it_explains_a_bad_network_on_the_settings_page(client, owner):
    client.force_login(owner)

    response = client.post(
        reverse("accounts:api-key-create"), {"name": "x", "scopes": ["read"], "allowed_networks": "kein-netz"}
    )

    assert response.status_code == 400
    assert "kein-netz" in response.content.decode()
    assert not APIKey.objects.exists()


def test_it_revokes_only_own_keys_on_the_settings_page(client, owner, outsider):
    foreign, _raw = _key(outsider)
    own, _raw = _key(owner)
    client.force_login(owner)

    assert client.post(reverse("accounts:api-key-revoke", args=[foreign.pk])).status_code == 404
    client.post(reverse("accounts:api-key-revoke", args=[own.pk]))

    foreign.refresh_from_db()
    own.refresh_from_db()
    assert foreign.revoked_at is None
    assert own.revoked_at is not None
