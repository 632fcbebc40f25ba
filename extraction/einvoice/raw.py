"""What a syntax mapper reads out of the XML, before any value is interpreted.

Each mapper (``cii``, ``ubl``) only finds elements; turning their text into dates, amounts
and identifiers happens once, in ``parse``, so every syntax is normalised the same way.
"""

import re
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

_PREDICATE_RE = re.compile(r"\[[^\]]*\]")

CII_DATE = "102"  # UN/EDIFACT 2379: CCYYMMDD
ISO_DATE = "iso"  # xs:date, as UBL writes it


@dataclass(frozen=True, slots=True)
class Raw:
    """One element's text and where it came from.

    ``rule`` is "<business term> <path>" ("BT-1 ExchangedDocument/ID"), the evidence the clerk
    sees; ``date_format`` is CII's ``@format`` (102 = YYYYMMDD), "iso" for UBL dates.
    """

    text: str
    rule: str
    date_format: str = ""
    unit_code: str = ""
    currency: str = ""


@dataclass(slots=True)
class RawTax:
    """One line of the VAT breakdown (BG-23)."""

    basis: Raw | None
    amount: Raw | None
    rate: Raw | None
    category: Raw | None


@dataclass(slots=True)
class RawLine:
    """One invoice line (BG-25)."""

    position: Raw | None
    description: Raw | None
    quantity: Raw | None
    unit_price: Raw | None
    price_basis_quantity: Raw | None
    vat_rate: Raw | None
    line_total: Raw | None


@dataclass(slots=True)
class RawInvoice:
    """Everything the parser needs from one e-invoice, syntax-independent.

    ``fields`` holds the plain header values under the project's field names; ``totals`` the
    document totals under EN 16931 names (line_total BT-106, allowance_total BT-107,
    charge_total BT-108, tax_basis BT-109, tax_total BT-110, grand_total BT-112, prepaid BT-113,
    rounding BT-114, due_payable BT-115).
    """

    is_credit_note_root: bool = False
    type_code: Raw | None = None
    fields: dict[str, Raw] = field(default_factory=dict)
    totals: dict[str, Raw] = field(default_factory=dict)
    taxes: list[RawTax] = field(default_factory=list)
    lines: list[RawLine] = field(default_factory=list)


def local_path(path: str) -> str:
    """ "rsm:ExchangedDocument/ram:ID" -> "ExchangedDocument/ID": rules are read by people.

    At most the last three steps, so a rule fits ``ExtractedField.rule`` (100 characters).
    """
    steps = [step.split(":", 1)[-1] for step in path.split("/")]
    return "/".join(steps[-3:])


def raw_text(
    element: Element | None, path: str, namespaces: dict[str, str], business_term: str, *, within: str = ""
) -> Raw | None:
    """The stripped text at ``path`` below ``element`` as a ``Raw``; None when absent or empty.

    ``within`` is the path of ``element`` itself, so the rule names the element in context
    ("ExchangedDocument/ID", not just "ID").
    """
    if element is None:
        return None
    found = element.find(path, namespaces)
    return raw_of(found, f"{within}/{path}" if within else path, business_term)


def raw_of(found: Element | None, path: str, business_term: str) -> Raw | None:
    if found is None:
        return None
    text = " ".join((found.text or "").split())
    if not text:
        return None
    # Predicates ("[@schemeID='VA']") are left out: the business term already says which one.
    steps = local_path(_PREDICATE_RE.sub("", path))
    rule = f"{business_term} {steps}".strip()
    return Raw(
        text=text,
        rule=rule,
        date_format=found.get("format", ""),
        unit_code=found.get("unitCode", ""),
        currency=found.get("currencyID", ""),
    )
