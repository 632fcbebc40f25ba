"""E-invoices made from an ``InvoiceSpec``: the same invoice as ``render_pdf`` prints, as XML.

* ``cii_xml(spec, profile=...)``  UN/CEFACT CII D16B: XRechnung 3.0 (``PROFILE_XRECHNUNG``) or
  Factur-X / ZUGFeRD 2.x EN 16931 (``PROFILE_FACTURX_EN16931``) and BASIC
* ``zugferd1_xml(spec)``          ZUGFeRD 1.0 COMFORT ``CrossIndustryDocument``
* ``ubl_xml(spec)``               UBL 2.1 ``Invoice`` or, for a credit note, ``CreditNote`` (XRechnung 3.0)
* ``facturx_pdf(spec)`` / ``zugferd1_pdf(spec)``  the printed invoice with the XML attached
  (PDF/A-3 style: ``/EmbeddedFiles`` and ``/AF``, AFRelationship ``/Alternative``, XMP)
* hostile samples: ``billion_laughs_xml()``, ``external_entity_xml(url)``, ``external_dtd_xml(url)``,
  ``pdf_with_attachment(pdf, xml, name)``

Only what the printed page carries goes into the XML (order number, customer number, bank
details per ``InvoiceSpec.prints_*``), so ``spec.ground_truth()`` is the truth for both.
Amounts of a credit note are positive, as EN 16931 wants them for type code 381.
"""

import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from xml.sax.saxutils import escape, quoteattr

from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DecodedStreamObject, NameObject, TextStringObject

from ablage.testing.german import normalise_amount
from ablage.testing.invoice_pdf import render_pdf
from ablage.testing.invoices import CREDIT_NOTE, INVOICE, InvoiceSpec, LineItem

PROFILE_XRECHNUNG = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
PROFILE_FACTURX_EN16931 = "urn:cen.eu:en16931:2017"
PROFILE_FACTURX_BASIC = "urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic"
PROFILE_ZUGFERD1_COMFORT = "urn:ferd:CrossIndustryDocument:invoice:1p0:comfort"
PEPPOL_BILLING_PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"

NS_RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
NS_RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
NS_UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
NS_QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NS_FERD = "urn:ferd:CrossIndustryDocument:invoice:1p0"
NS_RAM_12 = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:12"
NS_UDT_15 = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:15"
NS_UBL_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_UBL_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NS_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
NS_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"

# UN/ECE Recommendation 20 codes of the generator's units.
UNIT_CODES = {"Stk.": "H87", "Std.": "HUR", "kg": "KGM"}
TYPE_CODES = {INVOICE: "380", CREDIT_NOTE: "381"}
SEPA_CREDIT_TRANSFER = "58"


@dataclass
class _Node:
    tag: str
    text: str | None = None
    attrs: dict[str, str] = field(default_factory=dict)
    children: list["_Node"] = field(default_factory=list)

    def write(self, out: list[str], depth: int) -> None:
        pad = "  " * depth
        attrs = "".join(f" {name}={quoteattr(value)}" for name, value in self.attrs.items())
        if self.children:
            out.append(f"{pad}<{self.tag}{attrs}>")
            for child in self.children:
                child.write(out, depth + 1)
            out.append(f"{pad}</{self.tag}>")
        elif self.text is not None:
            out.append(f"{pad}<{self.tag}{attrs}>{escape(self.text)}</{self.tag}>")
        else:
            out.append(f"{pad}<{self.tag}{attrs}/>")


def _el(tag: str, *children: "_Node | None", text: str | None = None, **attrs: str) -> _Node:
    """An element; None children are left out, so optional parts read inline."""
    return _Node(tag, text, attrs, [child for child in children if child is not None])


def _serialise(root: _Node) -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    root.write(out, 0)
    return ("\n".join(out) + "\n").encode("utf-8")


def _require_billing(spec: InvoiceSpec) -> None:
    if spec.document_type not in TYPE_CODES:
        raise ValueError(
            f"Eine E-Rechnung gibt es nur für Rechnungen und Gutschriften, nicht für {spec.document_type!r}."
        )


