"""Rule-based extraction of German business documents: ``extract(pages) -> ExtractionResult``.

Order matters and is explicit: classify first (labels mean different things on a credit note),
find the positions table next (its rows must not be mistaken for totals), then header fields,
amounts, supplier, validation and the overall confidence the decision reads.
"""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal, InvalidOperation

from extraction.amounts import choose_amounts
from extraction.banks import bic_for_iban, ocr_variant_of, same_bic
from extraction.classify import classify
from extraction.decision import supplier_confirmed
from extraction.fields import (
    Candidate,
    bic_fallback,
    choose,
    currency_candidate,
    fallback_invoice_date,
    label_contexts,
    labelled_candidates,
    pattern_candidates,
    payment_term_due_date,
    skonto_candidates,
)
from extraction.layout import build_layouts, union_bbox
from extraction.lineitems import find_line_items
from extraction.references import find_references, reference_candidate, without_references
from extraction.rules import RulesOutcome, RuleSpec, apply_rules, merge_hits
from extraction.supplier import find_supplier_name
from extraction.types import ExtractionResult, FieldValue, SupplierEvidence, ValidationCheck
from extraction.validation import REQUIRED_FIELDS, validate
from extraction.values import Found
from ocr.types import PageContent

# Types whose own number and date are an invoice number and invoice date. A delivery note's
# "Lieferschein-Nr." or a letter's date are not, and reporting them as such misleads booking.
_NUMBERED_TYPES = {"invoice", "credit_note", "reminder", "receipt", "order", "unknown"}
_PAYMENT_TERM_TYPES = {"invoice", "reminder", "unknown"}
# Types that correct or cancel an invoice: the invoice they name is worth a field of its own.
_REFERENCING_TYPES = {"credit_note", "invoice"}

# How much each field counts in the overall confidence: the booking-relevant ones most.
FIELD_WEIGHTS = {
    "total_amount": 3.0, "invoice_number": 2.5, "invoice_date": 2.0, "net_amount": 1.5, "vat_amount": 1.5,
    "supplier_name": 1.5, "iban": 1.0, "supplier_vat_id": 1.0, "due_date": 1.0, "currency": 0.5,
}  # fmt: skip
DEFAULT_WEIGHT = 0.3
REPAIRED_FACTOR = 0.9
# A wrong sum means at least one amount is wrong: that must weigh more than any other failure.
FAILED_CHECK_FACTORS = {"amounts_sum": 0.45, "required_fields": 0.6}
FAILED_CHECK_DEFAULT = 0.75
ALL_PASSED_LIFT = 0.35


