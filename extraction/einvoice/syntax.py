"""Which e-invoice a piece of XML is: syntax by root element, flavour by profile (BT-24).

The three syntaxes we read:

* ``cii``      UN/CEFACT Cross Industry Invoice D16B: ZUGFeRD 2.x, Factur-X, XRechnung (CII)
* ``zugferd1`` ZUGFeRD 1.0 ``CrossIndustryDocument`` (2014-2019, still arriving from old ERPs)
* ``ubl``      OASIS UBL 2.1 ``Invoice`` / ``CreditNote``: XRechnung (UBL), Peppol BIS

The flavour is the standard that tells a clerk where the invoice came from; it is read from
the profile identifier, because the namespaces of all CII (and all UBL) variants are identical.
"""

from dataclasses import dataclass
from xml.parsers import expat

CII = "cii"
ZUGFERD1 = "zugferd1"
UBL = "ubl"
SYNTAXES = (CII, ZUGFERD1, UBL)

FLAVOUR_ZUGFERD1 = "zugferd1"
FLAVOUR_ZUGFERD2 = "zugferd2"
FLAVOUR_FACTURX = "facturx"
FLAVOUR_XRECHNUNG = "xrechnung"
FLAVOUR_PEPPOL = "peppol"
FLAVOUR_EN16931 = "en16931"  # an EN 16931 invoice without a CIUS we recognise

NS_CII = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
NS_ZUGFERD1 = "urn:ferd:CrossIndustryDocument:invoice:1p0"
NS_UBL_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_UBL_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"

# (namespace, local name) of the document element -> syntax.
ROOTS = {
    (NS_CII, "CrossIndustryInvoice"): CII,
    (NS_ZUGFERD1, "CrossIndustryDocument"): ZUGFERD1,
    (NS_UBL_INVOICE, "Invoice"): UBL,
    (NS_UBL_CREDIT_NOTE, "CreditNote"): UBL,
}

# Prefixes for ElementTree paths, one map per syntax (ZUGFeRD 1.0 used older ram/udt versions).
NAMESPACES = {
    CII: {
        "rsm": NS_CII,
        "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
        "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
        "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    },
    ZUGFERD1: {
        "rsm": NS_ZUGFERD1,
        "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:12",
        "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:15",
    },
    UBL: {
        "inv": NS_UBL_INVOICE,
        "cn": NS_UBL_CREDIT_NOTE,
        "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
        "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    },
}

# Where each syntax states its profile (BT-24, "Spezifikationskennung").
PROFILE_PATHS = {
    CII: "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID",
    ZUGFERD1: "rsm:SpecifiedExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID",
    UBL: "cbc:CustomizationID",
}

# Attachment names the standards prescribe: Factur-X / ZUGFeRD 2.1+, ZUGFeRD 2.0, ZUGFeRD 1.0,
# and XRechnung XML that some senders embed in a visual PDF.
EINVOICE_FILENAMES = ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml")

# Profile identifiers -> the level a Factur-X / ZUGFeRD PDF declares (MINIMUM and BASIC WL
# carry no line items, which matters for what the clerk can expect to see).
_LEVELS = (
    ("urn:factur-x.eu:1p0:minimum", "MINIMUM"),
    ("urn:zugferd.de:2p0:minimum", "MINIMUM"),
    ("urn:factur-x.eu:1p0:basicwl", "BASIC WL"),
    ("urn:zugferd.de:2p0:basicwl", "BASIC WL"),
    ("urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic", "BASIC"),
    ("urn:zugferd.de:2p0:basic", "BASIC"),
    ("urn:cen.eu:en16931:2017#conformant#urn:factur-x.eu:1p0:extended", "EXTENDED"),
    ("urn:cen.eu:en16931:2017#conformant#urn:zugferd.de:2p0:extended", "EXTENDED"),
    ("urn:zugferd.de:2p0:extended", "EXTENDED"),
    ("urn:ferd:CrossIndustryDocument:invoice:1p0:basic", "BASIC"),
    ("urn:ferd:CrossIndustryDocument:invoice:1p0:comfort", "COMFORT"),
    ("urn:ferd:CrossIndustryDocument:invoice:1p0:extended", "EXTENDED"),
)


@dataclass(frozen=True, slots=True)
class EInvoiceSource:
    """The structured invoice found in an upload, ready for ``parse_einvoice``.

    ``xml`` is the invoice XML itself (from the PDF attachment or the upload), ``syntax`` one of
    ``SYNTAXES``, ``profile`` the specification identifier BT-24 ("" when the document has none),
    ``flavour`` the standard it belongs to (``zugferd1``, ``zugferd2``, ``facturx``,
    ``xrechnung``, ``peppol``, ``en16931``), ``container`` ``"pdf"`` or ``"xml"`` and ``filename``
    the attachment name inside the PDF ("" for a bare XML upload).
    """

    xml: bytes
    syntax: str
    profile: str
    flavour: str
    container: str
    filename: str = ""

    @property
    def level(self) -> str:
        """Conformance level ("EN16931", "BASIC", "XRECHNUNG", ...) as far as the profile says."""
        if "xrechnung" in self.profile.lower():
            return "XRECHNUNG"
        for prefix, level in _LEVELS:
            if self.profile.startswith(prefix):
                return level
        if self.profile.startswith("urn:cen.eu:en16931:2017"):
            return "EN16931"
        return ""


def flavour_for(syntax: str, profile: str, filename: str = "") -> str:
    lowered = profile.lower()
    if syntax == ZUGFERD1:
        return FLAVOUR_ZUGFERD1
    if "xrechnung" in lowered:
        return FLAVOUR_XRECHNUNG
    if "peppol" in lowered:
        return FLAVOUR_PEPPOL
    if syntax == CII:
        # ZUGFeRD 2.0 had its own profile ids and file name; from 2.1 on ZUGFeRD and Factur-X
        # are the same standard, file name "factur-x.xml" included.
        if lowered.startswith("urn:zugferd.de:") or filename.lower() == "zugferd-invoice.xml":
            return FLAVOUR_ZUGFERD2
        return FLAVOUR_FACTURX
    return FLAVOUR_EN16931


class _RootFound(Exception):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def root_element(data: bytes) -> tuple[str, str] | None:
    """(namespace, local name) of the document element, or None if ``data`` has none.

    Expat stops at the first start tag, before any entity in the content could be expanded
    and without fetching anything (pyexpat loads external entities only when asked to), so
    this is safe to run on hostile input; ``read_xml`` then refuses such a document.
    """
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def start(name, _attributes):
        raise _RootFound(name)

    parser.StartElementHandler = start
    try:
        for offset in range(0, len(data), 64 * 1024):
            parser.Parse(data[offset : offset + 64 * 1024], False)
        parser.Parse(b"", True)
    except _RootFound as found:
        namespace, _, local = found.name.rpartition(" ")
        return namespace, local
    except (expat.ExpatError, ValueError):
        # pyexpat raises ValueError for a declared multi-byte encoding (UTF-32, UCS-4): no
        # e-invoice syntax allows one, so the file has no e-invoice root (found by fuzzing).
        return None
    return None


def syntax_of(data: bytes) -> str | None:
    root = root_element(data)
    return ROOTS.get(root) if root else None
