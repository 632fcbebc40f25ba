import pytest

from extraction.normalize import iban_checksum_ok, normalize_field, parse_amount, parse_date, vat_id_format_ok


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("31.12.2026", "2026-12-31"),
        ("1.2.26", "2026-02-01"),
        ("1. Dezember 2026", "2026-12-01"),
        ("3. März 2025", "2025-03-03"),
        ("2026-12-31", "2026-12-31"),
        (" 07.01.2026 ", "2026-01-07"),
    ],
)
def test_it_normalises_german_and_iso_dates(raw, expected):
    assert normalize_field("invoice_date", raw) == expected


@pytest.mark.parametrize("raw", ["31.02.2026", "morgen", "12/2026", "2026-13-01"])
def test_it_rejects_what_is_not_a_date(raw):
    with pytest.raises(ValueError, match="Kein gültiges Datum"):
        normalize_field("due_date", raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1.234,56 €", "1234.56"),
        ("1234,56", "1234.56"),
        ("1 234,56 EUR", "1234.56"),
        ("-12,50", "-12.50"),
        ("12,50-", "-12.50"),
        ("EUR 99", "99.00"),
        ("1.234", "1234.00"),
        ("0,5", "0.50"),
    ],
)
def test_it_normalises_german_amounts(raw, expected):
    assert normalize_field("total_amount", raw) == expected


@pytest.mark.parametrize("raw", ["zwölf", "1,2,3", "12.34.56,7"])
def test_it_rejects_what_is_not_an_amount(raw):
    with pytest.raises(ValueError, match="Kein gültiger Betrag"):
        normalize_field("net_amount", raw)


def test_it_compacts_and_checks_an_iban():
    assert normalize_field("iban", "de44 3705 0198 1902 3456 78") == "DE44370501981902345678"


def test_it_rejects_an_iban_with_a_wrong_checksum():
    with pytest.raises(ValueError, match=r"Ungültige IBAN \(Prüfsumme\)"):
        normalize_field("iban", "DE45 3705 0198 1902 3456 78")


def test_it_rejects_a_german_iban_of_the_wrong_length():
    with pytest.raises(ValueError, match="Ungültige IBAN"):
        normalize_field("iban", "DE44 3705 0198 1902 3456 7")


def test_it_normalises_vat_ids_of_eu_states():
    assert normalize_field("supplier_vat_id", "de 812 345 673") == "DE812345673"
    assert normalize_field("supplier_vat_id", "ATU12345678") == "ATU12345678"


def test_it_rejects_a_german_vat_id_with_eight_digits():
    with pytest.raises(ValueError, match=r"Ungültige USt-IdNr\."):
        normalize_field("supplier_vat_id", "DE 1234 5678")


@pytest.mark.parametrize(("raw", "expected"), [("€", "EUR"), ("EUR", "EUR"), ("eur", "EUR"), ("CHF", "CHF")])
def test_it_normalises_currencies_to_iso_codes(raw, expected):
    assert normalize_field("currency", raw) == expected


def test_it_rejects_an_unknown_currency():
    with pytest.raises(ValueError, match="Unbekannte Währung"):
        normalize_field("currency", "Taler")


@pytest.mark.parametrize(("raw", "expected"), [("aud", "AUD"), (" ZAR ", "ZAR"), ("XCG", "XCG")])
def test_it_accepts_any_active_iso_code_a_clerk_types(raw, expected):
    assert normalize_field("currency", raw) == expected


@pytest.mark.parametrize("raw", ["DEM", "XTS", "XXX"])
def test_it_rejects_a_withdrawn_or_test_currency_code_a_clerk_types(raw):
    with pytest.raises(ValueError, match="Unbekannte Währung"):
        normalize_field("currency", raw)


def test_it_strips_other_text_fields():
    assert normalize_field("invoice_number", "  RE-2026-00123 ") == "RE-2026-00123"
    assert normalize_field("supplier_name", " Müller   Bürobedarf GmbH ") == "Müller Bürobedarf GmbH"


def test_it_rejects_an_empty_value():
    with pytest.raises(ValueError, match="Kein Wert angegeben"):
        normalize_field("invoice_number", "   ")


def test_it_normalises_vat_rates_and_bics():
    assert normalize_field("vat_rate", "19 %") == "19"
    assert normalize_field("vat_rate", "7,0%") == "7"
    assert normalize_field("bic", "colsde33xxx") == "COLSDE33XXX"
    with pytest.raises(ValueError, match="Ungültige BIC"):
        normalize_field("bic", "COLS")


def test_its_parsers_return_none_instead_of_guessing():
    assert parse_date("31.12.") is None
    assert parse_amount("19 %") is None
    assert iban_checksum_ok("DE44370501981902345679") is False
    assert vat_id_format_ok("XX123456789") is False
