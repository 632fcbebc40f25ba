"""Every validation rule: it holds on correct values, fails on a wrong one, and stays silent without inputs."""

from datetime import date
from decimal import Decimal

import pytest

from extraction.decision import decide
from extraction.engine import extract
from extraction.normalize import ACTIVE_CURRENCIES
from extraction.tests.pages import PageBuilder
from extraction.types import FieldValue
from extraction.validation import VatGroup, validate

TODAY = date(2026, 11, 20)
IBAN = "DE89370400440532013000"
BIC = "COBADEFFXXX"


def _fields(**values: str) -> dict[str, FieldValue]:
    return {name: FieldValue(name, value, value, 0.95) for name, value in values.items()}


def _checks(fields=None, document_type="invoice", **kwargs) -> dict:
    kwargs.setdefault("vat_rates", [])
    checks = validate(fields or {}, document_type, today=TODAY, **kwargs)
    rules = [check.rule for check in checks]
    assert len(rules) == len(set(rules)), f"a rule was reported twice: {rules}"
    return {check.rule: check for check in checks}


# --- IBAN ----------------------------------------------------------------------------------------


def test_it_accepts_an_iban_with_valid_checksum_and_country_length():
    checks = _checks(_fields(iban=IBAN))

    assert checks["iban_checksum"].ok is True
    assert checks["iban_country_format"].ok is True
    assert checks["iban_country_format"].fields == ("iban",)


def test_it_fails_an_iban_whose_checksum_does_not_hold():
    checks = _checks(_fields(iban="DE89370400440532013001"))

    assert checks["iban_checksum"].ok is False
    assert checks["iban_checksum"].message == "Die Prüfsumme der IBAN stimmt nicht."


def test_it_fails_a_german_iban_of_21_characters_even_when_its_checksum_holds():
    # Check digits computed for the short number: MOD 97 alone would accept it.
    checks = _checks(_fields(iban="DE5137040044053201300"))

    assert checks["iban_checksum"].ok is True
    assert checks["iban_country_format"].ok is False
    assert checks["iban_country_format"].message == "Eine IBAN aus DE hat 22 Zeichen, diese hat 21."


def test_it_fails_an_iban_with_digits_where_the_country_prescribes_letters():
    # A British BBAN starts with four letters (the bank code); the checksum of this one holds.
    checks = _checks(_fields(iban="GB58123460161331926819"))

    assert checks["iban_checksum"].ok is True
    assert checks["iban_country_format"].ok is False
    assert "passt nicht zu GB" in checks["iban_country_format"].message


def test_it_fails_an_iban_of_a_country_that_issues_none():
    checks = _checks(_fields(iban="XX46370400440532013000"))

    assert checks["iban_country_format"].ok is False
    assert checks["iban_country_format"].message == "„XX“ ist kein Land, das IBANs vergibt."


# --- BIC -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bic", ["COBADEFFXXX", "COBADEFF", "NOLADE21KIE"])
def test_it_accepts_a_bic_of_eight_or_eleven_characters(bic):
    assert _checks(_fields(bic=bic))["bic_format"].ok is True


@pytest.mark.parametrize("bic", ["COBADEF", "COBA1EFFXXX", "COBADEFFXX"])
def test_it_fails_a_bic_that_breaks_iso_9362(bic):
    check = _checks(_fields(bic=bic))["bic_format"]

    assert check.ok is False
    assert f"Die BIC „{bic}“ hat kein gültiges Format" in check.message


def test_it_accepts_a_bic_of_the_ibans_country():
    assert _checks(_fields(iban=IBAN, bic=BIC))["bic_matches_iban_country"].ok is True


def test_it_fails_a_bic_of_another_country_than_the_iban():
    check = _checks(_fields(iban=IBAN, bic="BNPAFRPPXXX"))["bic_matches_iban_country"]

    assert check.ok is False
    assert check.message == "Die BIC gehört zu FR, die IBAN zu DE; beide müssen zum selben Konto gehören."
    assert check.fields == ("bic", "iban")


KOELN_IBAN = "DE44370501981902345678"  # BLZ 37050198, Sparkasse KölnBonn, BIC COLSDE33XXX


@pytest.mark.parametrize("bic", ["COLSDE33XXX", "COLSDE33"])
def test_it_accepts_the_bic_the_blz_registry_gives_the_ibans_bank(bic):
    check = _checks(_fields(iban=KOELN_IBAN, bic=bic))["bic_matches_blz"]

    assert check.ok is True
    assert check.fields == ("bic", "iban")