def extract(
    pages: list[PageContent],
    *,
    today: date | None = None,
    rules: Sequence[RuleSpec] = (),
    supplier_id: str | None = None,
    classifier=None,
) -> ExtractionResult:
    """The fields of ``pages``; configured ``rules`` (``extraction.rules``) compete with the built-in ones.

    ``supplier_id`` is the document's supplier (when known): its rules apply, and win over generic ones.
    ``classifier`` is the learned document-type model (``extraction.learning.classifier``), if any.
    """
    layouts = build_layouts(pages)
    document_type, type_confidence = classify(layouts, learned=classifier)
    table = find_line_items(layouts)
    contexts = label_contexts(layouts, table.lines)
    candidates = labelled_candidates(contexts, document_type) + pattern_candidates(layouts)
    if document_type != "reminder":
        # A reminder is filed under the invoice it names; every other document's referenced
        # number is not its own (references.py).
        references = find_references(layouts, table.lines)
        candidates = without_references(candidates, references)
        reference = reference_candidate(references)
        if reference is not None and document_type in _REFERENCING_TYPES:
            candidates.append(reference)
    chosen = choose(candidates)

    amounts = choose_amounts(layouts, contexts, table.lines, document_type=document_type, line_items=table.items)
    chosen.update(amounts.chosen)
    if len(set(amounts.vat_rates)) == 1 and "vat_amount" in chosen:
        rate_candidate = _vat_rate_candidate(chosen["vat_amount"])
        if rate_candidate is not None:
            chosen["vat_rate"] = rate_candidate

    if "net_amount" not in chosen and {"vat_amount", "total_amount"} <= chosen.keys():
        derived = _net_from_positions(table.items, chosen["vat_amount"], chosen["total_amount"])
        if derived is not None:
            chosen["net_amount"] = derived
            amounts.consistent = True

    if "invoice_date" not in chosen:
        taken = {chosen[name].found.normalized for name in ("due_date", "delivery_date") if name in chosen}
        fallback = fallback_invoice_date(layouts, taken)
        if fallback is not None:
            chosen["invoice_date"] = fallback
    if document_type in _PAYMENT_TERM_TYPES:
        chosen.update(skonto_candidates(layouts))
    if "due_date" not in chosen and "invoice_date" in chosen and document_type in _PAYMENT_TERM_TYPES:
        due = payment_term_due_date(layouts, chosen["invoice_date"])
        if due is not None:
            chosen["due_date"] = due
    if document_type not in _NUMBERED_TYPES:
        for name in ("invoice_number", "invoice_date", "due_date"):
            chosen.pop(name, None)

    currency = currency_candidate(layouts, chosen.get("total_amount")) if "total_amount" in chosen else None
    if currency is not None:
        chosen["currency"] = currency
    if "bic" not in chosen:
        bic = bic_fallback(layouts, chosen.get("iban"))
        if bic is not None:
            chosen["bic"] = bic
    if {"bic", "iban"} <= chosen.keys():
        chosen["bic"] = _bic_checked_against_blz(chosen["bic"], chosen["iban"])
    supplier = find_supplier_name(layouts)
    if supplier is not None:
        chosen["supplier_name"] = supplier

    fields = {name: _field_value(name, candidate) for name, candidate in sorted(chosen.items())}
    outcome = RulesOutcome()
    if rules:
        outcome = apply_rules(layouts, rules, document_type=document_type, supplier_id=supplier_id)
        fields = merge_hits(fields, outcome.hits)
    checks = validate(
        fields, document_type, vat_rates=amounts.vat_rates, today=today or date.today(), line_items=table.items
    )
    checks += outcome.error_checks()
    return ExtractionResult(
        document_type=document_type,
        document_type_confidence=type_confidence,
        fields=fields,
        line_items=table.items,
        validation=checks,
        overall_confidence=overall_confidence(fields, checks, document_type, type_confidence),
        rule_usage=outcome.usage,
    )


# A master-data name found by an identifier (or a close name) is the name; how sure we are is how
# sure the match is, never more than this: the page might still name someone else.
MASTER_NAME_CAP = 0.99


def confirm_supplier(result: ExtractionResult, supplier: SupplierEvidence | None) -> None:
    """Put the master-data name of a confirmed supplier in place of the name read from the page.

    OCR misreads names ("Bürobedarf" as "Bucobedart") that the USt-IdNr. or IBAN on the same page
    identify beyond doubt; the booking needs the supplier's real name. The printed text and its box
    stay as the evidence. A match with conflicting identifiers changes nothing: a person must look.
    A match that does not confirm the supplier (a name merely found somewhere in the text, an
    ambiguous one) changes nothing either. Updates ``result`` in place, the overall confidence included.
    """
    read = result.fields.get("supplier_name")
    # Without a name read there is nothing to correct (and the missing-field check already ran).
    if not supplier_confirmed(supplier) or read is None:
        return
    same = read.normalized == supplier.name
    result.fields["supplier_name"] = FieldValue(
        name="supplier_name",
        value=read.value,
        normalized=supplier.name,
        # A name read right and confirmed is as sure as the match; a corrected one exactly that.
        confidence=max(read.confidence if same else 0.0, round(min(MASTER_NAME_CAP, supplier.confidence), 3)),
        page=read.page,
        bbox=read.bbox,
        rule=read.rule if same else f"stammdaten:{supplier.rule}",
    )
    result.overall_confidence = overall_confidence(
        result.fields, result.validation, result.document_type, result.document_type_confidence
    )


