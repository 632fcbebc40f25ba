"""Read a UBL 2.1 ``Invoice`` or ``CreditNote`` (XRechnung UBL, Peppol BIS Billing 3.0)."""

from dataclasses import replace
from xml.etree.ElementTree import Element

from extraction.einvoice.raw import ISO_DATE, Raw, RawInvoice, RawLine, RawTax, raw_of, raw_text
from extraction.einvoice.syntax import NAMESPACES, NS_UBL_CREDIT_NOTE, UBL

_NS = NAMESPACES[UBL]

_TOTALS = (
    ("line_total", "cbc:LineExtensionAmount", "BT-106"),
    ("allowance_total", "cbc:AllowanceTotalAmount", "BT-107"),
    ("charge_total", "cbc:ChargeTotalAmount", "BT-108"),
    ("tax_basis", "cbc:TaxExclusiveAmount", "BT-109"),
    ("grand_total", "cbc:TaxInclusiveAmount", "BT-112"),
    ("prepaid", "cbc:PrepaidAmount", "BT-113"),
    ("rounding", "cbc:PayableRoundingAmount", "BT-114"),
    ("due_payable", "cbc:PayableAmount", "BT-115"),
)


def read_ubl(root: Element) -> RawInvoice:
    credit_note = root.tag == f"{{{NS_UBL_CREDIT_NOTE}}}CreditNote"
    invoice = RawInvoice(is_credit_note_root=credit_note)
    top = "CreditNote" if credit_note else "Invoice"
    seller = root.find("cac:AccountingSupplierParty/cac:Party", _NS)

    invoice.type_code = raw_text(
        root, "cbc:CreditNoteTypeCode" if credit_note else "cbc:InvoiceTypeCode", _NS, "BT-3", within=top
    )
    # A UBL CreditNote has no cbc:DueDate; EN 16931 puts its due date on the payment means.
    due_path = "cac:PaymentMeans/cbc:PaymentDueDate" if credit_note else "cbc:DueDate"
    fields = {
        "invoice_number": raw_text(root, "cbc:ID", _NS, "BT-1", within=top),
        "invoice_date": raw_text(root, "cbc:IssueDate", _NS, "BT-2", within=top),
        "due_date": raw_text(root, due_path, _NS, "BT-9", within=top),
        "currency": raw_text(root, "cbc:DocumentCurrencyCode", _NS, "BT-5", within=top),
        "buyer_reference": raw_text(root, "cbc:BuyerReference", _NS, "BT-10", within=top),
        "order_number": raw_text(root, "cac:OrderReference/cbc:ID", _NS, "BT-13"),
        # BT-25: the invoice a credit note (or a corrected invoice) refers to; the first one
        # when several are listed, as extraction reports a single reference.
        "reference_invoice_number": raw_text(
            root, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", _NS, "BT-25"
        ),
        "supplier_name": raw_text(seller, "cac:PartyLegalEntity/cbc:RegistrationName", _NS, "BT-27", within="cac:Party")
        or raw_text(seller, "cac:PartyName/cbc:Name", _NS, "BT-28", within="cac:Party"),
        "customer_number": raw_text(
            root, "cac:AccountingCustomerParty/cac:Party/cac:PartyIdentification/cbc:ID", _NS, "BT-46"
        ),
        "delivery_date": raw_text(root, "cac:Delivery/cbc:ActualDeliveryDate", _NS, "BT-72"),
    }
    fields.update(_tax_registrations(seller))
    fields.update(_payment_account(root))
    for name in ("invoice_date", "due_date", "delivery_date"):
        if fields[name] is not None:
            fields[name] = replace(fields[name], date_format=ISO_DATE)
    invoice.fields = {name: raw for name, raw in fields.items() if raw is not None}

    currency = fields["currency"].text if fields["currency"] else ""
    monetary = root.find("cac:LegalMonetaryTotal", _NS)
    totals = {
        name: raw_text(monetary, path, _NS, term, within="cac:LegalMonetaryTotal") for name, path, term in _TOTALS
    }
    tax_total = _tax_total(root, currency)
    if tax_total is not None:
        totals["tax_total"] = raw_text(tax_total, "cbc:TaxAmount", _NS, "BT-110", within="cac:TaxTotal")
        invoice.taxes = [
            RawTax(
                basis=raw_text(subtotal, "cbc:TaxableAmount", _NS, "BT-116"),
                amount=raw_text(subtotal, "cbc:TaxAmount", _NS, "BT-117"),
                rate=raw_text(subtotal, "cac:TaxCategory/cbc:Percent", _NS, "BT-119"),
                category=raw_text(subtotal, "cac:TaxCategory/cbc:ID", _NS, "BT-118"),
            )
            for subtotal in tax_total.findall("cac:TaxSubtotal", _NS)
        ]
    invoice.totals = {name: raw for name, raw in totals.items() if raw is not None}

    line_tag, quantity_tag = (
        ("cac:CreditNoteLine", "cbc:CreditedQuantity") if credit_note else ("cac:InvoiceLine", "cbc:InvoicedQuantity")
    )
    invoice.lines = [_line(line, quantity_tag) for line in root.findall(line_tag, _NS)]
    return invoice


