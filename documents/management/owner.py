"""Whom documents created from the command line belong to."""

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError


def resolve_owner(email: str | None):
    """The active user with ``email``, or the first active administrator when none is given."""
    users = get_user_model().objects.filter(is_active=True)
    user = users.filter(email__iexact=email).first() if email else users.filter(is_superuser=True).first()
    if user is None:
        raise CommandError(
            f"Benutzer {email} nicht gefunden." if email else "Kein Administrator vorhanden; --owner angeben."
        )
    return user