def _amount(value: Decimal) -> str:
    return normalise_amount(value)


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _unit_code(item: LineItem) -> str:
    try:
        return UNIT_CODES[item.unit]
    except KeyError:
        raise ValueError(f"Für die Einheit {item.unit!r} ist kein UN/ECE-Code hinterlegt.") from None


def _category(rate: Decimal) -> str:
    # UNCL 5305: S = standard/reduced rate, Z = zero rated.
    return "S" if rate else "Z"


def _payment_terms(spec: InvoiceSpec) -> str:
    if spec.due_date is None:
        return "Der Betrag wird mit offenen Forderungen verrechnet oder Ihrem Konto gutgeschrieben."
    return f"Zahlbar innerhalb {spec.payment_days} Tagen ohne Abzug bis {spec.due_date:%d.%m.%Y}."


def leitweg_id(spec: InvoiceSpec) -> str:
    """A well-formed Leitweg-ID (BT-10 in XRechnung) derived from the customer number.

    Grobadressierung-Feinadressierung-Prüfziffer; the check digits are ISO 7064 MOD 97-10 over
    the first two parts (letters as 10..35), as the KoSIT Leitweg-ID format prescribes.
    """
    coarse = "991"
    fine = "".join(char for char in spec.customer_number if char.isalnum()).upper() or "0"
    numeric = "".join(str(int(char, 36)) for char in coarse + fine) + "00"
    return f"{coarse}-{fine}-{98 - int(numeric) % 97:02d}"


# --- CII (ZUGFeRD 2.x, Factur-X, XRechnung) -------------------------------------------------


