"""Matching quality on the generated corpus: the right supplier for >= 98 % of documents whose
supplier is in master data, by each rule on its own (USt-IdNr., IBAN, Steuernummer, name).

The corpus is whatever ``ablage.testing.invoices.SUPPLIERS`` holds; nothing here names a
supplier. Every eighth supplier is left out of master data (an unknown sender must not be
taken for a known one), and each known supplier gets a decoy: another company whose name
shares its first word, with its own identifiers.
"""

import re
import unicodedata

import pytest

from ablage.testing.german import german_iban, german_vat_id, group_iban
from ablage.testing.invoice_pdf import render_pdf
from ablage.testing.invoices import SUPPLIERS, random_invoice
from suppliers.matching import MatchRule, match_supplier
from suppliers.models import Supplier, SupplierBankAccount

pytestmark = pytest.mark.django_db

REQUIRED_ACCURACY = 0.98
PIPELINE_DOCUMENTS = 16


def _held_out(index: int) -> bool:
    return index % 8 == 3


@pytest.fixture
def master_data(db):
    """{generated supplier name: Supplier}; held-out suppliers are absent."""
    known = {}
    for index, identity in enumerate(SUPPLIERS):
        if _held_out(index):
            continue
        supplier = Supplier.objects.create(
            name=identity.name,
            vat_id=identity.vat_id,
            tax_number=identity.tax_number,
            email=identity.email,
            commercial_register=identity.register,
        )
        SupplierBankAccount.objects.create(supplier=supplier, iban=identity.iban, bic=identity.bic, is_primary=True)
        known[identity.name] = supplier
        first_word = re.split(r"[\s-]", identity.name)[0]
        decoy_digits = f"{70000000 + index * 7919:08d}"
        decoy = Supplier.objects.create(
            name=f"{first_word} Verwaltungs- und Beteiligungs AG",
            vat_id=german_vat_id(decoy_digits),
            tax_number=f"{index + 10}/999/{decoy_digits[:5]}",
        )
        SupplierBankAccount.objects.create(supplier=decoy, iban=german_iban("10010010", decoy_digits), is_primary=True)
    return known


def _score(outcomes: list[tuple[str, str | None, object]]) -> tuple[float, list[str]]:
    """outcomes: (case, expected supplier name or None, match). Share right among known suppliers."""
    relevant = [(case, expected, match) for case, expected, match in outcomes if expected is not None]
    misses = [
        f"{case}: erwartet {expected}, gefunden {match.supplier.name if match else None}"
        for case, expected, match in relevant
        if match is None or match.supplier.name != expected
    ]
    return 1 - len(misses) / len(relevant), misses


def test_it_finds_the_supplier_of_extracted_corpus_documents_by_each_rule(master_data):
    from ocr.pipeline import run_pipeline  # heavy; only this test needs it

    outcomes = {rule: [] for rule in ("all", "vat_id", "iban", "tax_number", "name")}
    strangers = []
    for seed in range(PIPELINE_DOCUMENTS):
        spec = random_invoice(1000 + seed)
        output = run_pipeline(render_pdf(spec))
        try:
            fields = {name: value.normalized for name, value in output.extraction.fields.items()}
            text = "\n".join(page.content.text for page in output.pages)
        finally:
            output.close()
        expected = spec.supplier.name if spec.supplier.name in master_data else None
        only = {
            "all": fields,
            "vat_id": {"supplier_vat_id": fields.get("supplier_vat_id", "")},
            "iban": {"iban": fields.get("iban", "")},
            "tax_number": {"supplier_tax_number": fields.get("supplier_tax_number", "")},
            "name": {"supplier_name": fields.get("supplier_name", "")},
        }
        for rule, subset in only.items():
            if rule in ("iban",) and not spec.prints_bank_details:
                continue
            match = match_supplier(fields=subset, text=text if rule in ("all", "name") else "")
            outcomes[rule].append((f"{rule}/{seed}/{spec.layout}", expected, match))
            if expected is None and match is not None and rule != "name":
                strangers.append(f"{rule}/{seed}: {spec.supplier.name} für {match.supplier.name} gehalten")
    for rule, cases in outcomes.items():
        assert any(expected for _case, expected, _match in cases), f"{rule}: kein bekannter Lieferant im Korpus"
        accuracy, misses = _score(cases)
        assert accuracy >= REQUIRED_ACCURACY, f"{rule}: {accuracy:.1%}\n" + "\n".join(misses)
    # Each rule really decided its own cases (not a name match hiding behind them).
    rules_used = {
        rule: {match.rule for _c, expected, match in cases if expected and match} for rule, cases in outcomes.items()
    }
    assert rules_used["vat_id"] == {MatchRule.VAT_ID}
    assert rules_used["iban"] == {MatchRule.IBAN}
    assert rules_used["tax_number"] == {MatchRule.TAX_NUMBER}
    assert rules_used["name"] <= {MatchRule.NAME_FUZZY, MatchRule.NAME_PHRASE}
    assert not strangers, "\n".join(strangers)


