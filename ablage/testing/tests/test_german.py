from datetime import date
from decimal import Decimal

import pytest

from ablage.testing.german import (
    format_amount,
    format_date,
    format_quantity,
    german_iban,
    german_vat_id,
    group_iban,
    is_valid_iban,
    is_valid_vat_id,
    money,
)


def test_it_formats_amounts_with_german_separators():
    assert format_amount(Decimal("1234.5")) == "1.234,50"
    assert format_amount(Decimal("1234567.891")) == "1.234.567,89"
    assert format_amount(Decimal("-0.5")) == "-0,50"
    assert format_amount(Decimal("7")) == "7,00"


def test_it_rounds_half_up_like_a_merchant():
    assert money(Decimal("0.125")) == Decimal("0.13")
    assert money(Decimal("2.675")) == Decimal("2.68")


def test_it_prints_quantities_and_dates_the_german_way():
    assert format_quantity(Decimal("2.50")) == "2,5"
    assert format_quantity(Decimal("1200")) == "1.200"
    assert format_date(date(2026, 11, 3)) == "03.11.2026"


def test_it_builds_the_textbook_german_iban():
    # The example IBAN of the Deutsche Bundesbank / ECBS documentation.
    assert german_iban("37040044", "532013000") == "DE89370400440532013000"
    assert group_iban("DE89370400440532013000") == "DE89 3704 0044 0532 0130 00"


def test_it_rejects_an_iban_with_a_typo():
    assert is_valid_iban("DE89 3704 0044 0532 0130 00")
    assert not is_valid_iban("DE89 3704 0044 0532 0130 01")
    assert not is_valid_iban("DE89370400440532013")  # too short for Germany
    assert not is_valid_iban("")


def test_it_refuses_a_malformed_bank_code():
    with pytest.raises(ValueError, match="Bankleitzahl"):
        german_iban("3704004", "532013000")


def test_it_computes_the_ust_idnr_check_digit():
    assert is_valid_vat_id("DE136695976")  # published example of a valid USt-IdNr.
    assert not is_valid_vat_id("DE136695975")
    assert not is_valid_vat_id("DE13669597")
    assert is_valid_vat_id(german_vat_id("81234567"))
