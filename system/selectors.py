"""Reads of runtime configuration: typed config values, feature flags and system parameters."""

import copy
import hashlib
import json
import threading
import time
from decimal import Decimal, InvalidOperation

from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ablage.errors import ApplicationError
from system.crypto import require_secret
from system.models import FeatureFlag, SystemConfig, SystemParameter

# Short enough that a change made in another process shows up quickly, long enough that a
# hot path (every page, every pipeline step) does not query the same row again and again.
CONFIG_CACHE_SECONDS = 30.0

_MISSING = object()
_config_cache: dict[str, tuple[float, object]] = {}
_config_cache_lock = threading.Lock()


def config_cache_invalidate(key: str | None = None) -> None:
    """Forget the cached value of ``key`` (or of every key) in this process."""
    with _config_cache_lock:
        if key is None:
            _config_cache.clear()
        else:
            _config_cache.pop(key, None)


def _cacheable() -> bool:
    # Inside a transaction we may be reading our own uncommitted write (or a snapshot that
    # is about to be rolled back); caching it would leak it to later requests.
    return not connection.in_atomic_block


def config_decode(value_type: str, stored):
    """Turn the stored JSON form of a config value into its Python type."""
    try:
        if value_type == SystemConfig.ValueType.STRING:
            return str(stored)
        if value_type == SystemConfig.ValueType.INT:
            if isinstance(stored, bool):
                raise ValueError(stored)
            return int(stored)
        if value_type == SystemConfig.ValueType.FLOAT:
            if isinstance(stored, bool):
                raise ValueError(stored)
            return float(stored)
        if value_type == SystemConfig.ValueType.DECIMAL:
            return Decimal(str(stored))
        if value_type == SystemConfig.ValueType.BOOL:
            if not isinstance(stored, bool):
                raise ValueError(stored)
            return stored
        if value_type == SystemConfig.ValueType.JSON:
            return stored
    except (TypeError, ValueError, InvalidOperation) as exc:
        raise ApplicationError(
            _("Gespeicherter Konfigurationswert %(value)r passt nicht zum Typ „%(type)s“.")
            % {"value": stored, "type": value_type},
            code="config_corrupt",
            status_code=500,
        ) from exc
    raise ApplicationError(
        _("Unbekannter Konfigurationstyp „%(type)s“.") % {"type": value_type}, code="config_corrupt", status_code=500
    )


def config_stored_value(*, is_secret: bool, value, value_encrypted: str):
    """The JSON form of a config value, wherever the row keeps it (see ``SystemConfig``)."""
    if not is_secret:
        return value
    if value_encrypted == "":
        return None
    return json.loads(require_secret(value_encrypted))


def config_get(key: str, default=_MISSING):
    """The value of config ``key`` in its declared type; ``default`` if the key does not exist.

    Without a default, an unknown key raises ``ApplicationError`` (code ``config_unknown_key``):
    code that reads a key the seed migration did not create is a deployment bug.
    """
    now = time.monotonic()
    with _config_cache_lock:
        cached = _config_cache.get(key)
    if cached is not None and cached[0] > now:
        value = cached[1]
    else:
        row = SystemConfig.objects.filter(key=key).only("value_type", "value", "is_secret", "value_encrypted").first()
        value = (
            _MISSING
            if row is None
            else config_decode(
                row.value_type,
                config_stored_value(is_secret=row.is_secret, value=row.value, value_encrypted=row.value_encrypted),
            )
        )
        if _cacheable():
            with _config_cache_lock:
                _config_cache[key] = (now + CONFIG_CACHE_SECONDS, value)
    if value is _MISSING:
        if default is _MISSING:
            raise ApplicationError(
                _("Unbekannter Konfigurationsschlüssel „%(key)s“.") % {"key": key},
                code="config_unknown_key",
                status_code=404,
            )
        return default
    # Callers may mutate a dict/list they got back; the cached copy must stay untouched.
    return copy.deepcopy(value) if isinstance(value, dict | list) else value


def rollout_bucket(flag_key: str, user_id) -> int:
    """A stable number 0..99 for (flag, user): the same user lands in the same bucket every time.

    The flag key is part of the hash so that the first 10 % of one flag are not automatically
    the first 10 % of every other flag.
    """
    digest = hashlib.sha256(f"{flag_key}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def feature_enabled(key: str, *, user=None) -> bool:
    """Whether feature ``key`` is on for ``user`` (or, without a user, for everyone).

    Unknown and disabled flags are off. Users listed in ``conditions["users"]`` are always
    in; with ``conditions["groups"]`` only members of those groups can be. Otherwise a user
    is in when their rollout bucket is below ``rollout_percentage``. Without a (signed-in)
    user a flag is on only when it applies to everybody: 100 % and no conditions.
    """
    flag = FeatureFlag.objects.filter(key=key).first()
    if flag is None or not flag.enabled:
        return False
    now = timezone.now()
    if (flag.starts_at and now < flag.starts_at) or (flag.ends_at and now >= flag.ends_at):
        return False
    conditions = flag.conditions or {}
    allowed_users = {email.lower() for email in conditions.get("users", [])}
    allowed_groups = conditions.get("groups", [])
    if user is None or not getattr(user, "is_authenticated", False):
        return flag.rollout_percentage >= 100 and not allowed_users and not allowed_groups and "rule" not in conditions
    if user.email.lower() in allowed_users:
        return True
    if allowed_groups and not user.groups.filter(name__in=allowed_groups).exists():
        return False
    if "rule" in conditions and not _rule_holds(conditions["rule"], user, now):
        return False
    return rollout_bucket(flag.key, user.pk) < flag.rollout_percentage


def _rule_holds(rule, user, now) -> bool:
    from workflows.jsonlogic import JsonLogicError, evaluate, truthy

    data = {
        "user": {
            "email": user.email,
            "groups": sorted(user.groups.values_list("name", flat=True)),
            "language": getattr(user, "language", ""),
        },
        "today": timezone.localdate(now).isoformat(),
    }
    try:
        return truthy(evaluate(rule, data))
    except JsonLogicError:
        return False


def parameter_get(key: str, default: str | None = None) -> str | None:
    """The value of system parameter ``key``; expired parameters count as absent."""
    value = (
        SystemParameter.objects.filter(key=key)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .values_list("value", flat=True)
        .first()
    )
    return default if value is None else value
