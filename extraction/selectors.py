"""Reads for extraction: configured rules as the engine sees them, earlier documents, supplier templates."""

import logging
import re

from django.db.models import F, Func, QuerySet, Value
from django.db.models.functions import Upper
from django.utils.translation import gettext, ngettext

from ablage.errors import ApplicationError
from documents.models import Document
from extraction.layout import build_layouts
from extraction.models import ExtractionRule
from extraction.rules import RuleSpec, applicable, run_rule
from extraction.validation import invoice_number_key
from ocr.types import PageContent, Word

MAX_DUPLICATES_NAMED = 3
logger = logging.getLogger(__name__)


def extraction_rules(user) -> QuerySet[ExtractionRule]:
    """The rules ``user`` may read: every rule for admins of rules and for reviewers, else none."""
    if user is None or not user.is_authenticated or not user.is_active:
        return ExtractionRule.objects.none()
    if user.has_perm("extraction.view_extractionrule") or user.has_perm("documents.review_document"):
        return ExtractionRule.objects.select_related("supplier", "template")
    return ExtractionRule.objects.none()


def rule_spec(rule: ExtractionRule) -> RuleSpec:
    template = rule.template
    return RuleSpec(
        id=str(rule.id),
        name=rule.name,
        field_name=rule.field_name,
        rule_type=rule.rule_type,
        config=rule.rule_config,
        version=rule.version,
        supplier_id=str(rule.supplier_id) if rule.supplier_id else None,
        document_type=rule.document_type,
        validation_regex=rule.validation_regex,
        priority=rule.priority,
        # An inactive template is switched off: its rules then report that they have none.
        template_patterns=template.field_patterns if template is not None and template.is_active else None,
    )


def rule_specs_for(*, supplier_id) -> list[RuleSpec]:
    """Active rules that may apply to a document of ``supplier_id`` (``None``: generic rules only).

    The document type is not known before extraction, so it is filtered by the engine.
    """
    rules = ExtractionRule.objects.filter(is_active=True).select_related("template")
    if supplier_id is None:
        rules = rules.filter(supplier__isnull=True)
    else:
        rules = rules.filter(supplier__isnull=True) | rules.filter(supplier_id=supplier_id)
    return [rule_spec(rule) for rule in rules]


def duplicate_documents(*, document: Document, supplier_id, invoice_number: str) -> list[str]:
    """Names (title, upload date) of the owner's other live documents of this supplier with this number."""
    key = invoice_number_key(invoice_number)
    if not key or supplier_id is None:
        return []
    compact = Upper(Func(F("document_number"), Value(" "), Value(""), function="REPLACE"))
    others = (
        Document.objects.filter(owner_id=document.owner_id, supplier_id=supplier_id)
        .exclude(id=document.id)
        .exclude(document_number="")
        .annotate(number_key=compact)
        .filter(number_key=key)
        .order_by("created_at")
    )
    return [
        f"„{other.title or other.original_filename}“ vom {other.created_at:%d.%m.%Y}"
        for other in others[:MAX_DUPLICATES_NAMED]
    ]


def active_template(*, supplier_id, document_type: str):
    """The supplier's active template for the document type (at most one, by constraint), or None."""
    from suppliers.models import SupplierTemplate

    if supplier_id is None:
        return None
    return SupplierTemplate.objects.filter(supplier_id=supplier_id, document_type=document_type, is_active=True).first()


def document_page_contents(document: Document) -> list[PageContent]:
    """The stored words of a processed document's pages, as extraction reads them."""
    return [
        PageContent(
            page.page_number,
            [Word.from_json(word) for word in page.words],
            page.text_source,
            page.ocr_backend,
            page.width_px,
            page.height_px,
            page.dpi,
        )
        for page in document.pages.order_by("page_number")
    ]


def rule_try_on_document(*, spec: RuleSpec, document: Document) -> dict:
    """What ``spec`` would extract from ``document`` now, without changing anything (a dry run).

    The rule runs even where it would not apply (another supplier or document type), so it can be
    tried on a sample first; ``applies`` and ``not_applicable_reason`` say whether processing would
    use it. ``current`` is the field as the document has it now, for comparison.
    """
    pages = document_page_contents(document)
    if not pages:
        raise ApplicationError(
            gettext("Das Dokument ist noch nicht verarbeitet; es hat keine Seiten, an denen die Regel laufen kann."),
            code="document_not_processed",
        )
    reason = ""
    if spec.document_type and spec.document_type != document.document_type:
        reason = gettext("Die Regel gilt für den Dokumenttyp „%(rule)s“, das Dokument ist „%(document)s“.") % {
            "rule": spec.document_type,
            "document": document.document_type,
        }
    elif not applicable(spec, document_type=document.document_type, supplier_id=document.supplier_id):
        reason = gettext("Die Regel gilt für einen anderen Lieferanten als den des Dokuments.")
    hit, usage = run_rule(build_layouts(pages), spec)
    current = document.fields.filter(name=spec.field_name).first()
    return {
        "rule": {"id": spec.id, "version": spec.version, "name": spec.name, "field_name": spec.field_name},
        "document": str(document.id),
        "applies": not reason,
        "not_applicable_reason": reason,
        "found": hit is not None,
        "value": hit.value if hit else "",
        "normalized": hit.normalized if hit else "",
        "confidence": hit.confidence if hit else None,
        "page": hit.page if hit else None,
        "bbox": list(hit.bbox) if hit and hit.bbox else None,
        "note": usage.note,
        "error": usage.error,
        "current": None
        if current is None
        else {
            "value": current.value,
            "normalized": current.normalized_value,
            "source": current.source,
            "rule": current.rule,
        },
    }


