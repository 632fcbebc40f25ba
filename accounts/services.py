"""Writes on people: preferences, sign-in bookkeeping, two-factor, API keys. Keyword-only."""

import ipaddress
import zoneinfo
from datetime import timedelta

import pyotp
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from ablage.errors import ApplicationError
from accounts.models import APIKey, LoginFailure, User, hash_api_key
from monitoring.services import audit_log_record
from system.selectors import config_get


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


# --- sign-in: lockout and two-factor ---------------------------------------------------


def _lockout_window() -> timedelta:
    return timedelta(minutes=config_get("auth.lockout_minutes", 15))


def login_failure_record(*, email: str, ip_address: str | None, now=None) -> None:
    """Count a failed sign-in against the account (if it exists) and the client address.

    The account locks at ``auth.login_max_failures`` failures for ``auth.lockout_minutes``;
    the address is judged by ``login_address_locked`` from the rows written here.
    """
    now = now or timezone.now()
    email = email.strip().lower()[:254]
    max_failures = config_get("auth.login_max_failures", 5)
    with transaction.atomic():
        LoginFailure.objects.create(email=email, ip_address=ip_address or None)
        LoginFailure.objects.filter(created_at__lt=now - _lockout_window()).delete()
        # F() keeps two parallel wrong passwords from both writing back the same count.
        User.objects.filter(email=email).update(failed_login_attempts=F("failed_login_attempts") + 1)
        User.objects.filter(email=email, failed_login_attempts__gte=max_failures).update(
            locked_until=now + _lockout_window(), failed_login_attempts=0
        )


def login_success_record(*, user: User, ip_address: str | None) -> None:
    User.objects.filter(pk=user.pk).update(failed_login_attempts=0, locked_until=None, last_login_ip=ip_address or None)


def login_address_locked(*, ip_address: str | None, now=None) -> bool:
    if not ip_address:
        return False
    now = now or timezone.now()
    recent = LoginFailure.objects.filter(ip_address=ip_address, created_at__gte=now - _lockout_window())
    return recent.count() >= config_get("auth.login_max_failures", 5)


def login_account_locked(*, email: str) -> bool:
    user = User.objects.filter(email=email.strip().lower()).only("locked_until").first()
    return user is not None and user.is_locked


def two_factor_required(user: User) -> bool:
    """Whether one of the user's roles is listed in ``auth.two_factor_roles``."""
    roles = {role.strip() for role in config_get("auth.two_factor_roles", "").split(",") if role.strip()}
    if not roles:
        return False
    return user.groups.filter(name__in=roles).exists()


def totp_for(user: User) -> pyotp.TOTP:
    return pyotp.TOTP(user.totp_secret, issuer="Ablage", name=user.email)


@transaction.atomic
def totp_enrolment_start(*, user: User) -> User:
    """Give the user a fresh, not yet confirmed secret (replacing an unconfirmed one)."""
    if user.has_two_factor:
        raise ApplicationError(_("Zwei-Faktor-Anmeldung ist bereits eingerichtet."), code="two_factor_active")
    user.totp_secret = pyotp.random_base32()
    User.objects.filter(pk=user.pk).update(totp_secret=user.totp_secret, totp_confirmed_at=None)
    return user


def totp_code_valid(*, user: User, code: str) -> bool:
    code = "".join(code.split())
    if not user.totp_secret or not code.isdigit():
        return False
    # One step of clock drift either way (RFC 6238 section 5.2).
    return totp_for(user).verify(code, valid_window=1)


@transaction.atomic
def totp_enrolment_confirm(*, user: User, code: str) -> User:
    if user.has_two_factor:
        raise ApplicationError(_("Zwei-Faktor-Anmeldung ist bereits eingerichtet."), code="two_factor_active")
    if not totp_code_valid(user=user, code=code):
        raise ApplicationError(_("Der Code stimmt nicht. Bitte den aktuellen Code der App eingeben."), code="bad_code")
    user.totp_confirmed_at = timezone.now()
    User.objects.filter(pk=user.pk).update(totp_confirmed_at=user.totp_confirmed_at)
    audit_log_record(actor=user, action="two_factor_enabled", obj=user)
    return user


@transaction.atomic
def totp_disable(*, user: User, code: str) -> User:
    if not user.has_two_factor:
        raise ApplicationError(_("Zwei-Faktor-Anmeldung ist nicht eingerichtet."), code="two_factor_inactive")
    if two_factor_required(user):
        raise ApplicationError(
            _("Für Ihre Rolle ist die Zwei-Faktor-Anmeldung Pflicht."), code="two_factor_required", status_code=403
        )
    if not totp_code_valid(user=user, code=code):
        raise ApplicationError(_("Der Code stimmt nicht."), code="bad_code")
    User.objects.filter(pk=user.pk).update(totp_secret="", totp_confirmed_at=None)
    user.totp_secret, user.totp_confirmed_at = "", None
    audit_log_record(actor=user, action="two_factor_disabled", obj=user)
    return user


