import re
from dataclasses import replace
from decimal import Decimal

import pytest

from ablage.testing import einvoices
from ablage.testing.invoices import CREDIT_NOTE, random_invoice
from extraction.decision import AUTO_APPROVE, REVIEW, decide
from extraction.einvoice import find_einvoice, parse_einvoice
from extraction.einvoice.tests.samples import CORE_FIELDS, FLAVOURS, expected_line_items, replace_once

SEEDS = range(12)  # one to 27 positions, one and two VAT rates, all seven suppliers


def _parse(data: bytes):
    source = find_einvoice(data)
    assert source is not None
    return parse_einvoice(source)


def _failed(result) -> dict[str, str]:
    return {check.rule: check.message for check in result.validation if not check.ok}


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("seed", SEEDS)
def test_it_reads_every_flavour_exactly_as_the_ground_truth(flavour, seed):
    spec = random_invoice(seed)
    truth = spec.ground_truth()

    result = _parse(FLAVOURS[flavour](spec))

    assert result.document_type == "invoice"
    for name in CORE_FIELDS:
        found = result.fields.get(name)
        assert (found.normalized if found else None) == truth[name], name
    assert result.line_items == expected_line_items(truth)
    assert _failed(result) == {}
    assert result.overall_confidence == 1.0


@pytest.mark.parametrize("flavour", ["xrechnung_cii", "facturx_en16931", "zugferd1", "xrechnung_ubl", "facturx_pdf"])
def test_it_reads_a_credit_note_as_credit_note(flavour):
    spec = random_invoice(4, document_type=CREDIT_NOTE)
    truth = spec.ground_truth()

    result = _parse(FLAVOURS[flavour](spec))

    assert result.document_type == "credit_note"
    assert result.fields["total_amount"].normalized == truth["total_amount"]
    assert Decimal(result.fields["total_amount"].normalized) > 0
    assert "due_date" not in result.fields
    assert len(result.line_items) == len(truth["line_items"])
    assert _failed(result) == {}


@pytest.mark.parametrize("flavour", ["xrechnung_cii", "facturx_en16931", "xrechnung_ubl", "facturx_pdf"])
def test_it_reads_the_preceding_invoice_a_credit_note_corrects(flavour):
    spec = random_invoice(4, document_type=CREDIT_NOTE)
    assert spec.reference_invoice_number

    result = _parse(FLAVOURS[flavour](spec))

    found = result.fields["reference_invoice_number"]
    assert found.normalized == spec.reference_invoice_number
    assert found.rule.startswith("einvoice:BT-25")


def test_it_reports_no_preceding_invoice_for_an_invoice_without_one():
    spec = random_invoice(4)
    assert not spec.reference_invoice_number

    assert "reference_invoice_number" not in _parse(einvoices.ubl_xml(spec)).fields


def test_it_reads_the_ubl_credit_note_root_as_credit_note():
    xml = einvoices.ubl_xml(random_invoice(5, document_type=CREDIT_NOTE))
    assert b"<CreditNote " in xml and b"<cac:CreditNoteLine>" in xml

    assert _parse(xml).document_type == "credit_note"


def test_it_books_a_self_billed_invoice_389_as_an_invoice():
    # 389 is a Gutschrift im Gutschriftsverfahren (§ 14 Abs. 2 UStG): the buyer bills itself,
    # and it books like an invoice, not like a credit note.
    xml = replace_once(einvoices.facturx_xml(random_invoice(6)), "<ram:TypeCode>380<", "<ram:TypeCode>389<")

    result = _parse(xml)

    assert result.document_type == "invoice"
    assert _failed(result) == {}


def test_it_says_which_element_each_value_came_from():
    result = _parse(einvoices.xrechnung_cii_xml(random_invoice(7)))

    assert result.fields["invoice_number"].rule == "einvoice:BT-1 ExchangedDocument/ID"
    assert result.fields["iban"].rule == "einvoice:BT-84 PayeePartyCreditorFinancialAccount/IBANID"
    for field in result.fields.values():
        assert field.confidence == 1.0
        assert field.page is None and field.bbox is None
        assert field.rule.startswith("einvoice:BT-")
        assert len(field.rule) <= 100  # ExtractedField.rule


@pytest.mark.parametrize("make", [einvoices.xrechnung_cii_xml, einvoices.ubl_xml])
def test_it_reports_the_leitweg_id_of_an_xrechnung_as_buyer_reference(make):
    spec = random_invoice(8)

    result = _parse(make(spec))

    assert result.fields["buyer_reference"].normalized == einvoices.leitweg_id(spec)


def test_it_reports_the_total_vat_of_several_rates_and_no_single_rate():
    spec = random_invoice(0)
    assert len(spec.vat_groups) == 2

    result = _parse(einvoices.facturx_xml(spec))

    assert result.fields["vat_amount"].normalized == str(spec.vat_amount)
    assert "vat_rate" not in result.fields
    assert "Die Steuerbeträge passen zu den Steuersätzen." in [check.message for check in result.validation]


def test_it_reports_the_rate_of_a_single_rate_invoice():
    result = _parse(einvoices.ubl_xml(random_invoice(3)))

    assert result.fields["vat_rate"].normalized == "19"


