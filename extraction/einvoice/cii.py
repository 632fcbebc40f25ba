"""Read a CII invoice (ZUGFeRD 2.x, Factur-X, XRechnung CII) or a ZUGFeRD 1.0 document.

ZUGFeRD 1.0 is the predecessor of CII D16B with the same business content under older
container names ("ApplicableSupplyChainTradeSettlement" instead of
"ApplicableHeaderTradeSettlement", ...), so one reader with two path tables serves both.
"""

from dataclasses import dataclass
from xml.etree.ElementTree import Element

from extraction.einvoice.raw import RawInvoice, RawLine, RawTax, raw_of, raw_text
from extraction.einvoice.syntax import CII, NAMESPACES, ZUGFERD1


@dataclass(frozen=True)
class _Paths:
    document: str
    transaction: str
    agreement: str
    delivery: str
    settlement: str
    summation: str
    order_id: str
    # BT-25 (preceding invoice, the one a credit note corrects); None where the syntax has no
    # element this reader knows for it.
    preceding_invoice_id: str | None
    tax_rate: str
    line_agreement: str
    line_delivery: str
    line_settlement: str
    line_summation: str


_PATHS = {
    CII: _Paths(
        document="rsm:ExchangedDocument",
        transaction="rsm:SupplyChainTradeTransaction",
        agreement="ram:ApplicableHeaderTradeAgreement",
        delivery="ram:ApplicableHeaderTradeDelivery",
        settlement="ram:ApplicableHeaderTradeSettlement",
        summation="ram:SpecifiedTradeSettlementHeaderMonetarySummation",
        order_id="ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID",
        preceding_invoice_id="ram:InvoiceReferencedDocument/ram:IssuerAssignedID",
        tax_rate="ram:RateApplicablePercent",
        line_agreement="ram:SpecifiedLineTradeAgreement",
        line_delivery="ram:SpecifiedLineTradeDelivery",
        line_settlement="ram:SpecifiedLineTradeSettlement",
        line_summation="ram:SpecifiedTradeSettlementLineMonetarySummation",
    ),
    ZUGFERD1: _Paths(
        document="rsm:HeaderExchangedDocument",
        transaction="rsm:SpecifiedSupplyChainTradeTransaction",
        agreement="ram:ApplicableSupplyChainTradeAgreement",
        delivery="ram:ApplicableSupplyChainTradeDelivery",
        settlement="ram:ApplicableSupplyChainTradeSettlement",
        summation="ram:SpecifiedTradeSettlementMonetarySummation",
        order_id="ram:BuyerOrderReferencedDocument/ram:ID",
        preceding_invoice_id=None,
        tax_rate="ram:ApplicablePercent",
        line_agreement="ram:SpecifiedSupplyChainTradeAgreement",
        line_delivery="ram:SpecifiedSupplyChainTradeDelivery",
        line_settlement="ram:SpecifiedSupplyChainTradeSettlement",
        line_summation="ram:SpecifiedTradeSettlementMonetarySummation",
    ),
}

_TOTALS = (
    ("line_total", "ram:LineTotalAmount", "BT-106"),
    ("charge_total", "ram:ChargeTotalAmount", "BT-108"),
    ("allowance_total", "ram:AllowanceTotalAmount", "BT-107"),
    ("tax_basis", "ram:TaxBasisTotalAmount", "BT-109"),
    ("rounding", "ram:RoundingAmount", "BT-114"),
    ("grand_total", "ram:GrandTotalAmount", "BT-112"),
    ("prepaid", "ram:TotalPrepaidAmount", "BT-113"),
    ("due_payable", "ram:DuePayableAmount", "BT-115"),
)


