"""Secrets in database columns, encrypted with Fernet (AES-128-CBC + HMAC-SHA256).

The key is ``ABLAGE_FIELD_ENCRYPTION_KEY`` (a Fernet key), or derived from SECRET_KEY with
HKDF-SHA256 under a purpose label, so that the derived key is useless for anything else.
"""

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ablage.errors import ApplicationError

_PURPOSE = b"ablage field encryption v1"


def _fernet() -> Fernet:
    configured = settings.ABLAGE_FIELD_ENCRYPTION_KEY
    if configured:
        try:
            return Fernet(configured.encode())
        except ValueError as exc:
            raise ImproperlyConfigured(
                "ABLAGE_FIELD_ENCRYPTION_KEY is not a Fernet key (32 url-safe base64-encoded bytes); "
                "create one with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key())'"
            ) from exc
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE).derive(settings.SECRET_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def secret_encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode("ascii")


def secret_decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, ValueError, UnicodeError):
        raise ApplicationError(
            "Das gespeicherte Kennwort kann nicht entschlüsselt werden (Schlüssel geändert?). "
            "Bitte das Kennwort neu eingeben.",
            code="secret_unreadable",
        ) from None
