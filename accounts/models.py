"""People who use Ablage, and the API keys integrators authenticate with."""

import hashlib
import ipaddress
import secrets

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ablage.models import BaseModel
from system.crypto import EncryptedTextField


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin, BaseModel):
    """A person who signs in with an e-mail address.

    Roles are Django groups (admin, reviewer, clerk, viewer, auditor; seeded by migration).
    Teams (``Team``) widen what a user sees: their own documents and their teams'.
    States: active <-> locked (``locked_until`` in the future after too many failed
    logins) ; active -> inactive (``is_active=False``, by an admin; never deleted so that
    audit entries keep their actor).
    """

    class Language(models.TextChoices):
        GERMAN = "de", _("Deutsch")
        ENGLISH = "en", _("English")

    email = models.EmailField(_("E-Mail"), unique=True)
    display_name = models.CharField(_("Anzeigename"), max_length=200, blank=True)
    language = models.CharField(_("Sprache"), max_length=5, choices=Language.choices, default=Language.GERMAN)
    timezone = models.CharField(_("Zeitzone"), max_length=64, default="Europe/Berlin")
    preferences = models.JSONField(_("Einstellungen"), default=dict, blank=True)
    is_staff = models.BooleanField(_("Admin-Zugang"), default=False)
    is_active = models.BooleanField(_("aktiv"), default=True)
    failed_login_attempts = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_login_ip = models.GenericIPAddressField(null=True, blank=True)
    # TOTP (RFC 6238) second factor: the secret is kept from enrolment on, but only counts
    # once a code made with it was accepted (``totp_confirmed_at``). Encrypted at rest: with
    # a copy of the database alone nobody can make valid codes.
    totp_secret = EncryptedTextField(blank=True, editable=False)
    totp_confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("Benutzer")
        verbose_name_plural = _("Benutzer")
        ordering = ["email"]
        permissions = [("view_all_documents", "Can see every document regardless of owner")]

    def __str__(self):
        return self.display_name or self.email

    def get_full_name(self):
        return self.display_name or self.email

    def get_short_name(self):
        return self.display_name or self.email.split("@")[0]

    @property
    def is_locked(self) -> bool:
        return self.locked_until is not None and self.locked_until > timezone.now()

    @property
    def has_two_factor(self) -> bool:
        return bool(self.totp_secret) and self.totp_confirmed_at is not None


class Team(BaseModel):
    """A group of people who share their documents (e.g. "Buchhaltung", "Einkauf").

    A document belongs to at most one team (``Document.team``); every member sees it, and
    members with the review permission find it in their review queue.
    """

    name = models.CharField(_("Name"), max_length=100, unique=True)
    members = models.ManyToManyField(User, blank=True, related_name="teams", verbose_name=_("Mitglieder"))

    class Meta:
        verbose_name = _("Team")
        verbose_name_plural = _("Teams")
        ordering = ["name"]

    def __str__(self):
        return self.name


class LoginFailure(BaseModel):
    """One failed sign-in, kept for the lockout window to count failures per client address.

    Per-account lockout lives on ``User`` (``failed_login_attempts``/``locked_until``); this
    table catches one address trying many accounts, including ones that do not exist.
    Append-only; rows older than the window are deleted on the next failure.
    """

    email = models.CharField(max_length=254)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        verbose_name = _("Fehlgeschlagene Anmeldung")
        verbose_name_plural = _("Fehlgeschlagene Anmeldungen")
        ordering = ["-created_at"]
        # login_ip_locked(): "failures from this address since <window start>".
        indexes = [models.Index(fields=["ip_address", "created_at"], name="loginfailure_ip_idx")]

    def __str__(self):
        return f"{self.email} @ {self.ip_address}"


def hash_api_key(raw_key: str) -> str:
    # Keys are 32 random bytes: a fast hash is enough (no dictionary to attack), and a slow
    # one would cost every API request.
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def default_api_key_scopes() -> list[str]:
    # Least privilege: a key made without a choice can only read.
    return ["read"]


class APIKey(BaseModel):
    """An API key, stored as prefix + SHA-256 only; the full key is shown once at creation.

    Scopes: ``read`` (GET/HEAD/OPTIONS), ``write`` (changes, implies nothing else), ``admin``
    (configuration endpoints). A key never grants more than its user's own permissions.
    States: active -> revoked (``revoked_at`` set) ; active -> expired (``expires_at`` passed).
    """

    PREFIX_LENGTH = 8

    class Scope(models.TextChoices):
        READ = "read", _("Lesen")
        WRITE = "write", _("Schreiben")
        ADMIN = "admin", _("Verwaltung")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(_("Name"), max_length=100)
    prefix = models.CharField(max_length=PREFIX_LENGTH, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    scopes = models.JSONField(_("Berechtigungen"), default=default_api_key_scopes, blank=True)
    # CIDR ranges ("192.0.2.0/24", "2001:db8::/32"); empty = any address.
    allowed_networks = models.JSONField(_("Erlaubte Netze"), default=list, blank=True)
    # Requests per minute for this key; null = the default API key rate.
    rate_limit_per_minute = models.PositiveIntegerField(_("Anfragen pro Minute"), null=True, blank=True)
    request_count = models.PositiveBigIntegerField(default=0, editable=False)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    class Meta:
        verbose_name = _("API-Schlüssel")
        verbose_name_plural = _("API-Schlüssel")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rate_limit_per_minute__isnull=True) | models.Q(rate_limit_per_minute__gte=1),
                name="apikey_rate_limit_positive",
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def generate_raw_key() -> tuple[str, str]:
        prefix = secrets.token_hex(APIKey.PREFIX_LENGTH // 2)
        return prefix, f"abl_{prefix}_{secrets.token_urlsafe(32)}"

    @property
    def is_usable(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def allows_address(self, address: str | None) -> bool:
        if not self.allowed_networks:
            return True
        if not address:
            return False
        try:
            client = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(client in ipaddress.ip_network(network, strict=False) for network in self.allowed_networks)
