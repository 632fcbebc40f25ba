from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from ablage.errors import ApplicationError
from system.services import secrets_rotate


class Command(BaseCommand):
    help = (
        "Alle verschlüsselten Geheimnisse (Postfach-Kennwörter, Webhook- und TOTP-Schlüssel, geheime "
        "Einstellungen) mit dem aktuellen ABLAGE_FIELD_ENCRYPTION_KEY neu verschlüsseln. Den bisherigen "
        "Schlüssel mit --old-key oder in ABLAGE_FIELD_ENCRYPTION_OLD_KEYS angeben."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--old-key",
            action="append",
            default=[],
            dest="old_keys",
            metavar="SCHLÜSSEL",
            help=(
                "Bisheriger Fernet-Schlüssel (mehrfach möglich), als --old-key=SCHLÜSSEL, da ein Schlüssel "
                "mit '-' beginnen kann. Ohne Angabe gelten ABLAGE_FIELD_ENCRYPTION_OLD_KEYS."
            ),
        )

    def handle(self, *args, old_keys, **options):
        try:
            result = secrets_rotate(old_keys=tuple(old_keys))
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"{result.rewritten} Geheimnisse mit dem aktuellen Schlüssel neu verschlüsselt "
            f"({', '.join(result.columns)}). Der alte Schlüssel wird nicht mehr gebraucht."
        )