def test_it_fails_a_bic_of_another_bank_than_the_ibans_blz():
    check = _checks(_fields(iban=KOELN_IBAN, bic="COKSDE33XXX"))["bic_matches_blz"]

    assert check.ok is False
    assert check.message == "Die BIC „COKSDE33XXX“ gehört nicht zur Bankleitzahl 37050198 der IBAN (dort: COLSDE33XXX)."


def test_it_does_not_judge_a_bic_whose_blz_the_registry_does_not_list():
    # BLZ 37040044 (Commerzbank Köln) is not in the small registry: no verdict, not a failure.
    assert "bic_matches_blz" not in _checks(_fields(iban=IBAN, bic=BIC))


def test_it_accepts_a_jersey_bic_with_a_british_iban():
    assert _checks(_fields(iban="GB29NWBK60161331926819", bic="HBUKJESHXXX"))["bic_matches_iban_country"].ok is True


def test_it_compares_countries_only_when_both_bic_and_iban_are_there():
    assert "bic_matches_iban_country" not in _checks(_fields(bic=BIC))
    assert "bic_matches_iban_country" not in _checks(_fields(iban=IBAN, bic="COBADEF"))


# --- USt-IdNr. and Steuernummer ------------------------------------------------------------------


@pytest.mark.parametrize("vat_id", ["DE136695976", "ATU13585627", "FR40303265045", "NL004495445B01"])
def test_it_accepts_vat_ids_whose_check_digit_holds(vat_id):
    checks = _checks(_fields(supplier_vat_id=vat_id))

    assert checks["vat_id_format"].ok is True
    assert checks["vat_id_checksum"].ok is True


@pytest.mark.parametrize("vat_id", ["DE136695978", "ATU13585626", "FR41303265045"])
def test_it_fails_vat_ids_whose_check_digit_is_wrong(vat_id):
    checks = _checks(_fields(supplier_vat_id=vat_id))

    assert checks["vat_id_format"].ok is True
    assert checks["vat_id_checksum"].ok is False
    assert f"Die Prüfziffer der USt-IdNr. {vat_id} stimmt nicht" in checks["vat_id_checksum"].message


@pytest.mark.parametrize("vat_id", ["DE12345678", "DE012345678", "QQ123456789"])
def test_it_fails_the_format_of_a_malformed_vat_id_and_does_not_check_its_digit(vat_id):
    # DE012345678 has nine digits, but German numbers never start with 0.
    checks = _checks(_fields(supplier_vat_id=vat_id))

    assert checks["vat_id_format"].ok is False
    assert "vat_id_checksum" not in checks


@pytest.mark.parametrize("number", ["181/815/08155", "99012/34567", "2893081508152"])
def test_it_accepts_a_steuernummer_in_a_laender_format(number):
    assert _checks(_fields(supplier_tax_number=number))["tax_number_plausible"].ok is True


def test_it_fails_a_steuernummer_in_no_laender_format():
    check = _checks(_fields(supplier_tax_number="12/34"))["tax_number_plausible"]

    assert check.ok is False
    assert check.message.startswith("Die Steuernummer „12/34“ passt zu keinem Format der Bundesländer")


# --- amounts -------------------------------------------------------------------------------------


def test_it_checks_net_plus_vat_against_the_total():
    assert _checks(_fields(net_amount="100.00", vat_amount="19.00", total_amount="119.00"))["amounts_sum"].ok
    check = _checks(_fields(net_amount="100.00", vat_amount="19.00", total_amount="118.00"))["amounts_sum"]
    assert check.ok is False
    assert check.message == "Netto 100,00 + USt 19,00 = 119,00, gedruckt ist aber ein Gesamtbetrag von 118,00."


MIXED = _fields(net_amount="300.00", vat_amount="45.00", total_amount="345.00")
BREAKDOWN = [
    VatGroup(Decimal("19"), Decimal("200.00"), Decimal("38.00"), Decimal("238.00")),
    VatGroup(Decimal("7"), Decimal("100.00"), Decimal("7.00"), Decimal("107.00")),
]


def test_it_accepts_a_vat_breakdown_that_adds_up_per_rate_and_in_total():
    check = _checks(MIXED, vat_breakdown=BREAKDOWN)["vat_breakdown_sum"]

    assert check.ok is True
    assert check.message == "Netto + USt ergibt je Steuersatz den Bruttobetrag."


def test_it_fails_a_rate_whose_net_and_vat_do_not_make_its_gross():
    groups = [BREAKDOWN[0], VatGroup(Decimal("7"), Decimal("100.00"), Decimal("7.00"), Decimal("108.00"))]

    check = _checks(MIXED, vat_breakdown=groups)["vat_breakdown_sum"]

    assert check.ok is False
    assert "7 %: Netto 100,00 € + USt 7,00 € ergibt 107,00 €, angegeben sind 108,00 €." in check.message