def cii_xml(spec: InvoiceSpec, *, profile: str = PROFILE_XRECHNUNG) -> bytes:
    """CII D16B with elements in schema order; XRechnung adds Leitweg-ID, contacts and e-mail addresses."""
    _require_billing(spec)
    xrechnung = "xrechnung" in profile
    currency = spec.currency
    supplier = spec.supplier
    context = _el(
        "rsm:ExchangedDocumentContext",
        _el("ram:BusinessProcessSpecifiedDocumentContextParameter", _el("ram:ID", text=PEPPOL_BILLING_PROCESS))
        if xrechnung
        else None,
        _el("ram:GuidelineSpecifiedDocumentContextParameter", _el("ram:ID", text=profile)),
    )
    document = _el(
        "rsm:ExchangedDocument",
        _el("ram:ID", text=spec.invoice_number),
        _el("ram:TypeCode", text=TYPE_CODES[spec.document_type]),
        _el("ram:IssueDateTime", _cii_date(spec.invoice_date)),
        _el(
            "ram:IncludedNote",
            _el("ram:Content", text=f"{supplier.register}, Geschäftsführung: {supplier.managing_director}"),
            _el("ram:SubjectCode", text="REG"),
        ),
    )
    lines = [
        _el(
            "ram:IncludedSupplyChainTradeLineItem",
            _el("ram:AssociatedDocumentLineDocument", _el("ram:LineID", text=str(item.position))),
            _el("ram:SpecifiedTradeProduct", _el("ram:Name", text=item.description)),
            _el(
                "ram:SpecifiedLineTradeAgreement",
                _el("ram:NetPriceProductTradePrice", _el("ram:ChargeAmount", text=_amount(item.unit_price))),
            ),
            _el(
                "ram:SpecifiedLineTradeDelivery",
                _el("ram:BilledQuantity", text=_number(item.quantity), unitCode=_unit_code(item)),
            ),
            _el(
                "ram:SpecifiedLineTradeSettlement",
                _el(
                    "ram:ApplicableTradeTax",
                    _el("ram:TypeCode", text="VAT"),
                    _el("ram:CategoryCode", text=_category(item.vat_rate)),
                    _el("ram:RateApplicablePercent", text=_number(item.vat_rate)),
                ),
                _el(
                    "ram:SpecifiedTradeSettlementLineMonetarySummation",
                    _el("ram:LineTotalAmount", text=_amount(item.net_amount)),
                ),
            ),
        )
        for item in spec.line_items
    ]
    seller = _el(
        "ram:SellerTradeParty",
        _el("ram:Name", text=supplier.name),
        _el(
            "ram:DefinedTradeContact",
            _el("ram:PersonName", text=supplier.managing_director),
            _el("ram:TelephoneUniversalCommunication", _el("ram:CompleteNumber", text=supplier.phone)),
            _el("ram:EmailURIUniversalCommunication", _el("ram:URIID", text=supplier.email)),
        )
        if xrechnung
        else None,
        _cii_address(spec.supplier.address),
        _el("ram:URIUniversalCommunication", _el("ram:URIID", text=supplier.email, schemeID="EM"))
        if xrechnung
        else None,
        _el("ram:SpecifiedTaxRegistration", _el("ram:ID", text=supplier.tax_number, schemeID="FC")),
        _el("ram:SpecifiedTaxRegistration", _el("ram:ID", text=supplier.vat_id, schemeID="VA")),
    )
    buyer = _el(
        "ram:BuyerTradeParty",
        _el("ram:ID", text=spec.customer_number) if spec.prints_customer_number else None,
        _el("ram:Name", text=spec.recipient.name),
        _cii_address(spec.recipient),
        _el("ram:URIUniversalCommunication", _el("ram:URIID", text=_buyer_email(spec), schemeID="EM"))
        if xrechnung
        else None,
    )
    agreement = _el(
        "ram:ApplicableHeaderTradeAgreement",
        _el("ram:BuyerReference", text=leitweg_id(spec)) if xrechnung else None,
        seller,
        buyer,
        _el("ram:BuyerOrderReferencedDocument", _el("ram:IssuerAssignedID", text=spec.order_number))
        if spec.prints_order_number
        else None,
    )
    delivery = _el(
        "ram:ApplicableHeaderTradeDelivery",
        _el("ram:ActualDeliverySupplyChainEvent", _el("ram:OccurrenceDateTime", _cii_date(spec.delivery_date)))
        if spec.delivery_date
        else None,
    )
    settlement = _el(
        "ram:ApplicableHeaderTradeSettlement",
        _el("ram:InvoiceCurrencyCode", text=currency),
        _el(
            "ram:SpecifiedTradeSettlementPaymentMeans",
            _el("ram:TypeCode", text=SEPA_CREDIT_TRANSFER),
            _el("ram:PayeePartyCreditorFinancialAccount", _el("ram:IBANID", text=supplier.iban)),
            _el("ram:PayeeSpecifiedCreditorFinancialInstitution", _el("ram:BICID", text=supplier.bic)),
        )
        if spec.prints_bank_details
        else None,
        *[
            _el(
                "ram:ApplicableTradeTax",
                _el("ram:CalculatedAmount", text=_amount(group.vat_amount)),
                _el("ram:TypeCode", text="VAT"),
                _el("ram:BasisAmount", text=_amount(group.net_amount)),
                _el("ram:CategoryCode", text=_category(group.rate)),
                _el("ram:RateApplicablePercent", text=_number(group.rate)),
            )
            for group in spec.vat_groups
        ],
        _el(
            "ram:SpecifiedTradePaymentTerms",
            _el("ram:Description", text=_payment_terms(spec)),
            _el("ram:DueDateDateTime", _cii_date(spec.due_date)) if spec.due_date else None,
        ),
        _el(
            "ram:SpecifiedTradeSettlementHeaderMonetarySummation",
            _el("ram:LineTotalAmount", text=_amount(spec.net_amount)),
            _el("ram:ChargeTotalAmount", text="0.00"),
            _el("ram:AllowanceTotalAmount", text="0.00"),
            _el("ram:TaxBasisTotalAmount", text=_amount(spec.net_amount)),
            _el("ram:TaxTotalAmount", text=_amount(spec.vat_amount), currencyID=currency),
            _el("ram:GrandTotalAmount", text=_amount(spec.total_amount)),
            _el("ram:TotalPrepaidAmount", text="0.00"),
            _el("ram:DuePayableAmount", text=_amount(spec.total_amount)),
        ),
        _el("ram:InvoiceReferencedDocument", _el("ram:IssuerAssignedID", text=spec.reference_invoice_number))
        if spec.reference_invoice_number
        else None,
    )
    root = _el(
        "rsm:CrossIndustryInvoice",
        context,
        document,
        _el("rsm:SupplyChainTradeTransaction", *lines, agreement, delivery, settlement),
        **{"xmlns:rsm": NS_RSM, "xmlns:ram": NS_RAM, "xmlns:udt": NS_UDT, "xmlns:qdt": NS_QDT},
    )
    return _serialise(root)


