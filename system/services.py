"""Writes of runtime configuration: validated config values and system parameters."""

import json
import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from cryptography.fernet import InvalidToken
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ablage.errors import ApplicationError
from monitoring.services import audit_log_record
from system import crypto
from system.models import SystemConfig, SystemParameter
from system.selectors import config_cache_invalidate, config_stored_value

ValueType = SystemConfig.ValueType

RULE_KEYS = ("min", "max", "choices", "regex")
NUMERIC_TYPES = (ValueType.INT, ValueType.FLOAT, ValueType.DECIMAL)
_TRUE_WORDS = {"true", "1", "ja", "yes", "wahr", "on"}
_FALSE_WORDS = {"false", "0", "nein", "no", "falsch", "off"}
_INTEGER_TEXT = re.compile(r"^[+-]?\d+$")
_SECRET_MASK = "••••••"  # noqa: S105 - the mask shown instead of a secret, not a secret


def _invalid(message: str, *, code: str) -> ApplicationError:
    return ApplicationError(message, code=code)


def _type_error(key: str, value_type: str, value) -> ApplicationError:
    return _invalid(
        _("„%(key)s“ erwartet %(type)s, nicht %(value)s.")
        % {"key": key or _("Der Wert"), "type": ValueType(value_type).label, "value": repr(value)},
        code="config_invalid_type",
    )


def _number_text(value: str) -> str:
    # Admins type German numbers ("0,85"); a comma is a decimal separator only when there is no dot.
    text = value.strip()
    return text.replace(",", ".") if "," in text and "." not in text else text


def _coerce(value_type: str, value, *, key: str = ""):
    """``value`` (a Python value, or text typed into a form) as the Python type of ``value_type``."""
    if value is None and value_type != ValueType.JSON:
        raise _invalid(_("„%(key)s“ braucht einen Wert.") % {"key": key or _("Der Wert")}, code="config_missing_value")
    if value_type == ValueType.STRING:
        if not isinstance(value, str):
            raise _type_error(key, value_type, value)
        return value
    if value_type == ValueType.INT:
        # bool is an int subclass in Python; "True" for a page limit is a mistake, not 1.
        if isinstance(value, bool):
            raise _type_error(key, value_type, value)
        if isinstance(value, int):
            return value
        if isinstance(value, float | Decimal) and math.isfinite(value) and value == int(value):
            return int(value)
        if isinstance(value, str) and _INTEGER_TEXT.match(value.strip()):
            return int(value.strip())
        raise _type_error(key, value_type, value)
    if value_type in (ValueType.FLOAT, ValueType.DECIMAL):
        if isinstance(value, bool):
            raise _type_error(key, value_type, value)
        try:
            if isinstance(value, str):
                number = Decimal(_number_text(value))
            elif isinstance(value, float):
                number = Decimal(repr(value))
            elif isinstance(value, int | Decimal):
                number = Decimal(value)
            else:
                raise _type_error(key, value_type, value)
        except InvalidOperation as exc:
            raise _type_error(key, value_type, value) from exc
        if not number.is_finite():
            raise _invalid(
                _("„%(key)s“ muss eine endliche Zahl sein.") % {"key": key or _("Der Wert")}, code="config_invalid_type"
            )
        return float(number) if value_type == ValueType.FLOAT else number
    if value_type == ValueType.BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE_WORDS | _FALSE_WORDS:
            return value.strip().lower() in _TRUE_WORDS
        raise _type_error(key, value_type, value)
    if value_type == ValueType.JSON:
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise _type_error(key, value_type, value) from exc
        return value
    raise _invalid(_("Unbekannter Typ „%(type)s“.") % {"type": value_type}, code="config_invalid_type")


