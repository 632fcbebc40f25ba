import time
import zoneinfo

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
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


# Session keys: when the person signed in, and when they last did something themselves.
SIGNED_IN_AT = "ablage_signed_in_at"
ACTIVE_AT = "ablage_active_at"
# Requests the browser makes on its own (polling, pushes): they must not keep a session alive.
BACKGROUND_HEADER = "X-Ablage-Background"
BACKGROUND_URL_NAMES = {"notifications:bell", "documents:progress", "documents:review-changes"}
# Saving the session on every click costs a write; a minute of slack does not matter.
ACTIVITY_RESOLUTION_SECONDS = 60


def clock() -> float:
    """Seconds since the epoch; tests replace it to move time forward."""
    return time.time()


class SessionTimeoutMiddleware:
    """Signs a session out after ``SESSION_IDLE_TIMEOUT_SECONDS`` without activity (each of the
    person's own requests starts the period again) and ``SESSION_MAX_AGE_SECONDS`` after sign-in
    however active it was. The request then goes on as anonymous: pages send it to the sign-in
    page with a notice, the API answers that authentication is required.

    API keys are not sessions and are not affected.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            self._check(request)
        return self.get_response(request)

    def _check(self, request) -> None:
        session, now = request.session, clock()
        signed_in_at = session.get(SIGNED_IN_AT)
        active_at = session.get(ACTIVE_AT)
        if signed_in_at is None or active_at is None:
            # A session from before this middleware, or one opened by login(): its clock starts now.
            session[SIGNED_IN_AT] = signed_in_at or now
            session[ACTIVE_AT] = now
            return
        if now - active_at > settings.SESSION_IDLE_TIMEOUT_SECONDS:
            self._sign_out(request, MESSAGE_IDLE)
        elif now - signed_in_at > settings.SESSION_MAX_AGE_SECONDS:
            self._sign_out(request, MESSAGE_MAX_AGE)
        elif not _background(request) and now - active_at >= ACTIVITY_RESOLUTION_SECONDS:
            session[ACTIVE_AT] = now

    @staticmethod
    def _sign_out(request, message) -> None:
        logout(request)
        if not request.path.startswith("/api/"):
            messages.info(request, message)


def _background(request) -> bool:
    if request.headers.get(BACKGROUND_HEADER) == "1":
        return True
    match = _resolve(request.path_info)
    return match is not None and match.view_name in BACKGROUND_URL_NAMES


MESSAGE_IDLE = _("Ihre Sitzung ist wegen Inaktivität abgelaufen. Bitte melden Sie sich erneut an.")
MESSAGE_MAX_AGE = _("Ihre Sitzung hat die Höchstdauer erreicht. Bitte melden Sie sich erneut an.")
