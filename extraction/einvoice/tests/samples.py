"""Every e-invoice flavour the generator makes, by name, for parametrised tests."""

from ablage.testing import einvoices

FLAVOURS = {
    "xrechnung_cii": einvoices.xrechnung_cii_xml,
    "facturx_en16931": einvoices.facturx_xml,
    "facturx_basic": lambda spec: einvoices.facturx_xml(spec, profile=einvoices.PROFILE_FACTURX_BASIC),
    "zugferd1": einvoices.zugferd1_xml,
    "xrechnung_ubl": einvoices.ubl_xml,
    "facturx_pdf": einvoices.facturx_pdf,
    "zugferd1_pdf": einvoices.zugferd1_pdf,
}

# Header fields the ground truth states and an e-invoice carries.
CORE_FIELDS = (
    "invoice_number", "invoice_date", "due_date", "supplier_name", "supplier_vat_id", "iban", "bic",
    "net_amount", "vat_amount", "total_amount", "currency", "order_number", "customer_number",
)  # fmt: skip


def expected_line_items(truth: dict) -> list[dict]:
    """The ground truth's line items in the shape extraction reports them."""
    return [
        {
            "position": str(item["position"]),
            "description": item["description"],
            "quantity": item["quantity"],
            "unit": item["unit"],
            "unit_price": item["unit_price"],
            "vat_rate": item["vat_rate"],
            "line_total": item["net_amount"],
        }
        for item in truth["line_items"]
    ]


def replace_once(xml: bytes, old: str, new: str) -> bytes:
    """``xml`` with the one occurrence of ``old`` replaced; fails loudly if the sample changed shape."""
    text = xml.decode("utf-8")
    assert text.count(old) == 1, f"{old!r} kommt {text.count(old)}-mal vor"
    return text.replace(old, new).encode("utf-8")