@transaction.atomic
def user_timezone_set(*, user: User, timezone_name: str) -> User:
    try:
        zoneinfo.ZoneInfo(timezone_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ApplicationError(
            _("Die Zeitzone „%(zone)s“ ist unbekannt.") % {"zone": timezone_name}, code="unknown_timezone"
        ) from None
    User.objects.filter(pk=user.pk).update(timezone=timezone_name)
    user.timezone = timezone_name
    return user


# --- API keys ---------------------------------------------------------------------------


def api_key_networks_clean(networks) -> list[str]:
    """``["192.0.2.7", " 10.0.0.0/8 "]`` -> ``["192.0.2.7/32", "10.0.0.0/8"]``; a bad entry is refused by name."""
    cleaned = []
    for entry in networks:
        entry = str(entry).strip()
        if not entry:
            continue
        try:
            cleaned.append(str(ipaddress.ip_network(entry, strict=False)))
        except ValueError:
            raise ApplicationError(
                _("„%(entry)s“ ist keine IP-Adresse und kein Netz in CIDR-Schreibweise.") % {"entry": entry[:60]},
                code="invalid_network",
            ) from None
    return cleaned


def api_key_may_manage(*, actor: User, user: User) -> bool:
    """People manage their own keys; admins (``accounts.change_apikey``) anyone's."""
    return actor.pk == user.pk or actor.is_superuser or actor.has_perm("accounts.change_apikey")


@transaction.atomic
def api_key_create(
    *,
    user: User,
    actor: User,
    name: str,
    scopes,
    expires_at=None,
    allowed_networks=(),
    rate_limit_per_minute: int | None = None,
) -> tuple[APIKey, str]:
    """Create a key for ``user``; returns it and the full secret, which is never stored or shown again."""
    if not api_key_may_manage(actor=actor, user=user):
        raise ApplicationError(_("Keine Berechtigung."), code="permission_denied", status_code=403)
    name = name.strip()
    if not name:
        raise ApplicationError(_("Bitte einen Namen angeben."), code="name_required")
    scopes = sorted(set(scopes))
    known = set(APIKey.Scope.values)
    if not scopes or not set(scopes) <= known:
        raise ApplicationError(_("Bitte mindestens eine gültige Berechtigung wählen."), code="invalid_scopes")
    if APIKey.Scope.ADMIN in scopes and not (user.is_superuser or user.is_staff):
        # The key acts as its user: an admin scope on a non-admin's key would be a lie.
        raise ApplicationError(
            _("Nur Administratoren können Schlüssel mit Verwaltungsrechten erhalten."), code="admin_scope_denied"
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise ApplicationError(_("Das Ablaufdatum muss in der Zukunft liegen."), code="expiry_in_past")
    if rate_limit_per_minute is not None and rate_limit_per_minute < 1:
        raise ApplicationError(_("Das Limit muss mindestens 1 Anfrage pro Minute sein."), code="invalid_rate_limit")
    prefix, raw_key = APIKey.generate_raw_key()
    api_key = APIKey.objects.create(
        user=user,
        created_by=actor,
        name=name[:100],
        prefix=prefix,
        key_hash=hash_api_key(raw_key),
        scopes=scopes,
        expires_at=expires_at,
        allowed_networks=api_key_networks_clean(allowed_networks),
        rate_limit_per_minute=rate_limit_per_minute,
    )
    audit_log_record(actor=actor, action="api_key_created", obj=api_key, changes={"user": user.email, "scopes": scopes})
    return api_key, raw_key


@transaction.atomic
def api_key_revoke(*, api_key: APIKey, actor: User) -> None:
    if not api_key_may_manage(actor=actor, user=api_key.user):
        raise ApplicationError(_("Keine Berechtigung."), code="permission_denied", status_code=403)
    revoked = APIKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if revoked != 1:
        raise ApplicationError(_("Der Schlüssel ist bereits widerrufen."), code="already_revoked", status_code=409)
    api_key.refresh_from_db(fields=["revoked_at"])
    audit_log_record(actor=actor, action="api_key_revoked", obj=api_key)


@transaction.atomic
def user_profile_update(
    *, user: User, display_name: str | None = None, language: str | None = None, timezone_name: str | None = None
) -> User:
    """Change what a person may change about themselves; roles and admin rights are not among it."""
    if language is not None:
        user_language_set(user=user, language=language)
    if timezone_name is not None:
        user_timezone_set(user=user, timezone_name=timezone_name)
    if display_name is not None:
        User.objects.filter(pk=user.pk).update(display_name=display_name.strip())
        user.display_name = display_name.strip()
    return user


# --- roles --------------------------------------------------------------------------------

FULL_ACCESS_ROLE = "admin"
READ_ALL_ROLE = "auditor"


def roles_grant_new_permissions(*, app_label: str, using: str = "default") -> None:
    """Give the admin role every permission of ``app_label`` and the auditor role its ``view_*`` ones.

    Run after each app's migrations (``post_migrate``, see ``AccountsConfig.ready``): models
    added later (by any app) would otherwise be out of reach of the roles that by definition
    cover everything. Roles an admin deleted stay deleted.
    """
    from django.contrib.auth.models import Group, Permission

    permissions = Permission.objects.using(using).filter(content_type__app_label=app_label)
    admin = Group.objects.using(using).filter(name=FULL_ACCESS_ROLE).first()
    if admin is not None:
        admin.permissions.add(*permissions)
    auditor = Group.objects.using(using).filter(name=READ_ALL_ROLE).first()
    if auditor is not None:
        auditor.permissions.add(*permissions.filter(codename__startswith="view_"))
