"""Secrets at rest: encrypted columns, key rotation, the migration of plain-text rows, and no
secret in admin pages, API answers or logs."""

import io
import json
import logging
import os
import subprocess
import sys
from types import SimpleNamespace

import pyotp
import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from ablage.errors import ApplicationError
from accounts.services import totp_enrolment_start
from documents.mail.services import mail_account_set_password
from documents.models import MailAccount
from notifications.models import WebhookEndpoint
from system import crypto
from system.models import SystemConfig
from system.selectors import config_cache_invalidate, config_get
from system.services import config_save
from tests.helpers import stored_column

pytestmark = pytest.mark.django_db

IMAP_PASSWORD = "Postfach-Kennwort-7781"
API_KEY = "sk-modell-4f1c9e2d7a"


@pytest.fixture(autouse=True)
def _fresh_config_cache():
    config_cache_invalidate()
    yield
    config_cache_invalidate()


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("chef@example.com", "Passwort-12345")


@pytest.fixture
def secrets_in_every_column(owner, superuser):
    account = MailAccount(name="Eingang", owner=owner, host="imap.example.de", username="rechnung")
    mail_account_set_password(account=account, password=IMAP_PASSWORD)
    account.save()
    endpoint = WebhookEndpoint.objects.create(owner=owner, name="ERP", url="https://erp.example.de/hook")
    totp_enrolment_start(user=owner)
    owner.refresh_from_db()
    config = config_save(
        key="extraction.model_api_key", value=API_KEY, user=superuser, value_type="string", is_secret=True
    )
    return SimpleNamespace(account=account, endpoint=endpoint, user=owner, config=config)


def _plain_and_stored(found):
    return [
        (IMAP_PASSWORD, stored_column(found.account, "imap_password")),
        (found.endpoint.secret, stored_column(found.endpoint, "secret")),
        (found.user.totp_secret, stored_column(found.user, "totp_secret")),
        (json.dumps(API_KEY), stored_column(found.config, "value_encrypted")),
    ]


def test_it_keeps_only_tokens_in_the_columns_and_plain_text_in_python(secrets_in_every_column):
    found = secrets_in_every_column
    for plain, stored in _plain_and_stored(found):
        assert plain
        assert plain not in stored
        assert crypto.secret_decrypt(stored) == plain
    assert MailAccount.objects.get().imap_password == IMAP_PASSWORD
    assert config_get("extraction.model_api_key") == API_KEY
    assert SystemConfig.objects.get(key="extraction.model_api_key").value is None


def test_it_keeps_an_empty_secret_empty(django_user_model):
    user = django_user_model.objects.create_user("ohne-2fa@example.com", "Passwort-12345")
    assert stored_column(user, "totp_secret") == ""
    assert not user.has_two_factor


def test_it_rotates_every_secret_to_the_new_key(secrets_in_every_column):
    found = secrets_in_every_column
    before = _plain_and_stored(found)
    old_key = settings.ABLAGE_FIELD_ENCRYPTION_KEY
    new_key = Fernet.generate_key().decode()

    with override_settings(ABLAGE_FIELD_ENCRYPTION_KEY=new_key):
        # A Fernet key may begin with "-": the "=" form is the one that always parses.
        call_command("rotate_secrets_key", f"--old-key={old_key}", stdout=io.StringIO())

    after = _plain_and_stored(found)
    for (plain, stored_before), (_plain, stored_after) in zip(before, after, strict=True):
        assert stored_after != stored_before
        assert Fernet(new_key.encode()).decrypt(stored_after.encode()).decode() == plain
    with override_settings(ABLAGE_FIELD_ENCRYPTION_KEY=new_key, SECRET_KEY="ein-ganz-anderer-schluessel"):
        assert MailAccount.objects.get().imap_password == IMAP_PASSWORD
        assert WebhookEndpoint.objects.get().secret == found.endpoint.secret
        assert pyotp.TOTP(type(found.user).objects.get(pk=found.user.pk).totp_secret).now()
        config_cache_invalidate()
        assert config_get("extraction.model_api_key") == API_KEY


def test_it_changes_nothing_when_a_secret_opens_with_none_of_the_keys(secrets_in_every_column):
    found = secrets_in_every_column
    before = _plain_and_stored(found)

    with override_settings(ABLAGE_FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(), SECRET_KEY="anders"):
        with pytest.raises(CommandError, match="Nichts geändert: 4 Werte lassen sich mit keinem der Schlüssel öffnen"):
            call_command("rotate_secrets_key", "--old-key", Fernet.generate_key().decode())
        with pytest.raises(CommandError, match="not a Fernet key"):
            call_command("rotate_secrets_key", "--old-key", "kein-schluessel")

    assert _plain_and_stored(found) == before