def xrechnung_cii_xml(spec: InvoiceSpec) -> bytes:
    return cii_xml(spec, profile=PROFILE_XRECHNUNG)


def facturx_xml(spec: InvoiceSpec, *, profile: str = PROFILE_FACTURX_EN16931) -> bytes:
    return cii_xml(spec, profile=profile)


def _cii_date(value: date) -> _Node:
    return _el("udt:DateTimeString", text=value.strftime("%Y%m%d"), format="102")


def _cii_address(address) -> _Node:
    return _el(
        "ram:PostalTradeAddress",
        _el("ram:PostcodeCode", text=address.postal_code),
        _el("ram:LineOne", text=address.street),
        _el("ram:CityName", text=address.city),
        _el("ram:CountryID", text="DE"),
    )


def _buyer_email(spec: InvoiceSpec) -> str:
    slug = "".join(char for char in spec.recipient.name.lower() if char.isascii() and char.isalnum())[:20]
    return f"rechnungseingang@{slug}.de"


# --- ZUGFeRD 1.0 ------------------------------------------------------------------------------


def zugferd1_xml(spec: InvoiceSpec) -> bytes:
    """ZUGFeRD 1.0 COMFORT: the CII predecessor with its own container names and namespaces."""
    _require_billing(spec)
    currency = spec.currency
    supplier = spec.supplier

    def money(tag: str, value: Decimal) -> _Node:
        return _el(tag, text=_amount(value), currencyID=currency)

    document = _el(
        "rsm:HeaderExchangedDocument",
        _el("ram:ID", text=spec.invoice_number),
        _el("ram:Name", text="GUTSCHRIFT" if spec.document_type == CREDIT_NOTE else "RECHNUNG"),
        _el("ram:TypeCode", text=TYPE_CODES[spec.document_type]),
        _el("ram:IssueDateTime", _ferd_date(spec.invoice_date)),
    )
    agreement = _el(
        "ram:ApplicableSupplyChainTradeAgreement",
        _el(
            "ram:SellerTradeParty",
            _el("ram:Name", text=supplier.name),
            _ferd_address(supplier.address),
            _el("ram:SpecifiedTaxRegistration", _el("ram:ID", text=supplier.tax_number, schemeID="FC")),
            _el("ram:SpecifiedTaxRegistration", _el("ram:ID", text=supplier.vat_id, schemeID="VA")),
        ),
        _el(
            "ram:BuyerTradeParty",
            _el("ram:ID", text=spec.customer_number) if spec.prints_customer_number else None,
            _el("ram:Name", text=spec.recipient.name),
            _ferd_address(spec.recipient),
        ),
        _el("ram:BuyerOrderReferencedDocument", _el("ram:ID", text=spec.order_number))
        if spec.prints_order_number
        else None,
    )
    delivery = _el(
        "ram:ApplicableSupplyChainTradeDelivery",
        _el("ram:ActualDeliverySupplyChainEvent", _el("ram:OccurrenceDateTime", _ferd_date(spec.delivery_date)))
        if spec.delivery_date
        else None,
    )
    settlement = _el(
        "ram:ApplicableSupplyChainTradeSettlement",
        _el("ram:PaymentReference", text=spec.invoice_number),
        _el("ram:InvoiceCurrencyCode", text=currency),
        _el(
            "ram:SpecifiedTradeSettlementPaymentMeans",
            _el("ram:TypeCode", text=SEPA_CREDIT_TRANSFER),
            _el("ram:PayeePartyCreditorFinancialAccount", _el("ram:IBANID", text=supplier.iban)),
            _el(
                "ram:PayeeSpecifiedCreditorFinancialInstitution",
                _el("ram:BICID", text=supplier.bic),
                _el("ram:Name", text=supplier.bank_name),
            ),
        )
        if spec.prints_bank_details
        else None,
        *[
            _el(
                "ram:ApplicableTradeTax",
                money("ram:CalculatedAmount", group.vat_amount),
                _el("ram:TypeCode", text="VAT"),
                money("ram:BasisAmount", group.net_amount),
                _el("ram:CategoryCode", text=_category(group.rate)),
                _el("ram:ApplicablePercent", text=_number(group.rate)),
            )
            for group in spec.vat_groups
        ],
        _el(
            "ram:SpecifiedTradePaymentTerms",
            _el("ram:Description", text=_payment_terms(spec)),
            _el("ram:DueDateDateTime", _ferd_date(spec.due_date)) if spec.due_date else None,
        ),
        _el(
            "ram:SpecifiedTradeSettlementMonetarySummation",
            money("ram:LineTotalAmount", spec.net_amount),
            money("ram:ChargeTotalAmount", Decimal("0")),
            money("ram:AllowanceTotalAmount", Decimal("0")),
            money("ram:TaxBasisTotalAmount", spec.net_amount),
            money("ram:TaxTotalAmount", spec.vat_amount),
            money("ram:GrandTotalAmount", spec.total_amount),
            money("ram:DuePayableAmount", spec.total_amount),
        ),
    )
    lines = [
        _el(
            "ram:IncludedSupplyChainTradeLineItem",
            _el("ram:AssociatedDocumentLineDocument", _el("ram:LineID", text=str(item.position))),
            _el(
                "ram:SpecifiedSupplyChainTradeAgreement",
                _el("ram:NetPriceProductTradePrice", money("ram:ChargeAmount", item.unit_price)),
            ),
            _el(
                "ram:SpecifiedSupplyChainTradeDelivery",
                _el("ram:BilledQuantity", text=_number(item.quantity), unitCode=_unit_code(item)),
            ),
            _el(
                "ram:SpecifiedSupplyChainTradeSettlement",
                _el(
                    "ram:ApplicableTradeTax",
                    _el("ram:TypeCode", text="VAT"),
                    _el("ram:CategoryCode", text=_category(item.vat_rate)),
                    _el("ram:ApplicablePercent", text=_number(item.vat_rate)),
                ),
                _el(
                    "ram:SpecifiedTradeSettlementMonetarySummation",
                    money("ram:LineTotalAmount", item.net_amount),
                ),
            ),
            _el("ram:SpecifiedTradeProduct", _el("ram:Name", text=item.description)),
        )
        for item in spec.line_items
    ]
    root = _el(
        "rsm:CrossIndustryDocument",
        _el(
            "rsm:SpecifiedExchangedDocumentContext",
            _el("ram:GuidelineSpecifiedDocumentContextParameter", _el("ram:ID", text=PROFILE_ZUGFERD1_COMFORT)),
        ),
        document,
        _el("rsm:SpecifiedSupplyChainTradeTransaction", agreement, delivery, settlement, *lines),
        **{"xmlns:rsm": NS_FERD, "xmlns:ram": NS_RAM_12, "xmlns:udt": NS_UDT_15},
    )
    return _serialise(root)


