"""Writes for extraction: editing rules (with versions), recording their use, finishing a document's extraction."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, FloatField
from django.db.models.functions import Cast, Coalesce
from django.forms.models import model_to_dict
from django.utils import timezone
from django.utils.translation import gettext as _

from ablage.errors import ApplicationError
from extraction.decision import decide_with_reason
from extraction.engine import extract, overall_confidence
from extraction.models import ExtractionRule, ExtractionRuleVersion
from extraction.rules import RuleUsage
from extraction.selectors import active_template, duplicate_documents, rule_specs_for
from extraction.validation import duplicate_invoice_check, template_checks
from monitoring.services import audit_log_record

# What a rule does; changing any of these makes a new version with fresh statistics.
BEHAVIOUR_FIELDS = ("field_name", "rule_type", "rule_config", "validation_regex", "template")
EDITABLE_FIELDS = (
    *BEHAVIOUR_FIELDS,
    "name",
    "supplier",
    "document_type",
    "required",
    "priority",
    "is_active",
)
MAX_ERROR_LENGTH = 2000


def _invalid(error: ValidationError) -> ApplicationError:
    fields = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
    message = " ".join(message for messages in fields.values() for message in messages)
    return ApplicationError(message, code="invalid_rule", extra={"fields": fields})


def rule_problems(rule: ExtractionRule) -> list[str]:
    """German messages for what is wrong with an (unsaved) rule; empty = it can run."""
    try:
        rule.clean()
    except ValidationError as error:
        return [message for messages in error.message_dict.values() for message in messages]
    return []


def rule_create(*, user, **values) -> ExtractionRule:
    return rule_save(rule=ExtractionRule(**values), user=user)


def rule_update(*, rule: ExtractionRule, user, notes: str = "", **values) -> ExtractionRule:
    unknown = set(values) - set(EDITABLE_FIELDS)
    if unknown:
        raise ApplicationError(
            _("Diese Felder lassen sich nicht ändern: %(names)s") % {"names": ", ".join(sorted(unknown))},
            code="invalid_rule",
        )
    for name, value in values.items():
        setattr(rule, name, value)
    return rule_save(rule=rule, user=user, notes=notes)


@transaction.atomic
def rule_save(*, rule: ExtractionRule, user, notes: str = "") -> ExtractionRule:
    """Validate and store ``rule`` (new or edited in memory, as the admin form hands it over).

    A new rule starts at version 1; an edit of what the rule does (``BEHAVIOUR_FIELDS``) raises the
    version, records the new configuration as an ``ExtractionRuleVersion`` with what the previous
    version measured, and starts the statistics afresh. Raises ``ApplicationError`` with German
    messages per field when the rule is invalid.
    """
    try:
        rule.full_clean()
    except ValidationError as error:
        raise _invalid(error) from error
    if rule._state.adding:
        rule.created_by = user if getattr(user, "is_authenticated", False) else None
        rule.version = 1
        rule.save()
        _record_version(rule, user=user, notes=notes, performance_delta={})
        audit_log_record(actor=user, action="extraction_rule.created", obj=rule, changes=_audit_values(rule))
        return rule
    stored = ExtractionRule.objects.select_for_update().get(id=rule.id)
    changed = [name for name in EDITABLE_FIELDS if _value(stored, name) != _value(rule, name)]
    if not changed:
        return rule
    if any(name in BEHAVIOUR_FIELDS for name in changed):
        rule.version = stored.version + 1
        delta = {
            "previous_version": stored.version,
            "usage_count": stored.usage_count,
            "success_count": stored.success_count,
            "success_rate": stored.success_rate,
            "avg_confidence": stored.avg_confidence,
        }
        rule.usage_count = rule.success_count = 0
        rule.success_rate = rule.avg_confidence = rule.last_used_at = rule.last_error_at = None
        rule.last_error = ""
        rule.save()
        _record_version(rule, user=user, notes=notes, performance_delta=delta)
    else:
        rule.save(update_fields=[*[_column(name) for name in changed], "updated_at"])
    audit_log_record(
        actor=user,
        action="extraction_rule.updated",
        obj=rule,
        changes={name: [_audit(_value(stored, name)), _audit(_value(rule, name))] for name in changed},
    )
    return rule


def _column(name: str) -> str:
    return f"{name}_id" if name in ("supplier", "template") else name


def _value(rule: ExtractionRule, name: str):
    return getattr(rule, _column(name))


def _audit(value):
    return value if isinstance(value, str | int | float | bool | dict | list | type(None)) else str(value)


def _audit_values(rule: ExtractionRule) -> dict:
    return {name: _audit(value) for name, value in model_to_dict(rule, fields=EDITABLE_FIELDS).items()}


def _record_version(rule: ExtractionRule, *, user, notes: str, performance_delta: dict) -> None:
    ExtractionRuleVersion.objects.create(
        rule=rule,
        version=rule.version,
        rule_config=rule.rule_config,
        performance_delta=performance_delta,
        notes=notes,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )


@transaction.atomic
def rule_delete(*, rule: ExtractionRule, user) -> None:
    audit_log_record(actor=user, action="extraction_rule.deleted", obj=rule, changes=_audit_values(rule))
    rule.delete()


def rules_record_usage(*, usage: list[RuleUsage], now=None) -> None:
    """Count each run on its rule and version: runs, valid hits, mean hit confidence, last use, last error.

    Only the version that ran is counted: a run that raced an edit does not pollute the new
    version's statistics. Single UPDATEs with ``F()``: two workers counting at once add up.
    """
    now = now or timezone.now()
    with transaction.atomic():
        for item in usage:
            hit = 1 if item.succeeded else 0
            counters = {"usage_count": F("usage_count") + 1, "success_count": F("success_count") + hit}
            if item.succeeded:
                counters["avg_confidence"] = (
                    Coalesce(F("avg_confidence"), 0.0) * F("success_count") + item.confidence
                ) / (F("success_count") + 1)
            rule_updates = {
                **counters,
                "last_used_at": now,
                "success_rate": Cast(F("success_count") + hit, FloatField()) / (F("usage_count") + 1),
            }
            if item.error:
                rule_updates |= {"last_error": item.error[:MAX_ERROR_LENGTH], "last_error_at": now}
            rule_id, version = item.rule.id, item.rule.version
            ExtractionRule.objects.filter(id=rule_id, version=version).update(**rule_updates)
            ExtractionRuleVersion.objects.filter(rule_id=rule_id, version=version).update(**counters)


def extraction_finish(*, document, output, supplier_id) -> None:
    """What extraction can only do once the supplier is known; updates ``output`` in place.

    Runs the configured rules (the supplier's and the generic ones; not for e-invoices, whose
    XML is exact), records their use, adds the duplicate check and the supplier template's
    checks, and decides again with the same thresholds as the pipeline.
    """
    from ocr.options import load_options

    result = output.extraction
    einvoice = output.einvoice is not None
    if not einvoice:
        specs = rule_specs_for(supplier_id=supplier_id)
        if specs:
            result = extract([page.content for page in output.pages], rules=specs, supplier_id=supplier_id)
            rules_record_usage(usage=result.rule_usage)
    checks = []
    if "invoice_number" in result.fields and supplier_id is not None:
        number = result.fields["invoice_number"].normalized
        others = duplicate_documents(document=document, supplier_id=supplier_id, invoice_number=number)
        checks.append(duplicate_invoice_check(number, others))
    template = active_template(supplier_id=supplier_id, document_type=result.document_type)
    if template is not None and template.validation_rules:
        checks += template_checks(
            result.fields, template.validation_rules, template=template.name, checks=result.validation
        )
    if result is output.extraction and not checks:
        return
    result.validation += checks
    if not einvoice:
        result.overall_confidence = overall_confidence(
            result.fields, result.validation, result.document_type, result.document_type_confidence
        )
    options = load_options()
    output.extraction = result
    output.decision, output.decision_reason = decide_with_reason(
        result,
        threshold=options.auto_approve_threshold,
        thresholds_by_type=options.thresholds_by_type,
        sample_key=str(document.id),
        sample_rate=options.quality_sample_rate,
    )