def test_it_fails_a_breakdown_whose_rates_do_not_make_the_net_amount():
    check = _checks(MIXED, vat_breakdown=BREAKDOWN[:1])["vat_breakdown_sum"]

    assert check.ok is False
    assert "Die Steuersätze ergeben zusammen 200,00 €, der Nettobetrag ist 300,00 €." in check.message


def test_it_runs_no_breakdown_check_without_a_breakdown():
    assert "vat_breakdown_sum" not in _checks(MIXED)


POSITIONS = [
    {"position": "1", "quantity": "25", "unit_price": "4.49", "line_total": "112.25"},
    {"position": "2", "quantity": "4", "unit_price": "389.00", "line_total": "1556.00"},
]
NET_1668 = _fields(net_amount="1668.25", vat_amount="316.97", total_amount="1985.22")


def test_it_accepts_positions_that_add_up_to_the_net_amount():
    check = _checks(NET_1668, line_items=POSITIONS)["line_items_sum"]

    assert check.ok is True
    assert check.message == "Die Positionssummen (1.668,25 €) ergeben den Nettobetrag."


def test_it_fails_positions_that_do_not_add_up_to_the_net_amount():
    fields = _fields(net_amount="1234.56", vat_amount="234.57", total_amount="1469.13")
    positions = [{"position": "1", "quantity": "", "unit_price": "", "line_total": "1230.00"}]

    check = _checks(fields, line_items=positions)["line_items_sum"]

    assert check.ok is False
    assert check.message == "Positionssummen (1.230,00 €) ergeben nicht den Nettobetrag (1.234,56 €)."


def test_it_accepts_gross_priced_positions_that_add_up_to_the_total():
    positions = [{"position": "1", "quantity": "", "unit_price": "", "line_total": "1985.22"}]

    check = _checks(NET_1668, line_items=positions)["line_items_sum"]

    assert check.ok is True
    assert "Bruttopreise" in check.message


def test_it_sums_positions_only_when_every_position_has_a_total():
    positions = [*POSITIONS, {"position": "3", "quantity": "1", "unit_price": "", "line_total": ""}]

    assert "line_items_sum" not in _checks(NET_1668, line_items=positions)
    assert "line_items_sum" not in _checks(_fields(total_amount="1985.22"), line_items=POSITIONS)


def test_it_accepts_quantity_times_unit_price_within_a_cent():
    positions = [*POSITIONS, {"position": "3", "quantity": "3", "unit_price": "0.3333", "line_total": "1.00"}]

    check = _checks(line_items=positions)["line_item_arithmetic"]

    assert check.ok is True


def test_it_fails_a_position_whose_quantity_times_price_is_not_its_total_and_names_it():
    positions = [POSITIONS[0] | {"line_total": "121.25"}, POSITIONS[1]]

    check = _checks(line_items=positions)["line_item_arithmetic"]

    assert check.ok is False
    assert check.message == "Position 1: 25 × 4,49 € = 112,25 €, angegeben sind 121,25 €."


def test_it_names_a_position_without_number_by_its_place_in_the_table():
    positions = [POSITIONS[0], {"position": "", "quantity": "2.5", "unit_price": "10.00", "line_total": "20.00"}]

    check = _checks(line_items=positions)["line_item_arithmetic"]

    assert check.message == "Position 2: 2,5 × 10,00 € = 25,00 €, angegeben sind 20,00 €."


def test_it_checks_no_arithmetic_for_positions_without_quantity_or_price():
    positions = [{"position": "1", "quantity": "", "unit_price": "", "line_total": "50.00"}]

    assert "line_item_arithmetic" not in _checks(line_items=positions)


def test_it_reads_the_currency_into_amount_messages():
    fields = _fields(net_amount="100.00", vat_amount="0.00", total_amount="100.00", currency="CHF")
    positions = [{"position": "1", "quantity": "", "unit_price": "", "line_total": "90.00"}]

    assert _checks(fields, line_items=positions)["line_items_sum"].message == (
        "Positionssummen (90,00 CHF) ergeben nicht den Nettobetrag (100,00 CHF)."
    )


# --- currency, credit notes, dates ---------------------------------------------------------------


@pytest.mark.parametrize("code", ["EUR", "CHF", "USD", "PLN", "XCG"])
def test_it_knows_active_iso_4217_currencies(code):
    assert _checks(_fields(currency=code))["currency_known"].ok is True


@pytest.mark.parametrize("code", ["DEM", "XTS", "XXX", "EURO", "ANG"])
def test_it_fails_withdrawn_test_or_made_up_currencies(code):
    check = _checks(_fields(currency=code))["currency_known"]

    assert check.ok is False
    assert check.message == f"„{code}“ ist keine gültige Währung nach ISO 4217."


