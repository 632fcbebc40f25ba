import itertools
import uuid

import pytest
from django.utils import timezone

from ablage.errors import ApplicationError
from documents.models import Document, DocumentPage, ExtractedField
from monitoring.models import AuditLog
from suppliers.matching import MatchRule, match_supplier, name_key
from suppliers.models import Supplier, SupplierBankAccount
from suppliers.selectors import supplier_suggestion
from suppliers.services import supplier_create_from_document, supplier_learn_from_correction

pytestmark = pytest.mark.django_db

IBAN_A = "DE89370400440532013000"  # the standard example IBAN, valid check digits
IBAN_B = "DE02120300000000202051"
IBAN_NEW = "DE02500105170137075030"

LETTER = """Müller Bürobedarf GmbH · Hansaring 42 · 50670 Köln
Stadtverwaltung Musterstadt
z. Hd. Frau Schmidt
Rathausplatz 1
12345 Musterstadt
Rechnung Nr. 2024-0815
Pos. 1 Kopierpapier A4 500 Blatt 24,90 EUR
Müller Bürobedarf GmbH, Geschäftsführer H. Müller, Amtsgericht Köln HRB 12345"""


@pytest.fixture
def mueller(db):
    return Supplier.objects.create(
        name="Müller Bürobedarf GmbH",
        vat_id="DE123456789",
        tax_number="214/5678/1234",
        iban=IBAN_A,
        typical_sender_emails=["rechnung@mueller-buero.de"],
    )


@pytest.fixture
def schmidt(db):
    return Supplier.objects.create(name="Schmidt GmbH", vat_id="DE987654321")


def make_document(owner, **fields):
    document = Document.objects.create(
        owner=owner,
        title="Rechnung 2024-0815",
        original_filename="rechnung.pdf",
        mime_type="application/pdf",
        file_size=1,
        sha256="0" * 64,
        storage_key=f"originals/{uuid.uuid4()}.pdf",
    )
    for name, value in fields.items():
        ExtractedField.objects.create(document=document, name=name, value=value, normalized_value=value)
    return document


# Identifiers


def test_it_matches_by_vat_id(mueller, schmidt):
    match = match_supplier(fields={"supplier_vat_id": "DE123456789", "supplier_name": "Schmidt GmbH"})

    assert match.supplier == mueller
    assert match.rule == MatchRule.VAT_ID == "vat_id"
    assert match.confidence == 1.0
    assert match.conflicts == ()


def test_it_matches_by_iban_of_the_supplier_or_of_a_bank_account(mueller, schmidt):
    SupplierBankAccount.objects.create(supplier=schmidt, iban=IBAN_B)

    by_supplier_iban = match_supplier(fields={"iban": IBAN_A})
    by_bank_account = match_supplier(fields={"iban": IBAN_B})

    assert (by_supplier_iban.supplier, by_supplier_iban.rule, by_supplier_iban.confidence) == (mueller, "iban", 1.0)
    assert (by_bank_account.supplier, by_bank_account.rule) == (schmidt, "iban")


def test_it_matches_an_iban_typed_with_spaces_in_master_data(schmidt):
    Supplier.objects.filter(pk=schmidt.pk).update(iban="de02 1203 0000 0000 2020 51")

    assert match_supplier(fields={"iban": IBAN_B}).supplier == schmidt


def test_it_matches_the_tax_number_on_its_digits(mueller):
    match = match_supplier(fields={"supplier_tax_number": "214 5678 1234"})

    assert (match.supplier, match.rule, match.confidence) == (mueller, "tax_number", 1.0)
    assert match_supplier(fields={"supplier_tax_number": "214/5678/1235"}) is None


def test_it_matches_a_typical_sender_email(mueller):
    match = match_supplier(fields={}, sender_email="Müller Buchhaltung <Rechnung@Mueller-Buero.de>")

    assert (match.supplier, match.rule, match.confidence) == (mueller, "sender_email", 1.0)
    assert match_supplier(fields={}, sender_email="info@mueller-buero.de") is None


def test_it_prefers_the_vat_id_over_all_other_rules(mueller, schmidt):
    schmidt.typical_sender_emails = ["rechnung@schmidt.example"]
    schmidt.save()

    match = match_supplier(
        fields={"supplier_vat_id": "DE123456789", "iban": IBAN_A, "supplier_name": "Schmidt GmbH"},
        sender_email="rechnung@schmidt.example",
    )

    assert match.supplier == mueller and match.rule == "vat_id"
    # The sender address points at Schmidt: reported, less sure, not overridden.
    assert match.conflicts == ("sender_email",)
    assert match.confidence == 0.7


