"""People who use Ablage, and the API keys integrators authenticate with."""

import hashlib
import secrets

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ablage.models import BaseModel


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

    Roles are Django groups (admin, reviewer, clerk, viewer, seeded by migration).
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


def hash_api_key(raw_key: str) -> str:
    # Keys are 32 random bytes: a fast hash is enough (no dictionary to attack), and a slow
    # one would cost every API request.
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


class APIKey(BaseModel):
    """An API key, stored as prefix + SHA-256 only; the full key is shown once at creation.

    States: active -> revoked (``revoked_at`` set) ; active -> expired (``expires_at`` passed).
    """

    PREFIX_LENGTH = 8

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(_("Name"), max_length=100)
    prefix = models.CharField(max_length=PREFIX_LENGTH, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API-Schlüssel")
        verbose_name_plural = _("API-Schlüssel")
        ordering = ["-created_at"]

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
