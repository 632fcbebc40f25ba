"""Secrets in database columns, encrypted with Fernet (AES-128-CBC + HMAC-SHA256).

One place for every secret the database keeps (mail passwords, webhook signing secrets, TOTP
secrets, secret configuration values): a model declares the column as
``EncryptedTextField`` and reads and writes plain text; only the column holds the token.

Keys (``ablage.settings``): ``ABLAGE_FIELD_ENCRYPTION_KEY`` encrypts; it and the keys in
``ABLAGE_FIELD_ENCRYPTION_OLD_KEYS`` decrypt, newest first (``MultiFernet``). Installations
from before this module encrypted mail passwords with a key derived from SECRET_KEY (HKDF
under a purpose label); that key still decrypts, so the migrations can re-encrypt those rows.
``manage.py rotate_secrets_key`` re-encrypts every column under the current key.
"""

import base64
import functools
import logging

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.apps import apps as global_apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

logger = logging.getLogger(__name__)

_LEGACY_PURPOSE = b"ablage field encryption v1"


def fernet_from_key(key: str, *, name: str) -> Fernet:
    try:
        return Fernet(key.encode() if isinstance(key, str) else key)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            f"{name} is not a Fernet key (32 url-safe base64-encoded bytes); create one with: "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        ) from exc


def _legacy_fernet(secret_key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LEGACY_PURPOSE).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


@functools.lru_cache(maxsize=8)
def _multi_fernet(primary: str, old_keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not primary:
        raise ImproperlyConfigured("ABLAGE_FIELD_ENCRYPTION_KEY is empty; secrets in the database cannot be encrypted.")
    fernets = [fernet_from_key(primary, name="ABLAGE_FIELD_ENCRYPTION_KEY")]
    fernets += [fernet_from_key(key, name="ABLAGE_FIELD_ENCRYPTION_OLD_KEYS") for key in old_keys]
    fernets.append(_legacy_fernet(secret_key))
    return MultiFernet(fernets)


def keyring(extra_old_keys: tuple[str, ...] = ()) -> MultiFernet:
    """The current key first (it encrypts), then every key that may still decrypt."""
    return _multi_fernet(
        settings.ABLAGE_FIELD_ENCRYPTION_KEY,
        (*extra_old_keys, *settings.ABLAGE_FIELD_ENCRYPTION_OLD_KEYS),
        settings.SECRET_KEY,
    )


def secret_encrypt(plain: str) -> str:
    return keyring().encrypt(plain.encode()).decode("ascii")


def _unreadable_error():
    # Imported here: ablage.errors pulls in DRF, whose settings import accounts.models, which
    # imports this module for its field.
    from ablage.errors import ApplicationError

    return ApplicationError(
        "Ein gespeichertes Geheimnis kann nicht entschlüsselt werden (Schlüssel geändert?). "
        "Bitte den Wert neu eingeben.",
        code="secret_unreadable",
    )


def secret_decrypt(token: str) -> str:
    """Plain text of ``token``; ``ApplicationError`` (code ``secret_unreadable``) if no key opens it."""
    try:
        return keyring().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, ValueError, UnicodeError):
        raise _unreadable_error() from None


def token_reencrypt(token: str, extra_old_keys: tuple[str, ...] = ()) -> str:
    """``token`` encrypted under the current key; raises ``InvalidToken`` if no known key opens it."""
    return keyring(extra_old_keys).rotate(token.encode("ascii")).decode("ascii")


class UnreadableSecret(str):
    """What an encrypted column reads as when no key opens its token: empty, but not lost.

    Loading the row must not fail (the mailbox list still shows the mailbox); using the
    secret must (``require_secret``). Saving the row again keeps the token as it was.
    """

    token: str

    def __new__(cls, token: str):
        instance = super().__new__(cls, "")
        instance.token = token
        return instance

    def __repr__(self):
        return "<UnreadableSecret>"


def require_secret(value: str) -> str:
    """``value`` as read from an ``EncryptedTextField``; refuses an unreadable one with a clear message."""
    if isinstance(value, UnreadableSecret):
        raise _unreadable_error()
    return value


class EncryptedTextField(models.TextField):
    """Text encrypted with the application key in the column, plain text in Python.

    The empty string stays empty (it means "no secret", e.g. two-factor not set up) so that
    "is one set?" checks work without a key. Tokens differ on every write, so the column
    cannot be searched or used in a unique constraint.
    """

    description = "Text encrypted at rest (Fernet)"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        try:
            return keyring().decrypt(value.encode("ascii")).decode()
        except (InvalidToken, ValueError, UnicodeError):
            # The model and column, never the token: a log must not carry material for an attack.
            logger.warning(
                "Encrypted column %s.%s holds a value no configured key opens",
                self.model._meta.label if hasattr(self, "model") else "?",
                self.name,
            )
            return UnreadableSecret(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if isinstance(value, UnreadableSecret):
            return value.token
        if value is None or value == "":
            return value
        return secret_encrypt(value)


def encrypted_columns(apps=global_apps) -> list[tuple[type[models.Model], models.Field]]:
    """Every (model, field) that stores an ``EncryptedTextField``, for rotation and migrations."""
    return [
        (model, field)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField)
    ]


def column_rows(connection, model, field):
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(field.column)
    pk = connection.ops.quote_name(model._meta.pk.column)
    with connection.cursor() as cursor:
        # Raw SQL on purpose: the ORM would hand back the decrypted value, rotation needs the token.
        cursor.execute(f"SELECT {pk}, {column} FROM {table} WHERE {column} IS NOT NULL AND {column} <> ''")  # noqa: S608
        return cursor.fetchall()


def column_write(connection, model, field, pk_value, stored: str) -> None:
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(field.column)
    pk = connection.ops.quote_name(model._meta.pk.column)
    with connection.cursor() as cursor:
        # The key as the backend stores it (SQLite keeps UUIDs as hex text), whether it came from
        # column_rows or from a model instance.
        key = model._meta.pk.get_db_prep_value(pk_value, connection)
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE {pk} = %s", [stored, key])  # noqa: S608


def migration_encrypt_plaintext(app_label: str, model_name: str, field_name: str, *, held_tokens: bool = False):
    """A ``RunPython`` pair that encrypts a column which held plain text, and decrypts it back.

    A value that is already a token some key opens is re-encrypted under the current key
    instead (a migration that ran halfway). ``held_tokens``: the column already held tokens
    (mail passwords under the SECRET_KEY-derived key); one no key opens stays as it is rather
    than being encrypted a second time, and reads as unreadable.
    """

    def forwards(apps, schema_editor):
        model = apps.get_model(app_label, model_name)
        field = model._meta.get_field(field_name)
        connection = schema_editor.connection
        ring = keyring()
        for pk_value, stored in column_rows(connection, model, field):
            try:
                sealed = ring.rotate(stored.encode("ascii")).decode("ascii")
            except (InvalidToken, UnicodeError):
                if held_tokens:
                    continue
                sealed = ring.encrypt(stored.encode()).decode("ascii")
            column_write(connection, model, field, pk_value, sealed)

    def backwards(apps, schema_editor):
        model = apps.get_model(app_label, model_name)
        field = model._meta.get_field(field_name)
        connection = schema_editor.connection
        ring = keyring()
        for pk_value, stored in column_rows(connection, model, field):
            try:
                plain = ring.decrypt(stored.encode("ascii")).decode()
            except (InvalidToken, UnicodeError):
                continue
            column_write(connection, model, field, pk_value, plain)

    return forwards, backwards