def test_it_reports_an_iban_of_another_supplier_as_a_conflict(mueller, schmidt):
    SupplierBankAccount.objects.create(supplier=schmidt, iban=IBAN_B)

    match = match_supplier(fields={"supplier_vat_id": "DE123456789", "iban": IBAN_B})

    assert match.supplier == mueller
    assert match.rule == "vat_id"
    assert match.conflicts == ("iban",)
    assert match.confidence == 0.5
    assert any("Widerspruch" in line and "Schmidt GmbH" in line for line in match.evidence)


def test_it_confirms_a_vat_id_match_with_the_iban(mueller):
    match = match_supplier(fields={"supplier_vat_id": "DE123456789", "iban": IBAN_A})

    assert match.confidence == 1.0
    assert any("bestätigt" in line for line in match.evidence)


def test_it_lowers_confidence_for_an_iban_that_no_supplier_has(mueller):
    match = match_supplier(fields={"supplier_vat_id": "DE123456789", "iban": IBAN_NEW})

    assert match.supplier == mueller
    assert match.confidence == 0.9
    assert match.conflicts == ()
    assert any(IBAN_NEW in line for line in match.evidence)


def test_it_ignores_inactive_and_deleted_suppliers(mueller, schmidt):
    Supplier.objects.filter(pk=mueller.pk).update(is_active=False)
    Supplier.objects.filter(pk=schmidt.pk).update(deleted_at=timezone.now())

    assert match_supplier(fields={"supplier_vat_id": "DE123456789"}) is None
    assert match_supplier(fields={"iban": IBAN_A}) is None
    assert match_supplier(fields={"supplier_vat_id": "DE987654321"}) is None
    assert match_supplier(fields={"supplier_name": "Müller Bürobedarf GmbH"}, text=LETTER) is None
    assert match_supplier(fields={"supplier_name": "Schmidt GmbH"}) is None


# Names


def test_it_normalises_legal_forms_and_umlauts():
    assert name_key("Müller Bürobedarf GmbH & Co. KG") == name_key(
        "Mueller Buerobedarf GmbH u. Co KG".replace(" u.", " &")
    )
    assert name_key("Haustechnik Weber e. K.").legal_forms == {"ek"}
    assert name_key("Start UG (haftungsbeschränkt)").core == "start"
    assert name_key("Verlagsgesellschaft mbH").legal_forms == {"gmbh"}


def test_it_matches_a_name_with_ocr_noise(mueller):
    match = match_supplier(fields={"supplier_name": "Muller Burobedarf GmbH"})

    assert match.supplier == mueller
    assert match.rule == "name_fuzzy"
    assert 0.85 <= match.confidence <= 0.95


def test_it_matches_a_name_with_misread_letters(mueller):
    match = match_supplier(fields={"supplier_name": "Mu11er Burobedarf GmbH"})

    assert match.supplier == mueller and match.rule == "name_fuzzy"
    assert match.confidence < match_supplier(fields={"supplier_name": "Müller Bürobedarf GmbH"}).confidence


def test_it_matches_a_name_variation(mueller):
    mueller.name_variations = ["MBB Köln"]
    mueller.save()

    assert match_supplier(fields={"supplier_name": "MBB Koln"}).supplier == mueller


def test_it_does_not_match_a_different_company_with_a_similar_name(schmidt):
    assert match_supplier(fields={"supplier_name": "Schmitt Bau GmbH"}) is None
    assert match_supplier(fields={"supplier_name": "Schmitt GmbH"}) is None


def test_it_does_not_match_the_same_name_with_another_legal_form(db):
    Supplier.objects.create(name="Autohaus Berger GmbH")

    assert match_supplier(fields={"supplier_name": "Autohaus Berger GmbH"}) is not None
    assert match_supplier(fields={"supplier_name": "Autohaus Berger AG"}) is None


def test_it_refuses_to_choose_between_equally_similar_names(db):
    Supplier.objects.create(name="Elektro Meier GmbH")
    Supplier.objects.create(name="Elektro Meyer GmbH")

    assert match_supplier(fields={"supplier_name": "Elektro Me1er GmbH"}) is None


def test_it_finds_the_supplier_name_in_the_text_when_the_extracted_name_is_wrong(mueller, schmidt):
    match = match_supplier(fields={"supplier_name": "Stadtverwaltung Musterstadt"}, text=LETTER)

    assert match.supplier == mueller
    assert match.rule == "name_phrase"
    assert match.confidence == 0.9
    assert match.evidence == ("„Müller Bürobedarf GmbH“ steht 2-mal im Text.",)