def _net_from_positions(items: list[dict], vat: Candidate, total: Candidate) -> Candidate | None:
    """Net = total - USt, but only when the positions add up to exactly that amount.

    Two independent readings agreeing (the totals block and the table) is what makes an
    amount that is not printed under a readable label trustworthy.
    """
    try:
        positions = sum((Decimal(item["line_total"]) for item in items if item.get("line_total")), Decimal("0"))
    except InvalidOperation:
        return None
    net = total.found.parsed - vat.found.parsed
    if not items or positions != net:
        return None
    found = Found(f"{total.found.value} - {vat.found.value}", str(net), [], parsed=net)
    return Candidate("net_amount", found, total.page, "differenz:gesamt-ust=summe-positionen", 0.75, total.line)


def _bic_checked_against_blz(bic: Candidate, iban: Candidate) -> Candidate:
    """The registry's BIC for the IBAN's BLZ when the read BIC is it with OCR look-alikes swapped.

    "VBMHDESFXXX" read next to an IBAN of BLZ 51390000 is Volksbank Mittelhessen's VBMHDE5FXXX; a
    BIC that differs in more than look-alikes is left as read (the validation reports it).
    """
    read = bic.found.normalized
    known = bic_for_iban(iban.found.normalized)
    if known is None or same_bic(read, known) or not ocr_variant_of(read, known):
        return bic
    repaired = known[: len(read)]
    found = Found(bic.found.value, repaired, bic.found.words, repaired=True)
    return Candidate("bic", found, bic.page, f"{bic.rule}+blz-register", bic.strength, bic.line)


def _vat_rate_candidate(vat: Candidate) -> Candidate | None:
    from extraction.values import find_rates

    if vat.line is None:
        return None
    rates = find_rates(vat.line.words)
    if not rates:
        return None
    return Candidate("vat_rate", rates[0], vat.page, vat.rule, vat.strength, vat.line)


def _ocr_factor(candidate: Candidate) -> float:
    words = candidate.found.words
    if not words:
        return 1.0
    mean = sum(word.confidence for word in words) / len(words)
    # Tesseract's word confidence is a weak probability: 0.9 means "probably right", not 10 %
    # wrong. Map it gently so clean scans are not punished, garbled words clearly are.
    return 0.55 + 0.45 * max(0.0, min(1.0, mean))


def _field_value(name: str, candidate: Candidate) -> FieldValue:
    confidence = candidate.strength * _ocr_factor(candidate)
    if candidate.found.repaired:
        confidence *= REPAIRED_FACTOR
    words = candidate.found.words
    return FieldValue(
        name=name,
        value=candidate.found.value,
        normalized=candidate.found.normalized,
        confidence=round(max(0.0, min(1.0, confidence)), 3),
        page=candidate.page,
        bbox=tuple(round(c, 5) for c in union_bbox(words)) if words else None,
        rule=candidate.rule,
    )


def overall_confidence(
    fields: dict[str, FieldValue], checks: list[ValidationCheck], document_type: str, type_confidence: float
) -> float:
    """Weighted field confidence, scaled by the classification and moved by the validation outcome.

    Required fields that are missing count with confidence 0, so an invoice without a total
    cannot look confident however well the rest was read.
    """
    names = set(fields) | set(REQUIRED_FIELDS.get(document_type, ()))
    if not names:
        return 0.0
    weights = {name: FIELD_WEIGHTS.get(name, DEFAULT_WEIGHT) for name in names}
    weighted = sum(weights[name] * (fields[name].confidence if name in fields else 0.0) for name in names)
    confidence = weighted / sum(weights.values())
    confidence *= 0.7 + 0.3 * type_confidence
    failed = [check for check in checks if not check.ok]
    for check in failed:
        confidence *= FAILED_CHECK_FACTORS.get(check.rule, FAILED_CHECK_DEFAULT)
    if not failed and len(checks) >= 3:
        confidence += (1.0 - confidence) * ALL_PASSED_LIFT
    return round(max(0.0, min(1.0, confidence)), 3)
