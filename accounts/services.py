"""Writes on people: their own preferences. Keyword-only, transactional."""

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from ablage.errors import ApplicationError
from accounts.models import User


def language_is_offered(code: str) -> bool:
    """Whether ``code`` is one of the interface languages in ``settings.LANGUAGES``."""
    return code in {offered for offered, _name in settings.LANGUAGES}


@transaction.atomic
def user_language_set(*, user: User, language: str) -> User:
    """Store the interface language the user chose; refuse codes the product does not offer."""
    if not language_is_offered(language):
        raise ApplicationError(
            _("Die Sprache „%(language)s“ wird nicht angeboten.") % {"language": language},
            code="unsupported_language",
        )
    # Guarded update: a concurrent profile save must not write back the old language.
    User.objects.filter(pk=user.pk).update(language=language)
    user.language = language
    return user