def config_rules_clean(*, value_type: str, rules) -> dict:
    """Check ``rules`` (``min``, ``max``, ``choices``, ``regex``) against ``value_type``; return them normalised."""
    if rules in (None, ""):
        return {}
    if not isinstance(rules, dict):
        raise _invalid(_("Prüfregeln müssen ein JSON-Objekt sein."), code="config_invalid_rules")
    unknown = sorted(set(rules) - set(RULE_KEYS))
    if unknown:
        raise _invalid(
            _("Unbekannte Prüfregeln: %(keys)s. Erlaubt sind min, max, choices und regex.")
            % {"keys": ", ".join(unknown)},
            code="config_invalid_rules",
        )
    cleaned = {}
    for bound in ("min", "max"):
        if bound not in rules:
            continue
        if value_type not in NUMERIC_TYPES:
            raise _invalid(
                _("„%(rule)s“ gilt nur für Zahlen, nicht für %(type)s.")
                % {"rule": bound, "type": ValueType(value_type).label},
                code="config_invalid_rules",
            )
        if isinstance(rules[bound], bool) or not isinstance(rules[bound], int | float | str):
            raise _invalid(_("„%(rule)s“ muss eine Zahl sein.") % {"rule": bound}, code="config_invalid_rules")
        cleaned[bound] = _coerce(value_type, rules[bound], key=bound)
    if "min" in cleaned and "max" in cleaned and cleaned["min"] > cleaned["max"]:
        raise _invalid(_("„min“ darf nicht größer als „max“ sein."), code="config_invalid_rules")
    if "choices" in rules:
        if value_type in (ValueType.BOOL, ValueType.JSON):
            raise _invalid(
                _("„choices“ gilt nicht für %(type)s.") % {"type": ValueType(value_type).label},
                code="config_invalid_rules",
            )
        if not isinstance(rules["choices"], list) or not rules["choices"]:
            raise _invalid(_("„choices“ muss eine nicht leere Liste sein."), code="config_invalid_rules")
        cleaned["choices"] = [_coerce(value_type, choice, key="choices") for choice in rules["choices"]]
    if "regex" in rules:
        if value_type != ValueType.STRING:
            raise _invalid(_("„regex“ gilt nur für Text."), code="config_invalid_rules")
        try:
            re.compile(rules["regex"])
        except (re.error, TypeError) as exc:
            raise _invalid(
                _("„regex“ ist kein gültiger regulärer Ausdruck: %(error)s") % {"error": exc},
                code="config_invalid_rules",
            ) from exc
        cleaned["regex"] = rules["regex"]
    return cleaned


def config_clean_value(*, value_type: str, value, rules=None, key: str = ""):
    """``value`` cast to ``value_type`` and checked against ``rules``; raises ``ApplicationError`` (German)."""
    rules = config_rules_clean(value_type=value_type, rules=rules)
    typed = _coerce(value_type, value, key=key)
    label = key or _("Der Wert")
    if "min" in rules and typed < rules["min"]:
        raise _invalid(
            _("„%(key)s“ muss mindestens %(min)s sein (angegeben: %(value)s).")
            % {"key": label, "min": rules["min"], "value": typed},
            code="config_out_of_range",
        )
    if "max" in rules and typed > rules["max"]:
        raise _invalid(
            _("„%(key)s“ darf höchstens %(max)s sein (angegeben: %(value)s).")
            % {"key": label, "max": rules["max"], "value": typed},
            code="config_out_of_range",
        )
    if "choices" in rules and typed not in rules["choices"]:
        raise _invalid(
            _("„%(key)s“ muss einer dieser Werte sein: %(choices)s.")
            % {"key": label, "choices": ", ".join(map(str, rules["choices"]))},
            code="config_not_in_choices",
        )
    if "regex" in rules and not re.fullmatch(rules["regex"], typed):
        raise _invalid(
            _("„%(key)s“ hat nicht das erwartete Format (%(regex)s).") % {"key": label, "regex": rules["regex"]},
            code="config_pattern_mismatch",
        )
    return typed


def config_encode(value_type: str, value):
    """The JSON form of an already cleaned value; decimals become strings so they keep every digit."""
    if value_type == ValueType.DECIMAL:
        return str(value)
    return value


def _encode_rules(value_type: str, rules: dict) -> dict:
    encoded = dict(rules)
    for bound in ("min", "max"):
        if bound in rules:
            encoded[bound] = config_encode(value_type, rules[bound])
    if "choices" in rules:
        encoded["choices"] = [config_encode(value_type, choice) for choice in rules["choices"]]
    return encoded


def _store_value(config: SystemConfig, encoded) -> None:
    # A secret lives only encrypted; the plain column is emptied so that switching a value to
    # secret leaves no readable copy behind (and back again, no stale token).
    if config.is_secret:
        config.value = None
        config.value_encrypted = json.dumps(encoded)
    else:
        config.value = encoded
        config.value_encrypted = ""


def _stored(config: SystemConfig):
    return config_stored_value(is_secret=config.is_secret, value=config.value, value_encrypted=config.value_encrypted)


def _masked(config: SystemConfig, value):
    return _SECRET_MASK if config.is_secret else value


def _invalidate_after_change(key: str) -> None:
    # Now, so this process never serves the old value again; and after commit, because a
    # concurrent reader may have re-cached the old committed value in between.
    config_cache_invalidate(key)
    transaction.on_commit(lambda: config_cache_invalidate(key))


def _actor(user):
    return user if getattr(user, "is_authenticated", False) else None


@transaction.atomic
def config_set(*, key: str, value, user) -> SystemConfig:
    """Change the value of existing config ``key`` after checking its type and rules."""
    config = SystemConfig.objects.select_for_update().filter(key=key).first()
    if config is None:
        raise ApplicationError(
            _("Unbekannter Konfigurationsschlüssel „%(key)s“.") % {"key": key},
            code="config_unknown_key",
            status_code=404,
        )
    typed = config_clean_value(value_type=config.value_type, value=value, rules=config.validation_rules, key=key)
    old = _stored(config)
    _store_value(config, config_encode(config.value_type, typed))
    config.updated_by = _actor(user)
    config.save(update_fields=["value", "value_encrypted", "updated_by", "updated_at"])
    audit_log_record(
        actor=user,
        action="config.set",
        obj=config,
        changes={"value": {"old": _masked(config, old), "new": _masked(config, _stored(config))}},
    )
    _invalidate_after_change(key)
    return config


