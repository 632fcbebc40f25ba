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
6. for a document read by OCR (``content_source="ocr"``), two more (``_scan_gate``): its supplier is
   confirmed by the master data (``supplier``: found by USt-IdNr., IBAN, Steuernummer or a close name,
   without conflicting identifiers), and every field the booking rests on (the type's required
   fields, the proven amounts, USt-IdNr. and IBAN) reaches ``OCR_FIELD_FLOOR``. Tesseract misreads
   letters in ways no checksum catches ("Bürobedarf" read "Bucobedart"); an average confidence
   hides one weak field, a floor per field does not;
7. it is not drawn for the quality sample: a fixed share (``sample_rate``, system setting
   ``extraction.quality_sample_rate``) of what would be approved goes to review anyway, so that
   people keep seeing what the machine approves and a silent drift in accuracy shows up.

Anything else is ``"review"``. ``decide_with_reason`` also says why, in German, for the clerk.
"""

import hashlib
from collections.abc import Mapping

from django.utils.translation import gettext as _

from extraction.types import ExtractionResult, SupplierEvidence
from extraction.validation import FIELD_NAMES, REQUIRED_FIELDS

AUTO_APPROVE = "auto_approve"
REVIEW = "review"

# Types whose amounts must be shown to add up before anyone may skip looking at them.
SUM_CHECKED_TYPES = {"invoice", "credit_note"}
# The currency too: an amount in an unknown currency cannot be booked.
PROVEN_FIELDS = ("net_amount", "vat_amount", "total_amount", "currency")
PROVEN_FIELD_NAMES = {"net_amount": "Nettobetrag", "vat_amount": "Umsatzsteuer", "currency": "Währung"}

# Pages whose words came from Tesseract (``ocr.pipeline``'s ``content_source``).
OCR_SOURCE = "ocr"
# How a scanned document's supplier may be confirmed: an identifier printed by law found in the
# master data, or a name close to a master-data name. A sender e-mail address says who forwarded
# the scan, not who wrote it.
CONFIRMING_RULES = frozenset({"vat_id", "iban", "tax_number", "name_fuzzy", "name_phrase"})
SUPPLIER_FLOOR = 0.9
# Calibrated on the 54 scans of ``manage.py bench extraction --count 108`` (README, extraction section):
# once the supplier is confirmed, no floor from 0 to 0.9 changed the error rate among approved
# fields (0 %), but each step above 0.65 sent many right values to review (scans approved: 0.65 ->
# 50 %, 0.7 -> 38 %, 0.8 -> 29 %; values read at 0.65-0.85 were right 55 times out of 57). Below 0.65
# sit the guesses: a date found without its label, a number after an unreadable one.
OCR_FIELD_FLOOR = 0.65
# Identifiers a booking (and a payment) rests on, besides the required fields and the amounts.
OCR_FLOOR_FIELDS = ("supplier_vat_id", "iban")
_GATE_FIELD_NAMES = {**FIELD_NAMES, **PROVEN_FIELD_NAMES, "supplier_vat_id": "USt-IdNr.", "iban": "IBAN"}

# The sample is drawn in basis points: a rate of 0.05 takes buckets 0..499 of 0..9999.
SAMPLE_BUCKETS = 10_000


def decide(
    result: ExtractionResult,
    *,
    threshold: float,
    thresholds_by_type: Mapping[str, float] | None = None,
    sample_key: str | None = None,
    sample_rate: float = 0.0,
    content_source: str = "",
    supplier: SupplierEvidence | None = None,
) -> str:
    """``"auto_approve"`` or ``"review"``; see ``decide_with_reason`` for the arguments."""
    decision, _reason = decide_with_reason(
        result,
        threshold=threshold,
        thresholds_by_type=thresholds_by_type,
        sample_key=sample_key,
        sample_rate=sample_rate,
        content_source=content_source,
        supplier=supplier,
    )
    return decision


def decide_with_reason(
    result: ExtractionResult,
    *,
    threshold: float,
    thresholds_by_type: Mapping[str, float] | None = None,
    sample_key: str | None = None,
    sample_rate: float = 0.0,
    content_source: str = "",
    supplier: SupplierEvidence | None = None,
) -> tuple[str, str]:
    """The decision and, in German, the first reason that made it.

    ``thresholds_by_type`` maps a document type to its confidence threshold (types not listed use
    ``threshold``). ``sample_rate`` (0..1) is the share of would-be approvals sent to review for
    quality control, drawn by ``sample_key`` (the document id): the same document is always drawn
    the same way, so a reprocessed document does not change its fate by chance.
    ``content_source`` is where the words came from (``"ocr"``, ``"text_layer"``, ``"einvoice"``);
    ``supplier`` what the master data says about the sender (None: not found, or not looked up).

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
    if content_source == OCR_SOURCE:
        refusal = _scan_gate(result, supplier)
        if refusal:
            return REVIEW, refusal
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


def supplier_confirmed(supplier: SupplierEvidence | None) -> bool:
    """The master data names the sender beyond reasonable doubt (see ``CONFIRMING_RULES``)."""
    return (
        supplier is not None
        and not supplier.conflicts
        and supplier.rule in CONFIRMING_RULES
        and supplier.confidence >= SUPPLIER_FLOOR
    )


def _scan_gate(result: ExtractionResult, supplier: SupplierEvidence | None) -> str:
    """Why a document read by OCR may not be approved without a person; "" when nothing speaks against it."""
    if supplier is None:
        return _("Gescannter Beleg: Lieferant nicht in den Stammdaten gefunden.")
    if supplier.conflicts:
        return _("Gescannter Beleg: Kennungen gehören zu verschiedenen Lieferanten.")
    if not supplier_confirmed(supplier):
        return _("Gescannter Beleg: Lieferant %(name)s nicht sicher bestätigt (%(confidence)s).") % {
            "name": supplier.name,
            "confidence": german_percent(supplier.confidence),
        }
    names = list(REQUIRED_FIELDS.get(result.document_type, ()))
    if result.document_type in SUM_CHECKED_TYPES:
        names += PROVEN_FIELDS
    names += OCR_FLOOR_FIELDS
    weak = [
        name
        for name in dict.fromkeys(names)
        if name in result.fields and result.fields[name].confidence < OCR_FIELD_FLOOR
    ]
    if weak:
        return _("Gescannter Beleg: unsicher gelesen (unter %(floor)s): %(names)s") % {
            "floor": german_percent(OCR_FIELD_FLOOR),
            "names": ", ".join(
                f"{_GATE_FIELD_NAMES.get(name, name)} {german_percent(result.fields[name].confidence)}" for name in weak
            ),
        }
    return ""


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