def _ferd_date(value: date) -> _Node:
    return _el("udt:DateTimeString", text=value.strftime("%Y%m%d"), format="102")


def _ferd_address(address) -> _Node:
    return _el(
        "ram:PostalTradeAddress",
        _el("ram:PostcodeCode", text=address.postal_code),
        _el("ram:LineOne", text=address.street),
        _el("ram:CityName", text=address.city),
        _el("ram:CountryID", text="DE"),
    )


# --- UBL (XRechnung UBL) ----------------------------------------------------------------------


def ubl_xml(spec: InvoiceSpec, *, profile: str = PROFILE_XRECHNUNG) -> bytes:
    """UBL 2.1 ``Invoice`` (or ``CreditNote`` for a credit note) in XRechnung 3.0 shape."""
    _require_billing(spec)
    credit_note = spec.document_type == CREDIT_NOTE
    currency = spec.currency
    supplier = spec.supplier

    def money(tag: str, value: Decimal) -> _Node:
        return _el(tag, text=_amount(value), currencyID=currency)

    seller = _el(
        "cac:AccountingSupplierParty",
        _el(
            "cac:Party",
            _el("cbc:EndpointID", text=supplier.email, schemeID="EM"),
            _el("cac:PartyName", _el("cbc:Name", text=supplier.name)),
            _ubl_address(supplier.address),
            _el(
                "cac:PartyTaxScheme",
                _el("cbc:CompanyID", text=supplier.vat_id),
                _el("cac:TaxScheme", _el("cbc:ID", text="VAT")),
            ),
            _el(
                "cac:PartyTaxScheme",
                _el("cbc:CompanyID", text=supplier.tax_number),
                _el("cac:TaxScheme", _el("cbc:ID", text="FC")),
            ),
            _el(
                "cac:PartyLegalEntity",
                _el("cbc:RegistrationName", text=supplier.name),
                _el("cbc:CompanyLegalForm", text=supplier.register),
            ),
            _el(
                "cac:Contact",
                _el("cbc:Name", text=supplier.managing_director),
                _el("cbc:Telephone", text=supplier.phone),
                _el("cbc:ElectronicMail", text=supplier.email),
            ),
        ),
    )
    buyer = _el(
        "cac:AccountingCustomerParty",
        _el(
            "cac:Party",
            _el("cbc:EndpointID", text=_buyer_email(spec), schemeID="EM"),
            _el("cac:PartyIdentification", _el("cbc:ID", text=spec.customer_number))
            if spec.prints_customer_number
            else None,
            _ubl_address(spec.recipient),
            _el("cac:PartyLegalEntity", _el("cbc:RegistrationName", text=spec.recipient.name)),
        ),
    )
    tax_total = _el(
        "cac:TaxTotal",
        money("cbc:TaxAmount", spec.vat_amount),
        *[
            _el(
                "cac:TaxSubtotal",
                money("cbc:TaxableAmount", group.net_amount),
                money("cbc:TaxAmount", group.vat_amount),
                _el(
                    "cac:TaxCategory",
                    _el("cbc:ID", text=_category(group.rate)),
                    _el("cbc:Percent", text=_number(group.rate)),
                    _el("cac:TaxScheme", _el("cbc:ID", text="VAT")),
                ),
            )
            for group in spec.vat_groups
        ],
    )
    line_tag, quantity_tag = (
        ("cac:CreditNoteLine", "cbc:CreditedQuantity") if credit_note else ("cac:InvoiceLine", "cbc:InvoicedQuantity")
    )
    lines = [
        _el(
            line_tag,
            _el("cbc:ID", text=str(item.position)),
            _el(quantity_tag, text=_number(item.quantity), unitCode=_unit_code(item)),
            money("cbc:LineExtensionAmount", item.net_amount),
            _el(
                "cac:Item",
                _el("cbc:Name", text=item.description),
                _el(
                    "cac:ClassifiedTaxCategory",
                    _el("cbc:ID", text=_category(item.vat_rate)),
                    _el("cbc:Percent", text=_number(item.vat_rate)),
                    _el("cac:TaxScheme", _el("cbc:ID", text="VAT")),
                ),
            ),
            _el("cac:Price", money("cbc:PriceAmount", item.unit_price)),
        )
        for item in spec.line_items
    ]
    namespace = NS_UBL_CREDIT_NOTE if credit_note else NS_UBL_INVOICE
    root = _el(
        "CreditNote" if credit_note else "Invoice",
        _el("cbc:CustomizationID", text=profile),
        _el("cbc:ProfileID", text=PEPPOL_BILLING_PROCESS),
        _el("cbc:ID", text=spec.invoice_number),
        _el("cbc:IssueDate", text=spec.invoice_date.isoformat()),
        _el("cbc:DueDate", text=spec.due_date.isoformat()) if spec.due_date and not credit_note else None,
        _el("cbc:CreditNoteTypeCode" if credit_note else "cbc:InvoiceTypeCode", text=TYPE_CODES[spec.document_type]),
        _el("cbc:DocumentCurrencyCode", text=currency),
        _el("cbc:BuyerReference", text=leitweg_id(spec)),
        _el("cac:OrderReference", _el("cbc:ID", text=spec.order_number)) if spec.prints_order_number else None,
        _el(
            "cac:BillingReference",
            _el("cac:InvoiceDocumentReference", _el("cbc:ID", text=spec.reference_invoice_number)),
        )
        if spec.reference_invoice_number
        else None,
        seller,
        buyer,
        _el("cac:Delivery", _el("cbc:ActualDeliveryDate", text=spec.delivery_date.isoformat()))
        if spec.delivery_date
        else None,
        _el(
            "cac:PaymentMeans",
            _el("cbc:PaymentMeansCode", text=SEPA_CREDIT_TRANSFER),
            _el(
                "cac:PayeeFinancialAccount",
                _el("cbc:ID", text=supplier.iban),
                _el("cbc:Name", text=supplier.name),
                _el("cac:FinancialInstitutionBranch", _el("cbc:ID", text=supplier.bic)),
            ),
        )
        if spec.prints_bank_details
        else None,
        _el("cac:PaymentTerms", _el("cbc:Note", text=_payment_terms(spec))),
        tax_total,
        _el(
            "cac:LegalMonetaryTotal",
            money("cbc:LineExtensionAmount", spec.net_amount),
            money("cbc:TaxExclusiveAmount", spec.net_amount),
            money("cbc:TaxInclusiveAmount", spec.total_amount),
            money("cbc:PayableAmount", spec.total_amount),
        ),
        *lines,
        **{"xmlns": namespace, "xmlns:cac": NS_CAC, "xmlns:cbc": NS_CBC},
    )
    return _serialise(root)