@transaction.atomic
def config_save(
    *,
    key: str,
    value,
    user,
    value_type: str | None = None,
    validation_rules: dict | None = None,
    description: str | None = None,
    category: str | None = None,
    is_secret: bool | None = None,
) -> SystemConfig:
    """Create config ``key`` or update it with everything the admin form edits; validates like ``config_set``.

    A new key needs ``value_type``; the type of an existing key cannot change here, because
    code that reads it relies on it.
    """
    config = SystemConfig.objects.select_for_update().filter(key=key).first()
    created = config is None
    if created:
        if value_type not in ValueType.values:
            raise _invalid(_("Bitte einen gültigen Typ angeben."), code="config_invalid_type")
        config = SystemConfig(key=key, value_type=value_type)
    elif value_type is not None and value_type != config.value_type:
        raise _invalid(_("Der Typ von „%(key)s“ kann nicht geändert werden.") % {"key": key}, code="config_type_change")
    rules = config_rules_clean(
        value_type=config.value_type, rules=config.validation_rules if validation_rules is None else validation_rules
    )
    typed = config_clean_value(value_type=config.value_type, value=value, rules=rules, key=key)
    old = None if created else _stored(config)
    was_secret = config.is_secret
    if is_secret is not None:
        config.is_secret = is_secret
    _store_value(config, config_encode(config.value_type, typed))
    config.validation_rules = _encode_rules(config.value_type, rules)
    if description is not None:
        config.description = description
    if category is not None:
        config.category = category
    config.updated_by = _actor(user)
    config.full_clean(exclude=["updated_by"], validate_unique=created)
    config.save()
    audit_log_record(
        actor=user,
        action="config.create" if created else "config.update",
        obj=config,
        changes={
            "value": {
                "old": _SECRET_MASK if was_secret else old,
                "new": _masked(config, _stored(config)),
            }
        },
    )
    _invalidate_after_change(key)
    return config


@transaction.atomic
def parameter_set(
    *, key: str, value: str, expires_at=None, description: str = "", category: str = ""
) -> SystemParameter:
    """Store ``value`` under ``key`` (replacing an earlier or expired value)."""
    if not key:
        raise _invalid(_("Ein Parameter braucht einen Schlüssel."), code="parameter_invalid")
    if not isinstance(value, str):
        raise _invalid(_("Parameterwerte sind Text."), code="parameter_invalid")
    if expires_at is not None and expires_at <= timezone.now():
        raise _invalid(_("Das Ablaufdatum liegt in der Vergangenheit."), code="parameter_invalid")
    parameter, _created = SystemParameter.objects.update_or_create(
        key=key,
        defaults={"value": value, "expires_at": expires_at, "description": description, "category": category},
    )
    return parameter


def parameter_purge_expired() -> int:
    """Delete expired parameters; returns how many went."""
    deleted, _by_model = SystemParameter.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


@dataclass(frozen=True)
class SecretsRotation:
    rewritten: int
    columns: list[str]


@transaction.atomic
def secrets_rotate(*, old_keys: tuple[str, ...] = ()) -> SecretsRotation:
    """Re-encrypt every encrypted column under the current ABLAGE_FIELD_ENCRYPTION_KEY.

    ``old_keys`` (and ABLAGE_FIELD_ENCRYPTION_OLD_KEYS) open what the previous key wrote.
    All or nothing: if any value opens with none of the keys, nothing is rewritten and the
    error names where it is, so the operator can supply the missing key first.
    """
    for key in old_keys:
        crypto.fernet_from_key(key, name="--old-key")
    rewritten = 0
    columns = []
    unreadable = []
    for model, field in crypto.encrypted_columns():
        columns.append(f"{model._meta.label}.{field.name}")
        for pk_value, stored in crypto.column_rows(connection, model, field):
            try:
                sealed = crypto.token_reencrypt(stored, old_keys)
            except (InvalidToken, UnicodeError):
                unreadable.append(f"{model._meta.label}.{field.name} ({pk_value})")
                continue
            crypto.column_write(connection, model, field, pk_value, sealed)
            rewritten += 1
    if unreadable:
        raise ApplicationError(
            _("Nichts geändert: %(count)d Werte lassen sich mit keinem der Schlüssel öffnen: %(where)s")
            % {"count": len(unreadable), "where": ", ".join(unreadable[:20])},
            code="secret_unreadable",
        )
    return SecretsRotation(rewritten=rewritten, columns=columns)