def _without_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _spelt_out(text: str) -> str:
    for umlaut, spelt in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("Ä", "Ae"), ("Ö", "Oe"), ("Ü", "Ue"), ("ß", "ss")):
        text = text.replace(umlaut, spelt)
    return text


def _ocr_slip(text: str) -> str:
    """One letter misread the way Tesseract does (l -> 1, o -> 0, e -> c) in the longest word."""
    longest = max(re.findall(r"\w+", text), key=len)
    for wrong, right in (("l", "1"), ("o", "0"), ("e", "c"), ("i", "l"), ("a", "o")):
        if wrong in longest[1:]:
            slipped = longest[0] + longest[1:].replace(wrong, right, 1)
            return text.replace(longest, slipped, 1)
    return text


def _without_legal_form(text: str) -> str:
    return re.sub(
        r"\s*(GmbH & Co\. KG|GmbH|UG \(haftungsbeschränkt\)|AG|OHG|KG|e\.K\.)\s*$", "", text, flags=re.IGNORECASE
    )


NAME_VARIANTS = {
    "ohne Umlautpunkte": _without_accents,
    "Umlaute ausgeschrieben": _spelt_out,
    "OCR-Verleser": _ocr_slip,
    "ohne Rechtsform": _without_legal_form,
    "Großbuchstaben": str.upper,
    "Leerzeichen": lambda name: re.sub(r"\s+", "  ", name) + " ",
}


def test_it_finds_the_supplier_by_a_misspelt_name_alone(master_data):
    outcomes = []
    for identity in SUPPLIERS:
        expected = identity.name if identity.name in master_data else None
        for label, vary in NAME_VARIANTS.items():
            printed = vary(identity.name)
            match = match_supplier(fields={"supplier_name": printed})
            outcomes.append((f"{label}: {printed}", expected, match))
            if match is not None:
                assert match.rule == MatchRule.NAME_FUZZY
    accuracy, misses = _score(outcomes)
    assert accuracy >= REQUIRED_ACCURACY, f"{accuracy:.1%}\n" + "\n".join(misses)
    # A decoy (same first word, another company) is never chosen.
    decoys = [m for _c, _e, m in outcomes if m is not None and "Beteiligungs" in m.supplier.name]
    assert not decoys


def test_it_matches_identifiers_printed_with_spaces_and_separators(master_data):
    outcomes = []
    for identity in SUPPLIERS:
        expected = identity.name if identity.name in master_data else None
        vat_id = f"{identity.vat_id[:2]} {identity.vat_id[2:5]} {identity.vat_id[5:8]} {identity.vat_id[8:]}"
        tax_number = identity.tax_number.replace("/", " ")
        for rule, fields in (
            ("vat_id", {"supplier_vat_id": vat_id}),
            ("iban", {"iban": group_iban(identity.iban)}),
            ("tax_number", {"supplier_tax_number": tax_number}),
        ):
            outcomes.append((f"{rule}: {identity.name}", expected, match_supplier(fields=fields)))
    accuracy, misses = _score(outcomes)
    assert accuracy == 1.0, "\n".join(misses)
    unknown = [m for _c, expected, m in outcomes if expected is None and m is not None]
    assert not unknown
