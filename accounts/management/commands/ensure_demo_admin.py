"""Create the demo administrator of the embedded install once and show its credentials.

``make run`` calls this on every start. The first run creates a superuser with a random
password and stores e-mail and password in ``<ABLAGE_DATA_DIR>/demo-admin.txt`` (mode 0600)
so that later runs can print them again; the password is never hard-coded.
"""

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from monitoring.services import audit_log_record

CREDENTIALS_FILE_NAME = "demo-admin.txt"
DEFAULT_EMAIL = "admin@example.com"
ADMIN_GROUP_NAME = "admin"


def credentials_path() -> Path:
    return Path(settings.DATA_DIR) / CREDENTIALS_FILE_NAME


def read_credentials(path: Path) -> tuple[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, separator, value = line.partition("=")
        if not separator:
            raise CommandError(_("%(path)s: Zeile ohne '=': %(line)r") % {"path": path, "line": line})
        values[key.strip()] = value.strip()
    if not values.get("email") or not values.get("password"):
        raise CommandError(
            _("%(path)s enthält keine Zeilen 'email=' und 'password='. Datei prüfen oder löschen.") % {"path": path}
        )
    return values["email"], values["password"]


def write_credentials(path: Path, *, email: str, password: str) -> bool:
    """Write the file with mode 0600; False when another process created it first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL + mode at creation: the password is never readable by others, not even briefly.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(
            "# Ablage demo admin, created by `manage.py ensure_demo_admin`.\n"
            "# Change the password after the first login; this file then no longer matches.\n"
            f"email={email}\npassword={password}\n"
        )
    return True


@transaction.atomic
def create_demo_admin(*, email: str, password: str):
    user = get_user_model().objects.create_superuser(email=email, password=password, display_name="Demo-Admin")
    # Roles are groups; the superuser flag alone would grant rights but hide the role in the UI.
    admin_group = Group.objects.filter(name=ADMIN_GROUP_NAME).first()
    if admin_group is not None:
        user.groups.add(admin_group)
    audit_log_record(actor=None, action="demo_admin.created", obj=user, message="manage.py ensure_demo_admin")
    return user


class Command(BaseCommand):
    help = "Legt den Demo-Admin an (einmalig, zufälliges Passwort) und zeigt die Zugangsdaten."

    def add_arguments(self, parser):
        parser.add_argument(
            "--email",
            default=DEFAULT_EMAIL,
            help=f"E-Mail-Adresse des Demo-Admins beim ersten Anlegen (Standard: {DEFAULT_EMAIL}).",
        )

    def handle(self, *args, email, **options):
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(_("Ungültige E-Mail-Adresse: %(email)r") % {"email": email}) from None

        path = credentials_path()
        if not path.exists():
            users = get_user_model().objects
            if users.filter(email__iexact=email).exists():
                self.stdout.write(
                    _(
                        "Benutzer %(email)s existiert bereits, das Passwort ist unbekannt. "
                        "Neues Passwort setzen: manage.py changepassword %(email)s"
                    )
                    % {"email": email}
                )
                return
            # File first: if creating the user failed afterwards, the next run creates it from
            # the file; the other order could leave an account nobody knows the password of.
            write_credentials(path, email=email.lower(), password=secrets.token_urlsafe(15))

        email, password = read_credentials(path)
        user = get_user_model().objects.filter(email__iexact=email).first()
        if user is None:
            create_demo_admin(email=email, password=password)
            self._print(_("Demo-Admin angelegt."), email=email, password=password, path=path)
        elif user.check_password(password):
            self._print(_("Demo-Admin:"), email=email, password=password, path=path)
        else:
            self.stdout.write(
                _("Demo-Admin %(email)s: Das Passwort wurde geändert; %(path)s gilt nicht mehr.")
                % {"email": email, "path": path}
            )

    def _print(self, headline, *, email, password, path):
        self.stdout.write(self.style.SUCCESS(headline))
        self.stdout.write(f"  {_('E-Mail')}:   {email}")
        self.stdout.write(f"  {_('Passwort')}: {password}")
        self.stdout.write("  " + _("(gespeichert in %(path)s)") % {"path": path})