def _ubl_address(address) -> _Node:
    return _el(
        "cac:PostalAddress",
        _el("cbc:StreetName", text=address.street),
        _el("cbc:CityName", text=address.city),
        _el("cbc:PostalZone", text=address.postal_code),
        _el("cac:Country", _el("cbc:IdentificationCode", text="DE")),
    )


# --- Hybrid PDFs ------------------------------------------------------------------------------

_XMP = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">
   <pdfaid:part>3</pdfaid:part>
   <pdfaid:conformance>B</pdfaid:conformance>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:{prefix}="{namespace}">
   <{prefix}:DocumentType>INVOICE</{prefix}:DocumentType>
   <{prefix}:DocumentFileName>{filename}</{prefix}:DocumentFileName>
   <{prefix}:Version>{version}</{prefix}:Version>
   <{prefix}:ConformanceLevel>{level}</{prefix}:ConformanceLevel>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


def pdf_with_attachment(
    pdf: bytes,
    xml: bytes,
    filename: str,
    *,
    in_name_tree: bool = True,
    associated: bool = True,
    xmp: dict[str, str] | None = None,
) -> bytes:
    """``pdf`` with ``xml`` attached as ``filename``.

    ``in_name_tree`` lists it in ``/Names/EmbeddedFiles``, ``associated`` in the catalog's ``/AF``
    (PDF/A-3 associated file, AFRelationship ``/Alternative``: the XML is the same invoice);
    ``xmp`` (prefix, namespace, version, level) adds the Factur-X/ZUGFeRD XMP description.
    """
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    embedded = writer.add_attachment(filename, xml)
    spec = embedded.pdf_object
    spec[NameObject("/UF")] = TextStringObject(filename)
    spec[NameObject("/AFRelationship")] = NameObject("/Alternative")
    spec[NameObject("/Desc")] = TextStringObject("Rechnungsdaten im XML-Format")
    stream = spec["/EF"]["/F"].get_object()
    stream[NameObject("/Subtype")] = NameObject("/text#2Fxml")
    spec["/EF"][NameObject("/UF")] = spec["/EF"]["/F"]
    if associated:
        writer.root_object[NameObject("/AF")] = ArrayObject([spec.indirect_reference])
    if not in_name_tree:
        del writer.root_object["/Names"]
    if xmp is not None:
        metadata = DecodedStreamObject()
        metadata.set_data(_XMP.format(filename=filename, **xmp).encode("utf-8"))
        metadata.update({NameObject("/Type"): NameObject("/Metadata"), NameObject("/Subtype"): NameObject("/XML")})
        writer.root_object[NameObject("/Metadata")] = writer._add_object(metadata)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def facturx_pdf(spec: InvoiceSpec, *, profile: str = PROFILE_FACTURX_EN16931, **options) -> bytes:
    """The printed invoice with its CII XML attached as ``factur-x.xml`` (Factur-X / ZUGFeRD 2.x)."""
    level = {PROFILE_XRECHNUNG: "XRECHNUNG", PROFILE_FACTURX_BASIC: "BASIC"}.get(profile, "EN 16931")
    xmp = {
        "prefix": "fx",
        "namespace": "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#",
        "version": "1.0",
        "level": level,
    }
    return pdf_with_attachment(render_pdf(spec), cii_xml(spec, profile=profile), "factur-x.xml", xmp=xmp, **options)