def test_it_finds_the_name_in_text_without_umlauts_and_across_line_breaks(mueller):
    text = "MULLER BUROBEDARF\nGmbH · Hansaring 42 · 50670 Köln\nRechnung"

    match = match_supplier(fields={}, text=text)

    assert match.supplier == mueller and match.rule == "name_phrase"


def test_it_does_not_take_a_bare_surname_in_the_text_for_a_supplier(schmidt):
    assert match_supplier(fields={}, text="z. Hd. Frau Schmidt\nRathausplatz 1") is None


def test_it_prefers_the_supplier_named_most_often_when_the_text_names_several(mueller, schmidt):
    match = match_supplier(fields={}, text=LETTER + "\nLieferung über Schmidt GmbH")

    assert match.supplier == mueller
    assert match.confidence == 0.75


def test_it_prefers_the_full_printed_name_over_a_sister_company_with_the_same_core(db):
    Supplier.objects.create(name="Becker Druck KG")
    gmbh = Supplier.objects.create(name="Becker Druck GmbH")

    match = match_supplier(fields={}, text="Becker Druck GmbH · Am Markt 1 · 36037 Fulda\nRechnung")

    assert match.supplier == gmbh


def test_it_sees_suppliers_added_after_the_index_was_built(mueller):
    assert match_supplier(fields={"supplier_name": "Stadtwerke Musterstadt GmbH"}) is None

    stadtwerke = Supplier.objects.create(name="Stadtwerke Musterstadt GmbH")

    assert match_supplier(fields={"supplier_name": "Stadtwerke Musterstadt GmbH"}).supplier == stadtwerke


