"""Auto-approve or review: the one place that decides whether a person looks at a document.

A document is approved without a person only when all of these hold:

1. its type is known (``unknown`` always goes to review: we cannot say which fields it needs);
2. every field that type requires is present (``validation.REQUIRED_FIELDS``: for invoices and
   credit notes number, date, total and supplier);
3. every validation check passed (a sum that does not add up, a bad IBAN checksum, a due date
   before the invoice date each send it to review, however confident the rules were);
4. for invoices and credit notes: net, USt, total and currency are all present and the ``amounts_sum``
   check ran and passed. A check that could not run proves nothing: without a net amount an
   invoice whose total was misread would otherwise pass every check that did run;
5. ``overall_confidence`` reaches ``threshold`` (``ABLAGE_AUTO_APPROVE_THRESHOLD`` or the
   system setting ``extraction.auto_approve_threshold``).

Anything else is ``"review"``.
"""

from extraction.types import ExtractionResult
from extraction.validation import REQUIRED_FIELDS

AUTO_APPROVE = "auto_approve"
REVIEW = "review"

# Types whose amounts must be shown to add up before anyone may skip looking at them.
SUM_CHECKED_TYPES = {"invoice", "credit_note"}
# The currency too: an amount in an unknown currency cannot be booked.
PROVEN_FIELDS = ("net_amount", "vat_amount", "total_amount", "currency")


def decide(result: ExtractionResult, *, threshold: float) -> str:
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"Der Schwellenwert muss zwischen 0 und 1 liegen, nicht {threshold!r}.")
    required = REQUIRED_FIELDS.get(result.document_type)
    if required is None:
        return REVIEW
    if any(name not in result.fields for name in required):
        return REVIEW
    if any(not check.ok for check in result.validation):
        return REVIEW
    if result.document_type in SUM_CHECKED_TYPES and not _amounts_proven(result):
        return REVIEW
    if result.overall_confidence < threshold:
        return REVIEW
    return AUTO_APPROVE


def _amounts_proven(result: ExtractionResult) -> bool:
    if any(name not in result.fields for name in PROVEN_FIELDS):
        return False
    return any(check.rule == "amounts_sum" and check.ok for check in result.validation)
