"""Pages about the signed-in person: signing in (lockout, TOTP), language, time zone, API keys."""

import time

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from ablage.errors import ApplicationError
from accounts.forms import LOCKED_MESSAGE, APIKeyForm, CodeForm, LoginForm, TimezoneForm, client_ip
from accounts.models import APIKey, User
from accounts.services import (
    api_key_create,
    api_key_revoke,
    language_is_offered,
    login_address_locked,
    login_failure_record,
    login_success_record,
    totp_code_valid,
    totp_disable,
    totp_enrolment_confirm,
    totp_enrolment_start,
    totp_for,
    two_factor_required,
    user_language_set,
    user_timezone_set,
)


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


# --- signing in -------------------------------------------------------------------------

PENDING_SESSION_KEY = "accounts.two_factor_pending"
# The password step is only good for this long; then the person starts over.
PENDING_MAX_AGE_SECONDS = 300


class SignInView(auth_views.LoginView):
    """E-mail and password (with lockout); people with TOTP continue to the code step."""

    form_class = LoginForm
    template_name = "accounts/login.html"

    def form_valid(self, form):
        user = form.get_user()
        if user.has_two_factor:
            # Not signed in yet: only who passed the password step, and when.
            self.request.session[PENDING_SESSION_KEY] = {
                "user_id": str(user.pk),
                "backend": user.backend,
                "next": self.get_redirect_url(),
                "at": time.time(),
            }
            return HttpResponseRedirect(reverse("accounts:two-factor"))
        login_success_record(user=user, ip_address=client_ip(self.request))
        return super().form_valid(form)


def _pending_user(request) -> tuple[User | None, dict]:
    pending = request.session.get(PENDING_SESSION_KEY) or {}
    if not pending or time.time() - pending.get("at", 0) > PENDING_MAX_AGE_SECONDS:
        return None, {}
    user = User.objects.filter(pk=pending["user_id"], is_active=True).first()
    return user, pending


@sensitive_post_parameters("code")
@never_cache
def two_factor_verify(request):
    """Second step of signing in: the TOTP code. Wrong codes count towards the lockout."""
    user, pending = _pending_user(request)
    if user is None:
        request.session.pop(PENDING_SESSION_KEY, None)
        messages.warning(request, _("Bitte melden Sie sich erneut an."))
        return HttpResponseRedirect(reverse("accounts:login"))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ip_address = client_ip(request)
        if login_address_locked(ip_address=ip_address) or user.is_locked:
            form.add_error(None, LOCKED_MESSAGE)
        elif totp_code_valid(user=user, code=form.cleaned_data["code"]):
            del request.session[PENDING_SESSION_KEY]
            auth_login(request, user, backend=pending["backend"])
            login_success_record(user=user, ip_address=ip_address)
            next_url = pending.get("next") or ""
            if not url_has_allowed_host_and_scheme(
                next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
            ):
                next_url = resolve_url(settings.LOGIN_REDIRECT_URL)
            return HttpResponseRedirect(next_url)
        else:
            login_failure_record(email=user.email, ip_address=ip_address)
            form.add_error("code", _("Der Code stimmt nicht."))
    return render(request, "accounts/two_factor_verify.html", {"form": form})


# --- account settings -------------------------------------------------------------------


def _settings_context(request, **extra) -> dict:
    user = request.user
    qr_svg = ""
    otpauth_uri = ""
    if user.totp_secret and not user.has_two_factor:
        otpauth_uri = totp_for(user).provisioning_uri()
        # segno writes the SVG itself; only the URI (secret + e-mail) goes in, no user HTML.
        qr_svg = segno.make(otpauth_uri, error="m").svg_inline(scale=4)
    return {
        "timezone_form": TimezoneForm(initial={"timezone": user.timezone}),
        "code_form": CodeForm(),
        "api_key_form": APIKeyForm(),
        "api_keys": user.api_keys.order_by("-created_at"),
        "two_factor_required": two_factor_required(user),
        "otpauth_uri": otpauth_uri,
        "qr_svg": mark_safe(qr_svg),  # noqa: S308 - generated by segno from our own URI
        "session_idle_minutes": settings.SESSION_IDLE_TIMEOUT_SECONDS // 60,
        "session_max_minutes": settings.SESSION_MAX_AGE_SECONDS // 60,
        **extra,
    }


@login_required
@never_cache
def account_settings(request):
    """Time zone, two-factor sign-in and the person's own API keys on one page."""
    return render(request, "accounts/settings.html", _settings_context(request))


@login_required
@require_POST
def timezone_set(request):
    form = TimezoneForm(request.POST)
    if form.is_valid():
        user_timezone_set(user=request.user, timezone_name=form.cleaned_data["timezone"])
        messages.success(request, _("Zeitzone gespeichert."))
        return HttpResponseRedirect(reverse("accounts:settings"))
    return render(request, "accounts/settings.html", _settings_context(request, timezone_form=form), status=400)


@login_required
@require_POST
def two_factor_start(request):
    try:
        totp_enrolment_start(user=request.user)
    except ApplicationError as refusal:
        messages.error(request, refusal.message)
    return HttpResponseRedirect(reverse("accounts:settings") + "#zwei-faktor")


@login_required
@require_POST
@sensitive_post_parameters("code")
def two_factor_confirm(request):
    form = CodeForm(request.POST)
    if form.is_valid():
        try:
            totp_enrolment_confirm(user=request.user, code=form.cleaned_data["code"])
        except ApplicationError as refusal:
            form.add_error("code", refusal.message)
        else:
            messages.success(request, _("Zwei-Faktor-Anmeldung ist eingerichtet."))
            return HttpResponseRedirect(reverse("accounts:settings"))
    return render(request, "accounts/settings.html", _settings_context(request, code_form=form), status=400)


@login_required
@require_POST
@sensitive_post_parameters("code")
def two_factor_disable(request):
    form = CodeForm(request.POST)
    if form.is_valid():
        try:
            totp_disable(user=request.user, code=form.cleaned_data["code"])
        except ApplicationError as refusal:
            form.add_error("code", refusal.message)
        else:
            messages.success(request, _("Zwei-Faktor-Anmeldung ist abgeschaltet."))
            return HttpResponseRedirect(reverse("accounts:settings"))
    return render(request, "accounts/settings.html", _settings_context(request, disable_form=form), status=400)


@login_required
@require_POST
@never_cache
def api_key_create_view(request):
    """Create a key for oneself; the secret is shown in this response only (no redirect)."""
    form = APIKeyForm(request.POST)
    if form.is_valid():
        try:
            api_key, raw_key = api_key_create(user=request.user, actor=request.user, **form.cleaned_data)
        except ApplicationError as refusal:
            form.add_error(None, refusal.message)
        else:
            return render(
                request, "accounts/settings.html", _settings_context(request, new_key=api_key, new_raw_key=raw_key)
            )
    return render(request, "accounts/settings.html", _settings_context(request, api_key_form=form), status=400)


@login_required
@require_POST
def api_key_revoke_view(request, key_id):
    # Own keys only on this page (admins use the admin); a foreign id is a 404.
    api_key = get_object_or_404(APIKey, pk=key_id, user=request.user)
    try:
        api_key_revoke(api_key=api_key, actor=request.user)
    except ApplicationError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, _("Schlüssel „%(name)s“ widerrufen.") % {"name": api_key.name})
    return HttpResponseRedirect(reverse("accounts:settings") + "#api-schluessel")