def _tax_registrations(seller: Element | None) -> dict[str, Raw | None]:
    """USt-IdNr. (scheme VAT, BT-31) and Steuernummer (any other scheme, "FC" in XRechnung, BT-32)."""
    found: dict[str, Raw | None] = {}
    if seller is None:
        return found
    for scheme in seller.findall("cac:PartyTaxScheme", _NS):
        scheme_id = (scheme.findtext("cac:TaxScheme/cbc:ID", "", _NS) or "").strip().upper()
        name, term = ("supplier_vat_id", "BT-31") if scheme_id == "VAT" else ("supplier_tax_number", "BT-32")
        if name not in found:
            found[name] = raw_text(scheme, "cbc:CompanyID", _NS, term, within="cac:PartyTaxScheme")
    return found


def _payment_account(root: Element) -> dict[str, Raw | None]:
    # The first payment means with an account, and the BIC of that same account (see cii.py).
    for means in root.findall("cac:PaymentMeans", _NS):
        account = means.find("cac:PayeeFinancialAccount", _NS)
        iban = raw_text(account, "cbc:ID", _NS, "BT-84", within="cac:PayeeFinancialAccount")
        if iban is not None:
            return {"iban": iban, "bic": raw_text(account, "cac:FinancialInstitutionBranch/cbc:ID", _NS, "BT-86")}
    return {}


def _tax_total(root: Element, currency: str) -> Element | None:
    # Two TaxTotal groups appear when the tax is also stated in the accounting currency
    # (BT-111); the one with subtotals, in the invoice currency, is BT-110.
    totals = root.findall("cac:TaxTotal", _NS)
    for total in totals:
        amount = total.find("cbc:TaxAmount", _NS)
        if amount is not None and (not currency or amount.get("currencyID", currency) == currency):
            return total
    return totals[0] if totals else None


def _line(line: Element, quantity_tag: str) -> RawLine:
    return RawLine(
        position=raw_text(line, "cbc:ID", _NS, "BT-126", within=line.tag.rpartition("}")[2]),
        description=raw_text(line, "cac:Item/cbc:Name", _NS, "BT-153"),
        quantity=raw_text(line, quantity_tag, _NS, "BT-129"),
        unit_price=raw_text(line, "cac:Price/cbc:PriceAmount", _NS, "BT-146"),
        price_basis_quantity=raw_text(line, "cac:Price/cbc:BaseQuantity", _NS, "BT-149"),
        vat_rate=raw_text(line, "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent", _NS, "BT-152"),
        line_total=raw_of(line.find("cbc:LineExtensionAmount", _NS), "cbc:LineExtensionAmount", "BT-131"),
    )