def test_it_lists_each_currency_once_as_three_capital_letters():
    assert len(ACTIVE_CURRENCIES) == len(set(ACTIVE_CURRENCIES)) > 150
    assert all(len(code) == 3 and code.isupper() for code in ACTIVE_CURRENCIES)


def test_it_accepts_a_credit_note_with_positive_amounts():
    fields = _fields(net_amount="100.00", vat_amount="19.00", total_amount="119.00")

    assert _checks(fields, "credit_note")["credit_note_amounts_positive"].ok is True


def test_it_fails_a_credit_note_read_with_negative_amounts():
    fields = _fields(net_amount="-100.00", vat_amount="-19.00", total_amount="-119.00")

    check = _checks(fields, "credit_note")["credit_note_amounts_positive"]

    assert check.ok is False
    assert "negative Beträge (Nettobetrag, Umsatzsteuer, Gesamtbetrag)" in check.message
    assert check.fields == ("net_amount", "vat_amount", "total_amount")


def test_it_checks_signs_only_on_credit_notes():
    fields = _fields(total_amount="-119.00")

    assert "credit_note_amounts_positive" not in _checks(fields, "invoice")
    assert "credit_note_amounts_positive" not in _checks(_fields(supplier_name="X"), "credit_note")


def test_it_fails_a_due_date_before_the_invoice_date():
    assert _checks(_fields(invoice_date="2026-11-03", due_date="2026-11-17"))["due_after_invoice_date"].ok
    check = _checks(_fields(invoice_date="2026-11-03", due_date="2026-10-17"))["due_after_invoice_date"]
    assert check.ok is False


def test_it_fails_dates_before_2000_or_beyond_next_year():
    assert _checks(_fields(invoice_date="2026-11-03"))["dates_plausible"].ok
    check = _checks(_fields(invoice_date="1999-12-31", delivery_date="2026-11-01"))["dates_plausible"]
    assert check.ok is False
    assert check.fields == ("invoice_date",)


def test_it_runs_no_check_whose_inputs_are_missing():
    assert set(_checks(_fields(supplier_name="Müller Bürobedarf GmbH"), "letter")) == {"required_fields"}


# --- through the engine --------------------------------------------------------------------------


def _invoice_page(*, first_position_total: str) -> PageBuilder:
    page = PageBuilder()
    page.text(0.08, 0.04, "Müller Bürobedarf GmbH", size=1.8)
    page.lines(0.08, 0.075, ["Hansaring 42", "50670 Köln"])
    page.lines(0.60, 0.18, ["Rechnungsnummer:   RE-2026-00123", "Rechnungsdatum:    03.11.2026"])
    page.text(0.08, 0.32, "Rechnung", size=1.6)
    page.text(0.08, 0.37, "Pos  Bezeichnung                        Menge  Einheit   Einzelpreis   USt     Gesamt")
    page.text(
        0.08,
        0.39,
        f"1    Kopierpapier A4, 80 g/m², 500 Blatt   25    Stk.          4,49   19 %     {first_position_total}",
    )
    page.text(0.08, 0.41, "2    Bürodrehstuhl „Ergo Plus“ mit Armlehnen   4    Stk.      389,00   19 %  1.556,00")
    page.right(0.45, 0.45, "Nettobetrag").right(0.80, 0.45, "1.668,25 €")
    page.right(0.45, 0.47, "zzgl. 19 % USt").right(0.80, 0.47, "316,97 €")
    page.right(0.45, 0.49, "Gesamtbetrag").right(0.80, 0.49, "1.985,22 €")
    page.text(0.08, 0.935, "Sparkasse KölnBonn · IBAN DE44 3705 0198 1902 3456 78 · BIC COLSDE33XXX", size=0.7)
    return page


def test_it_checks_the_positions_the_engine_read():
    result = extract([_invoice_page(first_position_total="112,25").build()], today=TODAY)

    checks = {check.rule: check for check in result.validation}
    assert checks["line_items_sum"].ok is True
    assert checks["line_item_arithmetic"].ok is True
    assert checks["bic_matches_iban_country"].ok is True
    assert decide(result, threshold=0.5) == "auto_approve"


def test_it_sends_an_invoice_with_a_misprinted_position_to_review():
    result = extract([_invoice_page(first_position_total="121,25").build()], today=TODAY)

    checks = {check.rule: check for check in result.validation}
    assert checks["amounts_sum"].ok is True
    assert checks["line_item_arithmetic"].message == "Position 1: 25 × 4,49 € = 112,25 €, angegeben sind 121,25 €."
    assert checks["line_items_sum"].ok is False
    assert decide(result, threshold=0.5) == "review"
