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
5. ``overall_confidence`` reaches the threshold of its type (``thresholds_by_type``, system settings
   ``extraction.threshold.<type>``), else the general ``threshold`` (``ABLAGE_AUTO_APPROVE_THRESHOLD``
   or ``extraction.auto_approve_threshold``);
6. it is not drawn for the quality sample: a fixed share (``sample_rate``, system setting
   ``extraction.quality_sample_rate``) of what would be approved goes to review anyway, so that
   people keep seeing what the machine approves and a silent drift in accuracy shows up.

Anything else is ``"review"``. ``decide_with_reason`` also says why, in German, for the clerk.
"""

import hashlib
from collections.abc import Mapping

from django.utils.translation import gettext as _

from extraction.types import ExtractionResult
from extraction.validation import FIELD_NAMES, REQUIRED_FIELDS

AUTO_APPROVE = "auto_approve"
REVIEW = "review"

# Types whose amounts must be shown to add up before anyone may skip looking at them.
SUM_CHECKED_TYPES = {"invoice", "credit_note"}
# The currency too: an amount in an unknown currency cannot be booked.
PROVEN_FIELDS = ("net_amount", "vat_amount", "total_amount", "currency")
PROVEN_FIELD_NAMES = {"net_amount": "Nettobetrag", "vat_amount": "Umsatzsteuer", "currency": "Währung"}

# The sample is drawn in basis points: a rate of 0.05 takes buckets 0..499 of 0..9999.
SAMPLE_BUCKETS = 10_000


def decide(
    result: ExtractionResult,
    *,
    threshold: float,
    thresholds_by_type: Mapping[str, float] | None = None,
    sample_key: str | None = None,
    sample_rate: float = 0.0,
) -> str:
    """``"auto_approve"`` or ``"review"``; see ``decide_with_reason`` for the arguments."""
    decision, _reason = decide_with_reason(
        result,
        threshold=threshold,
        thresholds_by_type=thresholds_by_type,
        sample_key=sample_key,
        sample_rate=sample_rate,
    )
    return decision


def decide_with_reason(
    result: ExtractionResult,
    *,
    threshold: float,
    thresholds_by_type: Mapping[str, float] | None = None,
    sample_key: str | None = None,
    sample_rate: float = 0.0,
) -> tuple[str, str]:
    """The decision and, in German, the first reason that made it.

    ``thresholds_by_type`` maps a document type to its confidence threshold (types not listed use
    ``threshold``). ``sample_rate`` (0..1) is the share of would-be approvals sent to review for
    quality control, drawn by ``sample_key`` (the document id): the same document is always drawn
    the same way, so a reprocessed document does not change its fate by chance.

    Raises ``ValueError`` for a threshold or rate outside 0..1, or a sample rate without a key.
    """
    _check_share(threshold, _("Der Schwellenwert"))
    for document_type, value in (thresholds_by_type or {}).items():
        _check_share(value, _("Der Schwellenwert für „%(type)s“") % {"type": document_type})
    _check_share(sample_rate, _("Der Stichprobenanteil"))
    if sample_rate > 0 and not sample_key:
        raise ValueError(_("Für eine Stichprobe ist ein Schlüssel (die Dokument-ID) nötig."))

    required = REQUIRED_FIELDS.get(result.document_type)
    if required is None:
        return REVIEW, _("Dokumenttyp nicht erkannt.")
    missing = [name for name in required if name not in result.fields]
    if missing:
        return REVIEW, _("Pflichtfelder fehlen: %(names)s") % {"names": _field_names(missing, FIELD_NAMES)}
    failed = [check for check in result.validation if not check.ok]
    if failed:
        return REVIEW, _("Prüfung fehlgeschlagen: %(messages)s") % {
            "messages": " ".join(check.message for check in failed)
        }
    if result.document_type in SUM_CHECKED_TYPES:
        unproven = [name for name in PROVEN_FIELDS if name not in result.fields]
        if unproven:
            return REVIEW, _("Beträge nicht belegt, es fehlen: %(names)s") % {
                "names": _field_names(unproven, PROVEN_FIELD_NAMES)
            }
        if not any(check.rule == "amounts_sum" and check.ok for check in result.validation):
            return REVIEW, _("Beträge nicht belegt: Netto + USt = Gesamtbetrag wurde nicht geprüft.")
    type_threshold = (thresholds_by_type or {}).get(result.document_type, threshold)
    if result.overall_confidence < type_threshold:
        return REVIEW, _("Sicherheit %(confidence)s unter Schwelle %(threshold)s") % {
            "confidence": german_percent(result.overall_confidence),
            "threshold": german_percent(type_threshold),
        }
    if sample_rate > 0 and in_quality_sample(sample_key, sample_rate):
        return REVIEW, _("Stichprobe zur Qualitätssicherung (%(rate)s)") % {"rate": german_percent(sample_rate)}
    return AUTO_APPROVE, _("Alle Prüfungen bestanden; Sicherheit %(confidence)s, Schwelle %(threshold)s.") % {
        "confidence": german_percent(result.overall_confidence),
        "threshold": german_percent(type_threshold),
    }


def sample_bucket(sample_key: str) -> int:
    """0..9999 from SHA-256 of the key: stable across processes and releases, unlike ``hash()``."""
    digest = hashlib.sha256(sample_key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % SAMPLE_BUCKETS


def in_quality_sample(sample_key: str, sample_rate: float) -> bool:
    # round(): 0.05 * 10_000 is 500.00000000000006 in binary floating point.
    return sample_bucket(sample_key) < round(sample_rate * SAMPLE_BUCKETS)


def german_percent(share: float) -> str:
    """0.72 -> "72 %", 0.855 -> "85,5 %" (DIN 5008: a space before the sign)."""
    text = f"{share * 100:.1f}".removesuffix(".0").replace(".", ",")
    return f"{text} %"


def _field_names(names: list[str], labels: Mapping[str, str]) -> str:
    return ", ".join(labels.get(name, name) for name in names)


def _check_share(value: float, label: str) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(
            _("%(label)s muss zwischen 0 und 1 liegen, nicht %(value)r.") % {"label": label, "value": value}
        )
