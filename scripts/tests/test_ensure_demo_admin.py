"""`manage.py ensure_demo_admin`: the credentials `make run` prints on every start."""

import stat
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from monitoring.models import AuditLog

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


def _run(*args):
    out = StringIO()
    call_command("ensure_demo_admin", *args, stdout=out)
    return out.getvalue()


def _stored(data_dir):
    lines = (data_dir / "demo-admin.txt").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if not line.startswith("#"))


def test_it_creates_a_superuser_with_a_random_password_stored_for_the_owner_only(data_dir):
    output = _run()

    stored = _stored(data_dir)
    user = get_user_model().objects.get(email="admin@example.com")
    assert user.is_superuser and user.is_staff and user.is_active
    assert user.check_password(stored["password"])
    assert len(stored["password"]) >= 20
    assert stat.S_IMODE((data_dir / "demo-admin.txt").stat().st_mode) == 0o600
    assert "Demo-Admin angelegt" in output
    assert stored["password"] in output
    assert AuditLog.objects.filter(action="demo_admin.created", object_id=str(user.pk)).count() == 1


def test_it_prints_the_same_credentials_again_without_creating_a_second_user(data_dir):
    _run()
    password = _stored(data_dir)["password"]

    output = _run()

    assert get_user_model().objects.count() == 1
    assert f"Passwort: {password}" in output
    assert "angelegt" not in output


def test_it_never_uses_the_same_password_for_two_installs(settings, tmp_path):
    passwords = set()
    for install in ("first", "second"):
        settings.DATA_DIR = tmp_path / install
        get_user_model().objects.all().delete()
        _run()
        passwords.add(_stored(settings.DATA_DIR)["password"])

    assert len(passwords) == 2


def test_it_recreates_the_user_from_the_stored_file_after_the_database_was_reset(data_dir):
    _run()
    password = _stored(data_dir)["password"]
    get_user_model().objects.all().delete()

    _run()

    assert get_user_model().objects.get(email="admin@example.com").check_password(password)


def test_it_leaves_an_existing_account_alone_when_no_credentials_were_stored(data_dir):
    get_user_model().objects.create_user(email="admin@example.com", password="ein-eigenes-Passwort-42")

    output = _run()

    user = get_user_model().objects.get(email="admin@example.com")
    assert user.check_password("ein-eigenes-Passwort-42")
    assert not user.is_superuser
    assert not (data_dir / "demo-admin.txt").exists()
    assert "changepassword" in output


def test_it_says_so_when_the_password_was_changed_after_creation(data_dir):
    _run()
    user = get_user_model().objects.get()
    user.set_password("inzwischen-geändert-2026")
    user.save()

    output = _run()

    assert "gilt nicht mehr" in output
    assert _stored(data_dir)["password"] not in output


def test_it_uses_the_given_e_mail_address_on_first_creation(data_dir):
    _run("--email", "Chefin@Beispiel.de")

    assert get_user_model().objects.get().email == "chefin@beispiel.de"


def test_it_rejects_an_invalid_e_mail_address(data_dir):
    with pytest.raises(CommandError, match="Ungültige E-Mail-Adresse"):
        _run("--email", "kein-at-zeichen")

    assert not (data_dir / "demo-admin.txt").exists()


def test_it_rejects_a_credentials_file_it_cannot_read(data_dir):
    (data_dir / "demo-admin.txt").write_text("nur Unsinn\n")

    with pytest.raises(CommandError, match=r"demo-admin\.txt"):
        _run()

    assert not get_user_model().objects.exists()