def read_cii(root: Element, syntax: str) -> RawInvoice:
    ns = NAMESPACES[syntax]
    paths = _PATHS[syntax]
    invoice = RawInvoice()
    document = root.find(paths.document, ns)
    transaction = root.find(paths.transaction, ns)
    agreement = transaction.find(paths.agreement, ns) if transaction is not None else None
    delivery = transaction.find(paths.delivery, ns) if transaction is not None else None
    settlement = transaction.find(paths.settlement, ns) if transaction is not None else None
    seller = agreement.find("ram:SellerTradeParty", ns) if agreement is not None else None

    invoice.type_code = raw_text(document, "ram:TypeCode", ns, "BT-3", within=paths.document)
    fields = {
        "invoice_number": raw_text(document, "ram:ID", ns, "BT-1", within=paths.document),
        "invoice_date": raw_text(document, "ram:IssueDateTime/udt:DateTimeString", ns, "BT-2", within=paths.document),
        "buyer_reference": raw_text(agreement, "ram:BuyerReference", ns, "BT-10", within=paths.agreement),
        "supplier_name": raw_text(seller, "ram:Name", ns, "BT-27", within="ram:SellerTradeParty"),
        "supplier_vat_id": raw_text(seller, "ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']", ns, "BT-31"),
        "supplier_tax_number": raw_text(seller, "ram:SpecifiedTaxRegistration/ram:ID[@schemeID='FC']", ns, "BT-32"),
        "customer_number": raw_text(agreement, "ram:BuyerTradeParty/ram:ID", ns, "BT-46"),
        "order_number": raw_text(agreement, paths.order_id, ns, "BT-13"),
        "delivery_date": raw_text(
            delivery, "ram:ActualDeliverySupplyChainEvent/ram:OccurrenceDateTime/udt:DateTimeString", ns, "BT-72"
        ),
        "currency": raw_text(settlement, "ram:InvoiceCurrencyCode", ns, "BT-5", within=paths.settlement),
        "due_date": raw_text(
            settlement, "ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString", ns, "BT-9"
        ),
        "reference_invoice_number": raw_text(settlement, paths.preceding_invoice_id, ns, "BT-25")
        if paths.preceding_invoice_id
        else None,
    }
    fields.update(_payment_account(settlement, ns))
    invoice.fields = {name: raw for name, raw in fields.items() if raw is not None}

    summation = settlement.find(paths.summation, ns) if settlement is not None else None
    totals = {name: raw_text(summation, path, ns, term, within=paths.summation) for name, path, term in _TOTALS}
    totals["tax_total"] = _tax_total(
        summation, paths.summation, ns, fields["currency"].text if fields["currency"] else ""
    )
    invoice.totals = {name: raw for name, raw in totals.items() if raw is not None}

    if settlement is not None:
        invoice.taxes = [
            RawTax(
                basis=raw_text(tax, "ram:BasisAmount", ns, "BT-116"),
                amount=raw_text(tax, "ram:CalculatedAmount", ns, "BT-117"),
                rate=raw_text(tax, paths.tax_rate, ns, "BT-119"),
                category=raw_text(tax, "ram:CategoryCode", ns, "BT-118"),
            )
            for tax in settlement.findall("ram:ApplicableTradeTax", ns)
        ]
    if transaction is not None:
        invoice.lines = [
            _line(item, paths, ns) for item in transaction.findall("ram:IncludedSupplyChainTradeLineItem", ns)
        ]
    return invoice


def _payment_account(settlement: Element | None, ns: dict[str, str]) -> dict:
    """IBAN and BIC of the first payment means that names an account (a credit transfer, BT-84/86).

    An invoice may list several means (card and transfer); the one with an account is the one
    the booking needs, and its BIC belongs to that account, not to another means.
    """
    if settlement is None:
        return {}
    for means in settlement.findall("ram:SpecifiedTradeSettlementPaymentMeans", ns):
        iban = raw_text(means, "ram:PayeePartyCreditorFinancialAccount/ram:IBANID", ns, "BT-84")
        if iban is not None:
            return {
                "iban": iban,
                "bic": raw_text(means, "ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID", ns, "BT-86"),
            }
    return {}


def _tax_total(summation: Element | None, summation_path: str, ns: dict[str, str], currency: str):
    # BT-110 is the tax in the invoice currency; a second TaxTotalAmount (BT-111) may give it
    # in the accounting currency, told apart only by @currencyID.
    if summation is None:
        return None
    candidates = summation.findall("ram:TaxTotalAmount", ns)
    for element in candidates:
        if not currency or element.get("currencyID", currency) == currency:
            return raw_of(element, f"{summation_path}/ram:TaxTotalAmount", "BT-110")
    return raw_of(candidates[0], f"{summation_path}/ram:TaxTotalAmount", "BT-110") if candidates else None


def _line(item: Element, paths: _Paths, ns: dict[str, str]) -> RawLine:
    price = f"{paths.line_agreement}/ram:NetPriceProductTradePrice"
    return RawLine(
        position=raw_text(item, "ram:AssociatedDocumentLineDocument/ram:LineID", ns, "BT-126"),
        description=raw_text(item, "ram:SpecifiedTradeProduct/ram:Name", ns, "BT-153"),
        quantity=raw_text(item, f"{paths.line_delivery}/ram:BilledQuantity", ns, "BT-129"),
        unit_price=raw_text(item, f"{price}/ram:ChargeAmount", ns, "BT-146"),
        price_basis_quantity=raw_text(item, f"{price}/ram:BasisQuantity", ns, "BT-149"),
        vat_rate=raw_text(item, f"{paths.line_settlement}/ram:ApplicableTradeTax/{paths.tax_rate}", ns, "BT-152"),
        line_total=raw_text(item, f"{paths.line_settlement}/{paths.line_summation}/ram:LineTotalAmount", ns, "BT-131"),
    )
