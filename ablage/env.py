"""Typed access to the environment for settings.

Every helper accepts ``NAME_FILE`` as an alternative to ``NAME`` (Docker/Kubernetes
secrets) and raises ``ImproperlyConfigured`` on a value it cannot parse: a typo in a
deployment must stop the process at start-up, not surface as odd behaviour later.
"""

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        if name in os.environ:
            raise ImproperlyConfigured(f"Set either {name} or {name}_FILE, not both.")
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r} cannot be read: {exc}") from exc
    return os.environ.get(name)


def env_str(name: str, default: str | None = None) -> str | None:
    value = _raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true/false).")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}.")
    return number


def env_float(name: str, default: float, *, minimum: float | None = None, maximum: float | None = None) -> float:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number.") from None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise ImproperlyConfigured(f"{name}={number} must be between {minimum} and {maximum}.")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_int_list(name: str, default: list[int], *, minimum: int | None = None) -> list[int]:
    values = []
    for item in env_list(name, [str(number) for number in default]):
        try:
            number = int(item)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not an integer.") from None
        if minimum is not None and number < minimum:
            raise ImproperlyConfigured(f"{name}: {number} must be at least {minimum}.")
        values.append(number)
    return values


def env_network_list(name: str, default: list[str]) -> list[str]:
    """IP networks in CIDR notation ("192.168.10.5/32"), checked at start-up."""
    import ipaddress

    values = env_list(name, default)
    for item in values:
        try:
            ipaddress.ip_network(item)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not an IP network (e.g. 192.168.10.5/32).") from None
    return values


def env_choice(name: str, default: str, choices: set[str]) -> str:
    value = _raw(name)
    if value is None:
        return default
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of {sorted(choices)}.")
    return value


def database_from_url(url: str, *, base_dir: Path) -> dict:
    """Translate ``sqlite:///path`` or ``postgres://user:pass@host:port/name`` into DATABASES['default']."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:///relative/path and sqlite:////absolute/path, as dj-database-url reads them.
        raw_path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not raw_path:
            raise ImproperlyConfigured("DATABASE_URL for SQLite needs a file path: sqlite:///data/ablage.sqlite3")
        path = Path(raw_path)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path if path.is_absolute() else base_dir / path,
            # Worker and web share the file; wait for locks instead of failing at once.
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"},
        }
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ImproperlyConfigured("DATABASE_URL for PostgreSQL needs a database name.")
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            # An unreachable host (not a refused port) would hold each request for the TCP
            # timeout; a few seconds and the request answers 503 (ablage.outage).
            "OPTIONS": {"connect_timeout": 5},
        }
    raise ImproperlyConfigured(f"DATABASE_URL scheme {parts.scheme!r} is not supported (sqlite or postgres).")


def persisted_secret_key(data_dir: Path) -> str:
    """Return the secret key stored in the data directory, creating it on first run."""
    from django.core.management.utils import get_random_secret_key

    return _persisted_value(data_dir / "secret_key", get_random_secret_key)


def persisted_fernet_key(data_dir: Path) -> str:
    """Return the field encryption key stored in the data directory, creating it on first run."""
    from cryptography.fernet import Fernet

    return _persisted_value(data_dir / "field_encryption_key", lambda: Fernet.generate_key().decode("ascii"))


def s3_encryption_parameters() -> dict:
    """Server-side encryption for every object written to S3 (django-storages ``object_parameters``).

    ``AWS_S3_SERVER_SIDE_ENCRYPTION``: empty (the bucket's default), ``AES256`` (SSE-S3) or
    ``aws:kms`` (SSE-KMS, optionally with ``AWS_S3_SSE_KMS_KEY_ID``; without it the account's
    AWS-managed key).
    """
    mode = env_choice("AWS_S3_SERVER_SIDE_ENCRYPTION", "", {"", "AES256", "aws:kms"})
    kms_key_id = env_str("AWS_S3_SSE_KMS_KEY_ID", "")
    if kms_key_id and mode != "aws:kms":
        raise ImproperlyConfigured("AWS_S3_SSE_KMS_KEY_ID needs AWS_S3_SERVER_SIDE_ENCRYPTION=aws:kms.")
    parameters = {"ServerSideEncryption": mode} if mode else {}
    if kms_key_id:
        parameters["SSEKMSKeyId"] = kms_key_id
    return parameters


def s3_client_config():
    """botocore's client settings for the document bucket: bounded waits and retries.

    botocore's defaults (60 s to connect, 60 s per read, legacy retries) hold an upload request
    for minutes when the endpoint hangs (a stopped host, a black-holed route); these bounds make
    it fail within ``attempts x (connect + read)`` seconds and answer 503 instead.
    ``AWS_S3_CONNECT_TIMEOUT`` (s, default 5), ``AWS_S3_READ_TIMEOUT`` (s, default 30),
    ``AWS_S3_MAX_ATTEMPTS`` (default 3, the first try included).
    """
    from botocore.config import Config

    return Config(
        connect_timeout=env_float("AWS_S3_CONNECT_TIMEOUT", 5.0, minimum=0.1, maximum=300),
        read_timeout=env_float("AWS_S3_READ_TIMEOUT", 30.0, minimum=0.1, maximum=3600),
        retries={"mode": "standard", "max_attempts": env_int("AWS_S3_MAX_ATTEMPTS", 3, minimum=1)},
    )


def fernet_keys_check(key: str, old_keys: list[str]) -> None:
    """Stop at start-up on a key Fernet would refuse, naming the variable."""
    from cryptography.fernet import Fernet

    for name, value in [("ABLAGE_FIELD_ENCRYPTION_KEY", key)] + [
        ("ABLAGE_FIELD_ENCRYPTION_OLD_KEYS", k) for k in old_keys
    ]:
        try:
            Fernet(value.encode())
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} holds a value that is not a Fernet key (32 url-safe base64-encoded bytes)."
            ) from None


def _persisted_value(key_file: Path, generate) -> str:
    if key_file.exists():
        return key_file.read_text(encoding="utf-8").strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = generate()
    # O_EXCL: two processes starting together must end up with the same key.
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key)
    return key