def test_it_auto_approves_a_consistent_einvoice_and_reviews_one_whose_totals_disagree():
    spec = random_invoice(9)
    xml = einvoices.xrechnung_cii_xml(spec)
    total = f"<ram:GrandTotalAmount>{spec.total_amount}</ram:GrandTotalAmount>"
    tampered = replace_once(xml, total, f"<ram:GrandTotalAmount>{spec.total_amount + 100}</ram:GrandTotalAmount>")

    good, bad = _parse(xml), _parse(tampered)

    assert decide(good, threshold=0.95) == AUTO_APPROVE
    assert decide(bad, threshold=0.95) == REVIEW
    failed = _failed(bad)
    assert {"amounts_sum", "einvoice_totals_grand_total", "einvoice_totals_due"} <= failed.keys()
    assert "angegeben ist ein Bruttobetrag von" in failed["einvoice_totals_grand_total"]
    assert bad.overall_confidence < 0.5


def test_it_flags_positions_that_do_not_add_up_to_the_stated_line_total():
    spec = random_invoice(4)
    first = spec.line_items[0]
    xml = einvoices.facturx_xml(spec)
    line_total = f"<ram:LineTotalAmount>{first.net_amount}</ram:LineTotalAmount>"
    tampered = xml.decode().replace(line_total, f"<ram:LineTotalAmount>{first.net_amount + 1}</ram:LineTotalAmount>", 1)

    result = _parse(tampered.encode())

    assert "einvoice_totals_lines" in _failed(result)
    assert f"Die {len(spec.line_items)} Positionen ergeben" in _failed(result)["einvoice_totals_lines"]
    assert result.overall_confidence < 1.0


def test_it_flags_a_vat_amount_that_does_not_match_its_rate():
    spec = random_invoice(3)
    group = spec.vat_groups[0]
    xml = einvoices.facturx_xml(spec)
    calculated = f"<ram:CalculatedAmount>{group.vat_amount}</ram:CalculatedAmount>"

    result = _parse(
        replace_once(xml, calculated, f"<ram:CalculatedAmount>{group.vat_amount + 5}</ram:CalculatedAmount>")
    )

    failed = _failed(result)
    assert "einvoice_totals_vat_rates" in failed and "einvoice_totals_vat_breakdown" in failed
    assert failed["einvoice_totals_vat_rates"].startswith("19 % von ")


def test_it_names_values_it_cannot_read_instead_of_dropping_them_silently():
    spec = random_invoice(5)
    xml = einvoices.ubl_xml(spec)
    xml = replace_once(xml, f"<cbc:IssueDate>{spec.invoice_date.isoformat()}<", "<cbc:IssueDate>2025-13-45<")
    xml = replace_once(xml, "<cbc:DocumentCurrencyCode>EUR<", "<cbc:DocumentCurrencyCode>Euro<")

    result = _parse(xml)

    assert "invoice_date" not in result.fields and "currency" not in result.fields
    message = _failed(result)["einvoice_values"]
    assert "„2025-13-45“ ist kein gültiges Datum" in message
    assert "„Euro“ ist kein ISO-4217-Code" in message
    assert "required_fields" in _failed(result)


def test_it_takes_the_vat_total_in_the_invoice_currency_when_another_currency_is_also_given():
    spec = random_invoice(6)
    xml = einvoices.facturx_xml(spec)
    own = f'<ram:TaxTotalAmount currencyID="EUR">{spec.vat_amount}</ram:TaxTotalAmount>'
    # BT-111 (tax in accounting currency) may come first in the document.
    xml = replace_once(xml, own, f'<ram:TaxTotalAmount currencyID="CHF">999.99</ram:TaxTotalAmount>{own}')

    result = _parse(xml)

    assert result.fields["vat_amount"].normalized == str(spec.vat_amount)
    assert _failed(result) == {}


def test_it_reports_a_price_given_per_basis_quantity_per_unit():
    spec = random_invoice(3)
    item = spec.line_items[0]
    spec = replace(spec, line_items=[item])
    xml = einvoices.facturx_xml(spec)
    price = f"<ram:ChargeAmount>{item.unit_price}</ram:ChargeAmount>"
    per_hundred = (
        f"<ram:ChargeAmount>{item.unit_price * 100}</ram:ChargeAmount><ram:BasisQuantity>100</ram:BasisQuantity>"
    )

    result = _parse(replace_once(xml, price, per_hundred))

    assert result.line_items[0]["unit_price"] == str(item.unit_price)


def test_it_reads_a_zugferd1_credit_note_type_381():
    result = _parse(einvoices.zugferd1_xml(random_invoice(10, document_type=CREDIT_NOTE)))

    assert result.document_type == "credit_note"


def test_it_reads_an_unknown_type_code_as_invoice_and_says_so():
    xml = replace_once(einvoices.facturx_xml(random_invoice(11)), "<ram:TypeCode>380<", "<ram:TypeCode>999<")

    result = _parse(xml)

    assert result.document_type == "invoice"
    assert "„999“ ist kein zulässiger Code" in _failed(result)["einvoice_values"]


def test_it_reads_a_profile_without_line_items_from_its_totals():
    # BASIC WL and MINIMUM carry no positions; the totals still have to add up on their own.
    spec = random_invoice(0)
    xml = einvoices.facturx_xml(spec, profile="urn:factur-x.eu:1p0:basicwl").decode()
    without_lines = re.sub(
        r"\s*<ram:IncludedSupplyChainTradeLineItem>.*?</ram:IncludedSupplyChainTradeLineItem>", "", xml, flags=re.S
    )

    result = _parse(without_lines.encode())

    assert result.line_items == []
    assert result.fields["total_amount"].normalized == str(spec.total_amount)
    rules = {check.rule for check in result.validation}
    assert "einvoice_totals_lines" not in rules
    assert {"einvoice_totals_tax_basis", "einvoice_totals_grand_total", "amounts_sum"} <= rules
    assert _failed(result) == {}
