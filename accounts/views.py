"""Pages about the signed-in person: choosing the interface language."""

from django.conf import settings
from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ablage.errors import ApplicationError
from accounts.services import language_is_offered, user_language_set


def _safe_next_url(request) -> str:
    """Where to go after switching: the posted ``next`` or the referrer, if it stays on this site."""
    for candidate in (request.POST.get("next"), request.headers.get("referer")):
        if candidate and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return candidate
    return reverse("documents:list")


@require_POST
def language_set(request):
    """Switch the interface language (Django's ``set_language`` plus saving it on the user).

    Signed-in users get their language from ``user.language`` (UserPreferencesMiddleware),
    so the cookie alone would be overridden on the next request; it is still set so that
    the login page after signing out stays in the chosen language.
    """
    language = request.POST.get("language", "")
    if not language_is_offered(language):
        return HttpResponseBadRequest(_("Diese Sprache wird nicht angeboten."))
    if request.user.is_authenticated:
        try:
            user_language_set(user=request.user, language=language)
        except ApplicationError as refusal:
            return HttpResponseBadRequest(refusal.message)
    response = HttpResponseRedirect(_safe_next_url(request))
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response