def test_it_still_matches_among_two_thousand_suppliers(mueller):
    surnames = ["Schulz", "Becker", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Neumann", "Braun", "Zimmermann"]
    trades = ["Bau", "Elektro", "Sanitär", "Logistik", "Druck", "Software", "Catering", "Reinigung", "Metall", "Holz"]
    places = ["Aachen", "Bremen", "Celle", "Dresden", "Erfurt", "Fulda", "Gera", "Hagen", "Jena", "Kassel"]
    places += ["Lübeck", "Mainz", "Neuss", "Ulm", "Passau", "Rostock", "Siegen", "Trier", "Worms", "Zwickau"]
    Supplier.objects.bulk_create(
        Supplier(name=f"{surname} {trade} {place} GmbH", vat_id=f"DE{100000000 + n}")
        for n, (surname, trade, place) in enumerate(itertools.product(surnames, trades, places))
    )
    assert Supplier.objects.count() == 2001

    assert match_supplier(fields={"supplier_name": "Muller Burobedarf GmbH"}).supplier == mueller
    assert match_supplier(fields={}, text=LETTER).supplier == mueller
    found = match_supplier(fields={"supplier_name": "Becker Druck Fu1da GmbH"})
    assert found.supplier.name == "Becker Druck Fulda GmbH"
    assert match_supplier(fields={"supplier_vat_id": "DE100001999"}).supplier.name == "Zimmermann Holz Zwickau GmbH"


# Creating and learning


def test_it_creates_a_supplier_from_a_document(owner):
    document = make_document(
        owner,
        supplier_name="Grün & Partner Steuerberatung GmbH",
        supplier_vat_id="DE811907980",
        supplier_tax_number="143/234/56789",
        iban=IBAN_NEW,
        bic="INGDDEFFXXX",
    )

    supplier = supplier_create_from_document(document=document, user=owner)

    supplier.refresh_from_db()
    assert supplier.name == supplier.legal_name == "Grün & Partner Steuerberatung GmbH"
    assert (supplier.vat_id, supplier.tax_number, supplier.iban, supplier.bic) == (
        "DE811907980",
        "143/234/56789",
        IBAN_NEW,
        "INGDDEFFXXX",
    )
    account = supplier.bank_accounts.get()
    assert (account.iban, account.bic, account.is_primary) == (IBAN_NEW, "INGDDEFFXXX", True)
    document.refresh_from_db()
    assert document.supplier == supplier
    entry = AuditLog.objects.get(action="supplier.created_from_document")
    assert entry.actor == owner and entry.object_id == str(supplier.pk)
    assert entry.changes["document"] == str(document.pk)
    assert AuditLog.objects.filter(action="document.supplier_linked", object_id=str(document.pk)).exists()
    # The next document from this supplier is recognised.
    assert match_supplier(fields={"supplier_vat_id": "DE811907980"}).supplier == supplier


def test_it_refuses_to_create_a_supplier_whose_vat_id_exists(owner, mueller):
    document = make_document(owner, supplier_name="Müller Büro GmbH", supplier_vat_id="DE123456789")

    with pytest.raises(ApplicationError) as error:
        supplier_create_from_document(document=document, user=owner)

    assert error.value.code == "supplier_exists"
    assert "DE123456789" in error.value.message and "Müller Bürobedarf GmbH" in error.value.message
    assert Supplier.objects.count() == 1
    document.refresh_from_db()
    assert document.supplier is None


def test_it_refuses_to_create_a_supplier_without_a_name_or_with_a_broken_iban(owner):
    without_name = make_document(owner, supplier_vat_id="DE811907980")
    broken_iban = make_document(owner, supplier_name="Neu GmbH", iban="DE00370400440532013000")

    with pytest.raises(ApplicationError, match="Lieferantennamen"):
        supplier_create_from_document(document=without_name, user=owner)
    with pytest.raises(ApplicationError, match="IBAN"):
        supplier_create_from_document(document=broken_iban, user=owner)
    assert not Supplier.objects.exists()


def test_it_suggests_a_new_supplier_only_when_none_matches(owner, mueller):
    unknown = make_document(owner, supplier_name="Grün & Partner GmbH", iban=IBAN_NEW)
    known = make_document(owner, supplier_name="Muller Burobedarf GmbH")
    DocumentPage.objects.create(
        document=known, page_number=1, image_key="p1", width_px=1, height_px=1, dpi=300, text=LETTER, text_source="ocr"
    )

    assert supplier_suggestion(unknown) == {
        "name": "Grün & Partner GmbH",
        "legal_name": "Grün & Partner GmbH",
        "vat_id": "",
        "tax_number": "",
        "iban": IBAN_NEW,
        "bic": "",
    }
    assert supplier_suggestion(known) is None
    assert supplier_suggestion(make_document(owner)) is None


def test_it_learns_a_name_variation_from_a_correction(owner, mueller):
    document = make_document(owner, supplier_name="MBB Köln")
    assert match_supplier(fields={"supplier_name": "MBB Köln"}) is None

    learned = supplier_learn_from_correction(
        supplier=mueller, field="supplier_name", value="MBB Köln", user=owner, document=document
    )

    assert learned is True
    assert match_supplier(fields={"supplier_name": "MBB Koln"}).supplier == mueller
    entry = AuditLog.objects.get(action="supplier.learned_supplier_name")
    assert entry.actor == owner and entry.changes["document"] == str(document.pk)
    assert "Rechnung 2024-0815" in entry.message
    # Known already (umlauts and case do not make a new name): nothing learned, nothing logged.
    assert (
        supplier_learn_from_correction(supplier=mueller, field="supplier_name", value="mbb koln", user=owner) is False
    )
    assert AuditLog.objects.filter(action="supplier.learned_supplier_name").count() == 1


def test_it_learns_a_bank_account_and_a_sender_email(owner, mueller):
    assert supplier_learn_from_correction(
        supplier=mueller, field="iban", value="DE02 5001 0517 0137 0750 30", user=owner
    )
    assert supplier_learn_from_correction(
        supplier=mueller, field="sender_email", value="Buchhaltung@Mueller-Buero.de", user=owner
    )

    assert mueller.bank_accounts.get().iban == IBAN_NEW
    assert match_supplier(fields={"iban": IBAN_NEW}).supplier == mueller
    assert match_supplier(fields={}, sender_email="buchhaltung@mueller-buero.de").supplier == mueller
    assert AuditLog.objects.filter(action__in=["supplier.learned_iban", "supplier.learned_sender_email"]).count() == 2


def test_it_refuses_to_learn_the_iban_of_another_supplier(owner, mueller, schmidt):
    with pytest.raises(ApplicationError) as error:
        supplier_learn_from_correction(supplier=schmidt, field="iban", value=IBAN_A, user=owner)

    assert error.value.code == "iban_of_other_supplier"
    assert not schmidt.bank_accounts.exists()
    with pytest.raises(ApplicationError, match="E-Mail"):
        supplier_learn_from_correction(supplier=schmidt, field="sender_email", value="kein-postfach", user=owner)
    with pytest.raises(ApplicationError):
        supplier_learn_from_correction(supplier=schmidt, field="total_amount", value="12,00", user=owner)
