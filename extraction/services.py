"""Writes for extraction: editing rules (with versions), recording their use, finishing a document's extraction."""

from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, FloatField
from django.db.models.functions import Cast, Coalesce
from django.forms.models import model_to_dict
from django.utils import timezone
from django.utils.translation import gettext as _

from ablage.errors import ApplicationError
from extraction.decision import decide_with_reason
from extraction.engine import confirm_supplier, extract, overall_confidence
from extraction.models import ClassifierModel, ExtractionRule, ExtractionRuleVersion, ModelPerformance, TrainingData
from extraction.rules import RuleUsage
from extraction.selectors import active_classifier, active_template, duplicate_documents, rule_specs_for
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
def rule_save(*, rule: ExtractionRule, user, notes: str = "", measurement: dict | None = None) -> ExtractionRule:
    """Validate and store ``rule`` (new or edited in memory, as the admin form hands it over).

    A new rule starts at version 1; an edit of what the rule does (``BEHAVIOUR_FIELDS``) raises the
    version, records the new configuration as an ``ExtractionRuleVersion`` with what the previous
    version measured, and starts the statistics afresh. Raises ``ApplicationError`` with German
    messages per field when the rule is invalid. ``measurement`` (learning) is kept on the new version.
    """
    try:
        rule.full_clean()
    except ValidationError as error:
        raise _invalid(error) from error
    if rule._state.adding:
        rule.created_by = user if getattr(user, "is_authenticated", False) else None
        rule.version = 1
        rule.save()
        _record_version(rule, user=user, notes=notes, performance_delta={}, measurement=measurement)
        audit_log_record(actor=user, action="extraction_rule.created", obj=rule, changes=_audit_values(rule))
        return rule
    stored = ExtractionRule.objects.select_for_update().get(id=rule.id)
    changed = [name for name in (*EDITABLE_FIELDS, "learned_from") if _value(stored, name) != _value(rule, name)]
    if not changed:
        return rule
    if any(name in (*BEHAVIOUR_FIELDS, "learned_from") for name in changed):
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
        _record_version(rule, user=user, notes=notes, performance_delta=delta, measurement=measurement)
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


