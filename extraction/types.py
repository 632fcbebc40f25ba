"""The result of extraction, independent of how the words were obtained."""

from dataclasses import dataclass, field


@dataclass(slots=True)
class FieldValue:
    """One extracted field with its evidence.

    ``value`` is the text as printed ("1.234,56 €"), ``normalized`` the canonical string
    ("1234.56"; dates "YYYY-MM-DD"; IBAN/VAT ID upper-case without spaces; currency ISO 4217).
    ``page`` is 1-based; ``bbox`` is normalised (x0, y0, x1, y1) on that page; ``rule`` names
    the rule that produced the value (evidence for the clerk); ``rule_id`` and ``rule_version``
    are set when a configured ``ExtractionRule`` produced it.
    """

    name: str
    value: str
    normalized: str
    confidence: float
    page: int | None = None
    bbox: tuple[float, float, float, float] | None = None
    rule: str = ""
    rule_id: str = ""
    rule_version: int | None = None


@dataclass(slots=True)
class ValidationCheck:
    rule: str
    ok: bool
    message: str
    fields: tuple[str, ...] = ()


@dataclass(slots=True)
class ExtractionResult:
    document_type: str
    document_type_confidence: float
    fields: dict[str, FieldValue] = field(default_factory=dict)
    line_items: list[dict] = field(default_factory=list)
    validation: list[ValidationCheck] = field(default_factory=list)
    overall_confidence: float = 0.0
    # extraction.rules.RuleUsage per configured rule that ran: recorded on the rules afterwards.
    rule_usage: list = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SupplierEvidence:
    """What the supplier master data says about a document's sender, as extraction and decision need it.

    ``rule`` is how the supplier was found (``suppliers.matching.MatchRule``: ``vat_id``, ``iban``,
    ``tax_number``, ``sender_email``, ``name_fuzzy``, ``name_phrase``); ``conflicts`` names
    identifiers that belong to another supplier (a foreign IBAN may be payment diversion).
    ``match`` carries the matcher's own result for the caller that stores it (the document's supplier).
    """

    name: str
    rule: str
    confidence: float
    conflicts: tuple[str, ...] = ()
    match: object = None
