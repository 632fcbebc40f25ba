import zoneinfo

from django.conf import settings
from django.http import HttpResponseRedirect, JsonResponse
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from accounts.services import two_factor_required


class UserPreferencesMiddleware:
    """Apply the signed-in user's language and time zone to the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
            try:
                timezone.activate(zoneinfo.ZoneInfo(user.timezone))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        response = self.get_response(request)
        timezone.deactivate()
        return response


class TwoFactorEnforcementMiddleware:
    """Someone whose role must use TOTP (``auth.two_factor_roles``) but has not set it up
    reaches nothing but the set-up page, signing out and static files until they do.

    API keys are not affected: they are not signed-in sessions and carry their own limits.
    """

    ALLOWED_URL_NAMES = {
        "accounts:settings",
        "accounts:two-factor-start",
        "accounts:two-factor-confirm",
        "accounts:logout",
        "accounts:language-set",
    }

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not user.has_two_factor
            and not request.path.startswith(settings.STATIC_URL)
            and two_factor_required(user)
        ):
            match = getattr(request, "resolver_match", None) or _resolve(request.path_info)
            if match is None or match.view_name not in self.ALLOWED_URL_NAMES:
                if request.path.startswith("/api/"):
                    return JsonResponse(
                        {"error": {"code": "two_factor_required", "message": str(TWO_FACTOR_REQUIRED_MESSAGE)}},
                        status=403,
                    )
                return HttpResponseRedirect(reverse("accounts:settings") + "#zwei-faktor")
        return self.get_response(request)


TWO_FACTOR_REQUIRED_MESSAGE = _("Für Ihre Rolle ist die Zwei-Faktor-Anmeldung Pflicht. Bitte richten Sie sie ein.")


def _resolve(path: str):
    try:
        return resolve(path)
    except Resolver404:
        return None