def _record_version(
    rule: ExtractionRule, *, user, notes: str, performance_delta: dict, measurement: dict | None = None
) -> None:
    ExtractionRuleVersion.objects.create(
        rule=rule,
        version=rule.version,
        rule_type=rule.rule_type,
        rule_config=rule.rule_config,
        learned_from=rule.learned_from,
        measurement=measurement or {},
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
    XML is exact) and the learned document-type model, records the rules' use, adds the duplicate
    check and the supplier template's checks, and decides again with the same thresholds as the pipeline.
    """
    from ocr.options import load_options

    result = output.extraction
    einvoice = output.einvoice is not None
    if not einvoice:
        specs = rule_specs_for(supplier_id=supplier_id)
        classifier = active_classifier()
        if specs or classifier is not None:
            result = extract(
                [page.content for page in output.pages], rules=specs, supplier_id=supplier_id, classifier=classifier
            )
            rules_record_usage(usage=result.rule_usage)
            confirm_supplier(result, output.supplier)
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
        content_source=output.content_source,
        supplier=output.supplier,
    )


@transaction.atomic
def rule_rollback(*, rule: ExtractionRule, user, to_version: int | None = None) -> ExtractionRule:
    """Put back what an earlier version did (default: the one before the current) as a new version.

    The history stays intact: the rolled-back version is marked ``rolled_back`` (learning will not
    bring its configuration back) and the restored configuration becomes version n + 1. A learned
    rule at its first version is switched off instead (before it, processing had no rule).
    """
    rule = ExtractionRule.objects.select_for_update().get(id=rule.id)
    target_number = rule.version - 1 if to_version is None else to_version
    target = rule.versions.filter(version=target_number).first() if target_number < rule.version else None
    if target is None and to_version is None and rule.learned_from > 0 and rule.is_active:
        # Before its first learned version there was no rule: rolling back switches it off.
        ExtractionRuleVersion.objects.filter(rule=rule, version=rule.version).update(rolled_back=True)
        rule.is_active = False
        rule = rule_save(rule=rule, user=user)
        audit_log_record(
            actor=user, action="extraction_rule.rolled_back", obj=rule, changes={"version": [rule.version, None]}
        )
        return rule
    if target is None:
        raise ApplicationError(
            _("Regel „%(name)s“ hat keine frühere Version %(version)s, auf die sie zurückgesetzt werden kann.")
            % {"name": rule.name, "version": target_number},
            code="no_previous_version",
        )
    rolled_back = rule.version
    ExtractionRuleVersion.objects.filter(rule=rule, version=rolled_back).update(rolled_back=True)
    rule.rule_type = target.rule_type or rule.rule_type
    rule.rule_config = target.rule_config
    rule.learned_from = target.learned_from
    rule = rule_save(
        rule=rule,
        user=user,
        notes=_("Zurückgesetzt von Version %(from)d auf Version %(to)d.") % {"from": rolled_back, "to": target_number},
        measurement=target.measurement,
    )
    audit_log_record(
        actor=user,
        action="extraction_rule.rolled_back",
        obj=rule,
        changes={"version": [rolled_back, rule.version], "restored_from": target_number},
    )
    return rule


# --- learning from reviews -------------------------------------------------------------------------


def _located_box(document, field_name: str, expected: str) -> tuple[int | None, list | None]:
    from extraction.layout import build_layouts
    from extraction.learning.rules import locate_value
    from extraction.selectors import document_page_contents

    found = locate_value(build_layouts(document_page_contents(document)), field_name, expected)
    if not found:
        return None, None
    return found[0].page.number, [round(c, 5) for c in found[0].bbox]


@transaction.atomic
def training_data_record_review(*, document, user) -> int:
    """Ground truth from a finished review: one ``TrainingData`` row per field, and the document type.

    Approved: every field is what the clerk accepted. Rejected: only the fields the clerk corrected
    (locked) are known to be right; the rest were never confirmed. Idempotent: a row per document
    and field, overwritten by the next review (and then due for training again). Returns the rows
    written. Enqueues supplier learning once the transaction commits.
    """
    from documents.models import Document

    document = Document.objects.get(id=document.id)
    approved = document.status == Document.Status.APPROVED
    now = timezone.now()
    validator = user if getattr(user, "is_authenticated", False) else None
    written = 0
    for field in document.fields.all():
        if not approved and not field.locked:
            continue
        expected, extracted = field.normalized_value, field.extracted_value
        if not expected and not extracted:
            continue
        correct = expected == extracted
        page, box = field.page, field.bbox
        if not correct:
            # The box the clerk meant: where the accepted value is printed, not the wrong reading's.
            page, box = _located_box(document, field.name, expected) if expected else (None, None)
        TrainingData.objects.update_or_create(
            document=document,
            field_name=field.name,
            defaults={
                "expected_value": expected,
                "extracted_value": extracted,
                "extraction_method": field.rule[:100],
                "was_correct": correct,
                "bounding_box": box,
                "page": page,
                "confidence": None if field.source == field.Source.MANUAL else field.confidence,
                "validated_by": validator,
                "validated_at": now,
                "used_for_training": False,
                "training_batch_id": "",
            },
        )
        written += 1
    if approved and document.document_type:
        written += _record_document_type(document, validator=validator, now=now)
    if document.supplier_id is not None:
        transaction.on_commit(partial(_enqueue_supplier_learning, str(document.supplier_id)))
    return written


def _record_document_type(document, *, validator, now) -> int:
    from extraction.classify import classify
    from extraction.layout import build_layouts
    from extraction.selectors import document_page_contents

    pages = document_page_contents(document)
    if not pages:
        return 0
    # What the keyword classifier says of the stored words: the type before anyone corrected it.
    read, confidence = classify(build_layouts(pages))
    TrainingData.objects.update_or_create(
        document=document,
        field_name="document_type",
        defaults={
            "expected_value": document.document_type,
            "extracted_value": read,
            "extraction_method": "classify:keywords",
            "was_correct": read == document.document_type,
            "bounding_box": None,
            "page": None,
            "confidence": confidence,
            "validated_by": validator,
            "validated_at": now,
            "used_for_training": False,
            "training_batch_id": "",
        },
    )
    return 1


def _enqueue_supplier_learning(supplier_id: str) -> None:
    from extraction.tasks import supplier_learn

    supplier_learn.apply_async(args=[supplier_id], queue="extract")


MIN_REVIEWED_KEY = "extraction.learning.min_reviewed_documents"
DEFAULT_MIN_REVIEWED = 2
MAX_LEARNING_DOCUMENTS = 20
LEARNED_PRIORITY = 100


class LearningBusy(Exception):
    """Another worker is learning for this supplier right now; the task retries later."""


def supplier_learn(*, supplier_id) -> list[ExtractionRule]:
    """Derive, test and activate supplier rules from the supplier's reviewed documents.

    Per document type with at least ``extraction.learning.min_reviewed_documents`` reviewed
    (approved) documents, the latest ``MAX_LEARNING_DOCUMENTS`` are read again from their stored
    words (no OCR) with the rules in force; for each field processing gets wrong or reads unsurely,
    ``extraction.learning.rules.learn`` proposes the best derived rule, and only one that beats the
    current result there is stored: a new rule "Gelernt: <field> (<type>)", or a new version of
    it, with its measurement on the version. Idempotent: with nothing new to learn nothing is
    written. Returns the rules created or changed.
    """
    from documents.locks import exclusive
    from system.selectors import config_get

    minimum = max(1, int(config_get(MIN_REVIEWED_KEY, DEFAULT_MIN_REVIEWED)))
    with exclusive(f"supplier-learn:{supplier_id}") as free:
        if not free:
            raise LearningBusy(str(supplier_id))
        changed = []
        for document_type, documents in _reviewed_by_type(supplier_id).items():
            if len(documents) >= minimum:
                changed += _learn_type(supplier_id=str(supplier_id), document_type=document_type, documents=documents)
        return changed


def _reviewed_by_type(supplier_id) -> dict[str, list]:
    from documents.models import Document

    documents = (
        Document.objects.filter(
            supplier_id=supplier_id,
            status=Document.Status.APPROVED,
            reviewed_by__isnull=False,
            training_data__validated_at__isnull=False,
        )
        .distinct()
        .order_by("-reviewed_at")
    )
    by_type: dict[str, list] = {}
    for document in documents:
        group = by_type.setdefault(document.document_type, [])
        if len(group) < MAX_LEARNING_DOCUMENTS:
            group.append(document)
    return by_type


def _learn_type(*, supplier_id: str, document_type: str, documents: list) -> list[ExtractionRule]:
    from extraction.learning.rules import Candidate, learn, make_example
    from extraction.selectors import document_page_contents

    learned_rules = {
        rule.field_name: rule
        for rule in ExtractionRule.objects.filter(
            supplier_id=supplier_id, document_type=document_type, learned_from__gt=0
        )
    }
    specs = rule_specs_for(supplier_id=supplier_id)
    learned_ids = {str(rule.id) for rule in learned_rules.values()}
    truths: dict[str, dict[str, str]] = {}
    corrections: dict[str, int] = {}
    for row in TrainingData.objects.filter(document__in=documents, validated_at__isnull=False).exclude(
        field_name="document_type"
    ):
        truths.setdefault(str(row.document_id), {})[row.field_name] = row.expected_value
        if row.was_correct is False:
            corrections[row.field_name] = corrections.get(row.field_name, 0) + 1
    examples = []
    for document in documents:
        pages = document_page_contents(document)
        if pages:
            truth = truths.get(str(document.id), {})
            examples.append(
                make_example(
                    str(document.id), pages, truth, specs=specs, learned_ids=learned_ids, supplier_id=supplier_id
                )
            )
    refused = frozenset(
        Candidate(version.rule_type or version.rule.rule_type, version.rule_config).key
        for version in ExtractionRuleVersion.objects.filter(
            rule__in=learned_rules.values(), rolled_back=True
        ).select_related("rule")
    )
    choices = learn(
        examples,
        supplier_id=supplier_id,
        document_type=document_type,
        current_keys={name: Candidate(rule.rule_type, rule.rule_config).key for name, rule in learned_rules.items()},
        refused=refused,
    )
    changed = []
    for field_name, choice in sorted(choices.items()):
        measurement = {**choice.measurement(), "corrections": corrections.get(field_name, 0)}
        notes = _(
            "Gelernt aus %(n)d geprüften Dokumenten (%(corrections)d Korrekturen): "
            "%(right)d richtig, bisher %(before)d."
        ) % {
            "n": len(choice.documents),
            "corrections": measurement["corrections"],
            "right": choice.correct,
            "before": choice.baseline_correct,
        }
        rule = learned_rules.get(field_name)
        if rule is None:
            rule = ExtractionRule(
                supplier_id=supplier_id,
                document_type=document_type,
                name=f"Gelernt: {field_name} ({document_type or 'alle'})",
                field_name=field_name,
                priority=LEARNED_PRIORITY,
            )
        rule.rule_type = choice.candidate.rule_type
        rule.rule_config = choice.candidate.config
        rule.learned_from = len(choice.documents)
        changed.append(rule_save(rule=rule, user=None, notes=notes, measurement=measurement))
    return changed


# --- document-type model and daily metrics ---------------------------------------------------------

CLASSIFIER_NAME = "document_type_classifier"
MIN_CLASSIFIER_EXAMPLES = 4
MAX_CLASSIFIER_EXAMPLES = 5000


def classifier_train(*, force: bool = False, today=None) -> ClassifierModel | None:
    """Train the document-type model on the confirmed types, only when there are new ones.

    New data = a confirmed type not yet used for training. Needs ``MIN_CLASSIFIER_EXAMPLES`` and two
    different types, else nothing is trained (the rows stay due). The new model becomes the only
    active one; its leave-one-out accuracy goes to ``ModelPerformance`` for today.
    """
    from extraction.layout import build_layouts
    from extraction.learning.classifier import NaiveBayes, leave_one_out_accuracy, tokens
    from extraction.selectors import document_page_contents

    rows = TrainingData.objects.filter(field_name="document_type", validated_at__isnull=False).exclude(
        expected_value=""
    )
    if not force and not rows.filter(used_for_training=False).exists():
        return None
    rows = list(rows.select_related("document").order_by("-validated_at")[:MAX_CLASSIFIER_EXAMPLES])
    examples = []
    for row in rows:
        pages = document_page_contents(row.document)
        if pages:
            examples.append((tokens(build_layouts(pages)), row.expected_value))
    if len(examples) < MIN_CLASSIFIER_EXAMPLES or len({label for _, label in examples}) < 2:
        return None
    model = NaiveBayes.train(examples)
    accuracy = leave_one_out_accuracy(model, examples)
    with transaction.atomic():
        latest = ClassifierModel.objects.select_for_update().filter(name=CLASSIFIER_NAME).order_by("-version").first()
        version = (latest.version if latest else 0) + 1
        ClassifierModel.objects.filter(name=CLASSIFIER_NAME, is_active=True).update(is_active=False)
        trained = ClassifierModel.objects.create(
            name=CLASSIFIER_NAME,
            version=version,
            parameters=model.to_json(),
            trained_examples=len(examples),
            accuracy=accuracy,
            is_active=True,
        )
        TrainingData.objects.filter(id__in=[row.id for row in rows]).update(
            used_for_training=True, training_batch_id=f"{CLASSIFIER_NAME}-v{version}"
        )
        if accuracy is not None:
            correct = round(accuracy * len(examples))
            ModelPerformance.objects.update_or_create(
                model_name=CLASSIFIER_NAME,
                model_version=f"v{version}",
                metric_date=today or timezone.localdate(),
                hour_of_day=None,
                defaults={
                    "accuracy": accuracy,
                    "total_predictions": len(examples),
                    "correct_predictions": correct,
                    "field_metrics": {"evaluation": "leave_one_out", "types": model.documents},
                },
            )
    return trained


def model_performance_compute(*, day) -> list[ModelPerformance]:
    """The day's quality of extraction from the fields reviewed that day; idempotent per day.

    One row for all documents (model ``extraction``, version ``gesamt``) and one per supplier
    (version ``lieferant:<id>``: the supplier's rule set), with per-field precision, recall, F1 and
    the mean confidence of the extracted values; and one for the keyword classifier
    (``document_type_keywords``) from the confirmed types.
    """
    from extraction.learning.metrics import field_metrics

    rows = list(
        TrainingData.objects.filter(validated_at__date=day).values_list(
            "field_name", "expected_value", "extracted_value", "confidence", "document__supplier_id"
        )
    )
    groups: dict[tuple[str, str], list] = {}
    for name, expected, extracted, confidence, supplier_id in rows:
        model = "document_type_keywords" if name == "document_type" else "extraction"
        groups.setdefault((model, "gesamt"), []).append((name, expected, extracted, confidence))
        if supplier_id is not None and model == "extraction":
            groups.setdefault((model, f"lieferant:{supplier_id}"), []).append((name, expected, extracted, confidence))
    written = []
    with transaction.atomic():
        for (model, version), items in sorted(groups.items()):
            metrics = field_metrics(items)
            written.append(
                ModelPerformance.objects.update_or_create(
                    model_name=model,
                    model_version=version,
                    metric_date=day,
                    hour_of_day=None,
                    defaults={
                        "accuracy": metrics.accuracy,
                        "precision_score": metrics.precision,
                        "recall": metrics.recall,
                        "f1_score": metrics.f1,
                        "avg_confidence": metrics.avg_confidence,
                        "field_metrics": metrics.per_field,
                        "total_predictions": metrics.total,
                        "correct_predictions": metrics.correct,
                    },
                )[0]
            )
    return written