def active_classifier():
    """The active learned document-type model (``NaiveBayes``), or None; a broken row is ignored."""
    from extraction.learning.classifier import NaiveBayes
    from extraction.models import ClassifierModel

    row = ClassifierModel.objects.filter(name="document_type_classifier", is_active=True).first()
    if row is None:
        return None
    try:
        return NaiveBayes.from_json(row.parameters)
    except ValueError:
        logger.warning("Klassifikationsmodell %s ist unlesbar und bleibt unbenutzt.", row, exc_info=True)
        return None


_RULE_REF = re.compile(r"regel:([0-9a-f-]{36})@v(\d+)")


def learned_evidence(rule_ref: str, *, cache: dict | None = None) -> dict | None:
    """For a field's ``rule`` ("regel:<id>@v<n>"), what a learned rule was learned from, else None.

    ``{"learned_from": N, "corrections": K, "text": "gelernt aus K Korrekturen"}``; ``cache``
    (per request) saves the lookup for fields read by the same rule.
    """
    from extraction.models import ExtractionRuleVersion

    match = _RULE_REF.fullmatch(rule_ref or "")
    if match is None:
        return None
    if cache is not None and rule_ref in cache:
        return cache[rule_ref]
    version = (
        ExtractionRuleVersion.objects.filter(rule_id=match[1], version=int(match[2]), learned_from__gt=0)
        .only("learned_from", "measurement")
        .first()
    )
    evidence = None
    if version is not None:
        corrections = version.measurement.get("corrections", 0) if isinstance(version.measurement, dict) else 0
        if corrections:
            text = ngettext("gelernt aus %(n)d Korrektur", "gelernt aus %(n)d Korrekturen", corrections) % {
                "n": corrections
            }
        else:
            text = ngettext(
                "gelernt aus %(n)d geprüften Dokument", "gelernt aus %(n)d geprüften Dokumenten", version.learned_from
            ) % {"n": version.learned_from}
        evidence = {"learned_from": version.learned_from, "corrections": corrections, "text": text}
    if cache is not None:
        cache[rule_ref] = evidence
    return evidence


FALLING_BY = 0.1
LOW_CONFIDENCE = 0.7
MIN_USES = 3
MAX_DOCUMENTS_SHOWN = 5


def rule_suggestions() -> list[dict]:
    """Active rules an admin should look at, each with the reasons and the documents that show why.

    Reasons: the success rate fell against the previous version (by ``FALLING_BY``), the hits are
    unsure (mean confidence under ``LOW_CONFIDENCE``), or clerks corrected values the rule read.
    """
    from extraction.models import TrainingData

    suggestions = []
    for rule in ExtractionRule.objects.filter(is_active=True).select_related("supplier").order_by("name"):
        reasons = []
        before = rule.versions.filter(version=rule.version).values_list("performance_delta", flat=True).first() or {}
        previous_rate = before.get("success_rate") if isinstance(before, dict) else None
        if (
            previous_rate is not None
            and rule.success_rate is not None
            and rule.usage_count >= MIN_USES
            and rule.success_rate <= previous_rate - FALLING_BY
        ):
            reasons.append(
                gettext("Erfolgsquote gefallen: %(now).0f %% statt %(before).0f %% in Version %(version)s.")
                % {"now": rule.success_rate * 100, "before": previous_rate * 100, "version": before["previous_version"]}
            )
        if rule.avg_confidence is not None and rule.usage_count >= MIN_USES and rule.avg_confidence < LOW_CONFIDENCE:
            reasons.append(gettext("Geringe mittlere Konfidenz: %(value).2f.") % {"value": rule.avg_confidence})
        wrong = list(
            TrainingData.objects.filter(
                extraction_method__startswith=f"regel:{rule.id}@", was_correct=False, validated_at__isnull=False
            )
            .select_related("document")
            .order_by("-validated_at")[:MAX_DOCUMENTS_SHOWN]
        )
        if wrong:
            reasons.append(gettext("Von der Regel gelesene Werte wurden in der Prüfung korrigiert."))
        if reasons:
            suggestions.append(
                {
                    "rule": rule,
                    "reasons": reasons,
                    "documents": [
                        {
                            "document": row.document,
                            "field": row.field_name,
                            "extracted": row.extracted_value,
                            "expected": row.expected_value,
                        }
                        for row in wrong
                    ],
                }
            )
    return suggestions