def zugferd1_pdf(spec: InvoiceSpec, **options) -> bytes:
    """The printed invoice with its ZUGFeRD 1.0 XML attached as ``ZUGFeRD-invoice.xml``."""
    xmp = {
        "prefix": "zf",
        "namespace": "urn:ferd:pdfa:CrossIndustryDocument:invoice:1p0#",
        "version": "1.0",
        "level": "COMFORT",
    }
    return pdf_with_attachment(render_pdf(spec), zugferd1_xml(spec), "ZUGFeRD-invoice.xml", xmp=xmp, **options)


# --- Hostile samples --------------------------------------------------------------------------

_CII_OPEN = (
    f'<rsm:CrossIndustryInvoice xmlns:rsm="{NS_RSM}" xmlns:ram="{NS_RAM}" xmlns:udt="{NS_UDT}">'
    "<rsm:ExchangedDocument><ram:ID>{id}</ram:ID><ram:TypeCode>380</ram:TypeCode></rsm:ExchangedDocument>"
    "</rsm:CrossIndustryInvoice>"
)


def billion_laughs_xml(levels: int = 9) -> bytes:
    """A CII invoice whose number is an entity that expands to 10^levels "lol" (memory exhaustion)."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">' for level in range(1, levels + 1)
    ]
    doctype = "<!DOCTYPE rsm:CrossIndustryInvoice [\n" + "\n".join(entities) + "\n]>"
    body = _CII_OPEN.replace("{id}", f"&lol{levels};")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}\n{body}\n'.encode()


def external_entity_xml(url: str = "file:///etc/passwd") -> bytes:
    """A CII invoice whose number is an external entity (XXE): reading it would leak ``url``'s content."""
    doctype = f'<!DOCTYPE rsm:CrossIndustryInvoice [\n<!ENTITY xxe SYSTEM "{url}">\n]>'
    body = _CII_OPEN.replace("{id}", "&xxe;")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}\n{body}\n'.encode()


def external_dtd_xml(url: str) -> bytes:
    """A CII invoice that points at an external DTD (a parser that loads it calls ``url``)."""
    doctype = f'<!DOCTYPE rsm:CrossIndustryInvoice SYSTEM "{url}">'
    body = _CII_OPEN.replace("{id}", "RE-1")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}\n{body}\n'.encode()


def parameter_entity_xml(url: str) -> bytes:
    """Out-of-band XXE through a parameter entity (``%remote;`` loads a DTD from ``url``)."""
    doctype = f'<!DOCTYPE rsm:CrossIndustryInvoice [\n<!ENTITY % remote SYSTEM "{url}">\n%remote;\n]>'
    body = _CII_OPEN.replace("{id}", "RE-1")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}\n{body}\n'.encode()