def test_it_reads_an_unreadable_secret_as_empty_and_refuses_to_use_it(secrets_in_every_column, caplog):
    found = secrets_in_every_column
    stored = stored_column(found.account, "imap_password")

    with override_settings(ABLAGE_FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(), SECRET_KEY="anders"):
        with caplog.at_level(logging.WARNING, logger="system.crypto"):
            account = MailAccount.objects.get()
        assert account.imap_password == ""
        with pytest.raises(ApplicationError, match="kann nicht entschlüsselt werden"):
            crypto.require_secret(account.imap_password)
        account.name = "Umbenannt"
        account.save()

    assert "documents.MailAccount.imap_password" in caplog.text
    assert stored not in caplog.text
    assert stored_column(account, "imap_password") == stored  # saving other fields kept the token
    assert MailAccount.objects.get().imap_password == IMAP_PASSWORD


def test_the_migration_encrypts_plain_text_and_re_encrypts_legacy_tokens(owner):
    endpoint = WebhookEndpoint.objects.create(owner=owner, name="ERP", url="https://erp.example.de/hook")
    account = MailAccount.objects.create(
        name="Eingang", owner=owner, host="imap.example.de", username="rechnung", imap_password="x"
    )
    other = MailAccount.objects.create(
        name="Zweites", owner=owner, host="imap.example.de", username="zwei", imap_password="x"
    )
    field = WebhookEndpoint._meta.get_field("secret")
    crypto.column_write(connection, WebhookEndpoint, field, endpoint.pk, "whsec_klartext-vor-der-migration")
    legacy = crypto._legacy_fernet(settings.SECRET_KEY).encrypt(IMAP_PASSWORD.encode()).decode()
    password_field = MailAccount._meta.get_field("imap_password")
    crypto.column_write(connection, MailAccount, password_field, account.pk, legacy)
    foreign = Fernet(Fernet.generate_key()).encrypt(b"unbekannt").decode()
    crypto.column_write(connection, MailAccount, password_field, other.pk, foreign)
    editor = SimpleNamespace(connection=connection)
    from django.apps import apps

    forwards, backwards = crypto.migration_encrypt_plaintext("notifications", "WebhookEndpoint", "secret")
    forwards(apps, editor)
    mail_forwards, _ = crypto.migration_encrypt_plaintext("documents", "MailAccount", "imap_password", held_tokens=True)
    mail_forwards(apps, editor)

    assert "klartext" not in stored_column(endpoint, "secret")
    assert WebhookEndpoint.objects.get().secret == "whsec_klartext-vor-der-migration"
    current = Fernet(settings.ABLAGE_FIELD_ENCRYPTION_KEY.encode())
    assert current.decrypt(stored_column(account, "imap_password").encode()).decode() == IMAP_PASSWORD
    assert stored_column(other, "imap_password") == foreign  # not encrypted a second time

    backwards(apps, editor)
    assert stored_column(endpoint, "secret") == "whsec_klartext-vor-der-migration"


def test_it_shows_no_secret_in_admin_pages_or_api_answers(client, superuser, secrets_in_every_column):
    found = secrets_in_every_column
    client.force_login(superuser)
    pages = [
        reverse("admin:notifications_webhookendpoint_change", args=[found.endpoint.pk]),
        reverse("admin:notifications_webhookendpoint_changelist"),
        reverse("admin:accounts_user_change", args=[found.user.pk]),
        reverse("admin:documents_mailaccount_change", args=[found.account.pk]),
        reverse("admin:system_systemconfig_change", args=[found.config.pk]),
        reverse("admin:system_systemconfig_changelist"),
        reverse("system:settings"),
        reverse("api-v1:config-list"),
    ]
    secrets = (
        [API_KEY]
        + [plain for plain, _stored in _plain_and_stored(found)]
        + [stored for _plain, stored in _plain_and_stored(found)]
    )
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        for secret in secrets:
            assert secret not in body, (url, secret[:6])


def _settings_in_a_fresh_process(tmp_path, **environment):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ABLAGE_", "DATABASE_URL", "SECRET_KEY", "DJANGO_SETTINGS_MODULE"))
    }
    env.update(ABLAGE_DATA_DIR=str(tmp_path), SECRET_KEY="fest", **environment)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django.conf, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'ablage.settings'; "
            "print(django.conf.settings.ABLAGE_FIELD_ENCRYPTION_KEY)",
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        timeout=60,
    )


def test_the_embedded_install_generates_its_key_once_and_production_must_set_one(tmp_path):
    first = _settings_in_a_fresh_process(tmp_path)
    second = _settings_in_a_fresh_process(tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert Fernet(first.stdout.strip().encode())
    assert (tmp_path / "field_encryption_key").read_text() == first.stdout.strip()
    assert oct((tmp_path / "field_encryption_key").stat().st_mode & 0o777) == "0o600"

    production = _settings_in_a_fresh_process(tmp_path, DATABASE_URL="postgres://ablage@db:5432/ablage")
    assert production.returncode != 0
    assert "ABLAGE_FIELD_ENCRYPTION_KEY (or ABLAGE_FIELD_ENCRYPTION_KEY_FILE) must be set with PostgreSQL" in (
        production.stderr
    )

    wrong = _settings_in_a_fresh_process(tmp_path, ABLAGE_FIELD_ENCRYPTION_KEY="zu-kurz")
    assert wrong.returncode != 0
    assert "ABLAGE_FIELD_ENCRYPTION_KEY holds a value that is not a Fernet key" in wrong.stderr
