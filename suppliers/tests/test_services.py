import pytest

from ablage.errors import ApplicationError
from documents import services as document_services
from documents.models import Document
from extraction.models import ExtractionRule
from monitoring.models import AuditLog
from suppliers import services
from suppliers.models import (
    Supplier,
    SupplierBankAccount,
    SupplierContact,
    SupplierLearningEvent,
    SupplierTemplate,
    SupplierTemplateVersion,
)
from suppliers.selectors import supplier_duplicates
from suppliers.tests.conftest import IBAN_A, IBAN_B, IBAN_C, VAT_A, VAT_B, make_document

pytestmark = pytest.mark.django_db


# --- master data ---------------------------------------------------------------------------------


@pytest.mark.embedded
def test_it_creates_a_supplier_with_normalised_identifiers_and_tags(editor):
    supplier = services.supplier_create(
        user=editor,
        data={
            "name": "Neu GmbH",
            "vat_id": "de 136 695 976",
            "supplier_number": "",
            "name_variations": "Neu\nNEU GmbH\n\nNeu",
            "typical_sender_emails": ["Rechnung <RE@neu.example>"],
        },
        tags=["Energie", "Energie", "IT"],
    )
    supplier.refresh_from_db()
    assert supplier.vat_id == VAT_A
    assert supplier.supplier_number is None
    assert supplier.name_variations == ["Neu", "NEU GmbH"]
    assert supplier.typical_sender_emails == ["re@neu.example"]
    assert sorted(supplier.tags.values_list("name", flat=True)) == ["Energie", "IT"]
    assert AuditLog.objects.filter(action="supplier.created", object_id=str(supplier.pk), actor=editor).exists()


@pytest.mark.embedded
def test_it_refuses_a_vat_id_with_a_wrong_check_digit_and_a_missing_name(editor):
    with pytest.raises(ApplicationError) as refusal:
        services.supplier_create(user=editor, data={"name": "X", "vat_id": "DE136695977"})
    assert refusal.value.code == "invalid_vat_id"
    with pytest.raises(ApplicationError) as refusal:
        services.supplier_create(user=editor, data={"name": ""})
    assert "name" in refusal.value.extra["fields"]
    assert not Supplier.objects.exists()


def test_it_audits_only_what_an_update_changed(editor, acme):
    services.supplier_update(supplier=acme, user=editor, data={"name": acme.name, "city": "Bonn"}, tags=["A"])
    entry = AuditLog.objects.get(action="supplier.updated")
    assert set(entry.changes) == {"city", "tags"}
    assert entry.changes["city"] == ["Köln", "Bonn"]


def test_it_moves_the_primary_flag_between_contacts(editor, acme):
    first = services.supplier_contact_save(supplier=acme, user=editor, data={"last_name": "Meier", "is_primary": True})
    second = services.supplier_contact_save(
        supplier=acme, user=editor, data={"last_name": "Schulz", "is_primary": True}
    )
    first.refresh_from_db()
    assert (first.is_primary, second.is_primary) == (False, True)
    with pytest.raises(ApplicationError):
        services.supplier_contact_save(supplier=acme, user=editor, data={"last_name": ""})


def test_it_keeps_several_bank_accounts_with_one_primary(editor, acme):
    first = services.supplier_bank_account_add(supplier=acme, user=editor, iban="de89 3704 0044 0532 0130 00")
    second = services.supplier_bank_account_add(supplier=acme, user=editor, iban=IBAN_C, bic="cobadeffxxx")
    assert first.is_primary and not second.is_primary and second.bic == "COBADEFFXXX"
    services.supplier_bank_account_make_primary(account=second, user=editor)
    assert list(acme.bank_accounts.filter(is_primary=True)) == [second]
    services.supplier_bank_account_delete(account=second, user=editor)
    first.refresh_from_db()
    assert first.is_primary


def test_it_refuses_a_broken_duplicate_or_foreign_iban(editor, acme, acme_copy):
    with pytest.raises(ApplicationError) as refusal:
        services.supplier_bank_account_add(supplier=acme, user=editor, iban="DE89370400440532013001")
    assert refusal.value.code == "invalid_iban"
    services.supplier_bank_account_add(supplier=acme, user=editor, iban=IBAN_A)
    with pytest.raises(ApplicationError) as refusal:
        services.supplier_bank_account_add(supplier=acme, user=editor, iban=IBAN_A)
    assert refusal.value.code == "iban_exists"
    with pytest.raises(ApplicationError) as refusal:
        services.supplier_bank_account_add(supplier=acme, user=editor, iban=IBAN_B)  # acme_copy's
    assert refusal.value.code == "iban_of_other_supplier"


# --- templates -----------------------------------------------------------------------------------


def test_it_versions_a_template_on_every_change_and_keeps_old_versions(editor, acme):
    template = services.supplier_template_create(
        supplier=acme,
        user=editor,
        data={
            "name": "Rechnung",
            "document_type": "invoice",
            "field_patterns": {"invoice_number": {"pattern": "Nr (\\d+)"}},
        },
    )
    assert template.version == 1
    services.supplier_template_update(template=template, user=editor, data={"confidence_threshold": 0.9})
    unchanged = services.supplier_template_update(template=template, user=editor, data={"confidence_threshold": 0.9})
    services.supplier_template_update(
        template=template, user=editor, data={"field_patterns": {}}, note="Muster entfernt"
    )
    assert unchanged.version == 2
    template.refresh_from_db()
    assert template.version == 3
    versions = list(SupplierTemplateVersion.objects.filter(template=template).order_by("version"))
    assert [v.version for v in versions] == [1, 2, 3]
    assert versions[0].field_patterns == {"invoice_number": {"pattern": "Nr (\\d+)"}}
    assert versions[0].confidence_threshold == 0.8 and versions[1].confidence_threshold == 0.9
    assert versions[2].note == "Muster entfernt"


def test_it_refuses_a_broken_pattern_and_a_second_active_template(editor, acme):
    with pytest.raises(ApplicationError):
        services.supplier_template_create(
            supplier=acme,
            user=editor,
            data={"name": "Kaputt", "document_type": "invoice", "field_patterns": {"total": {"pattern": "("}}},
        )
    services.supplier_template_create(supplier=acme, user=editor, data={"name": "A", "document_type": "invoice"})
    with pytest.raises(ApplicationError) as refusal:
        services.supplier_template_create(supplier=acme, user=editor, data={"name": "B", "document_type": "invoice"})
    assert refusal.value.code == "active_template_exists"
    assert not SupplierTemplateVersion.objects.filter(name__in=["Kaputt", "B"]).exists()


def _in_review(owner, supplier, **fields):
    return make_document(
        owner, supplier=supplier, status=Document.Status.REVIEW, document_type="invoice", fields=fields
    )


def test_it_counts_template_use_and_success_when_documents_are_approved(editor, owner, acme):
    template = services.supplier_template_create(
        supplier=acme, user=editor, data={"name": "Rechnung", "document_type": "invoice"}
    )
    clean = _in_review(owner, acme, invoice_number="R-1")
    document_services.document_approve(document=clean, user=editor)
    corrected = _in_review(owner, acme, invoice_number="R-2")
    document_services.document_update_fields(document=corrected, user=editor, values={"invoice_number": "R-3"})
    document_services.document_approve(document=corrected, user=editor)
    template.refresh_from_db()
    assert (template.usage_count, template.success_count, template.success_rate) == (2, 1, 0.5)
    assert template.last_used_at is not None


def test_it_learns_corrected_name_iban_and_sender_on_approval_with_a_record_of_why(editor, owner, acme):
    document = _in_review(owner, acme, supplier_name="Acme Bürobedarf GmbH", iban="")
    Document.objects.filter(pk=document.pk).update(
        source=Document.Source.EMAIL, source_reference="Acme <re@acme.example>"
    )
    document.refresh_from_db()
    document_services.document_update_fields(
        document=document, user=editor, values={"supplier_name": "ACME Office Supplies", "iban": IBAN_C}
    )
    document_services.document_approve(document=document, user=editor)
    acme.refresh_from_db()
    assert "ACME Office Supplies" in acme.name_variations
    assert acme.typical_sender_emails == ["re@acme.example"]
    assert acme.bank_accounts.filter(iban=IBAN_C).exists()
    events = {event.field: event for event in SupplierLearningEvent.objects.filter(supplier=acme)}
    assert set(events) == {"supplier_name", "iban", "sender_email"}
    assert all(event.document_id == document.pk and event.user == editor for event in events.values())
    assert document.title in events["iban"].reason


def test_it_approves_but_learns_nothing_that_belongs_to_another_supplier(editor, owner, acme, acme_copy):
    other = Supplier.objects.create(name="Zebra Druck KG")
    document = _in_review(owner, acme)
    document_services.document_update_fields(
        document=document, user=editor, values={"iban": IBAN_B, "supplier_name": "Zebra Druck KG"}
    )
    document_services.document_approve(document=document, user=editor)
    document.refresh_from_db()
    assert document.status == Document.Status.APPROVED
    assert not acme.bank_accounts.filter(iban=IBAN_B).exists()
    acme.refresh_from_db()
    assert acme.name_variations == [] and other.name_variations == []
    assert not SupplierLearningEvent.objects.exists()


# --- duplicates and merge ----------------------------------------------------------------------------


def test_it_finds_duplicates_by_vat_id_iban_and_similar_name(db):
    a = Supplier.objects.create(name="Müller Bürobedarf GmbH", vat_id=VAT_A)
    b = Supplier.objects.create(name="Mueller Buerobedarf", vat_id=VAT_A)
    c = Supplier.objects.create(name="Elektro Schröder KG", iban=IBAN_A)
    d = Supplier.objects.create(name="Schröder Elektrotechnik")
    SupplierBankAccount.objects.create(supplier=d, iban=IBAN_A)
    e = Supplier.objects.create(name="Krause IT-Service UG")
    f = Supplier.objects.create(name="Krause IT Service")
    Supplier.objects.create(name="Bäckerei Weißgerber e.K.", vat_id=VAT_B)
    pairs = {frozenset((pair.first.pk, pair.second.pk)): pair.reasons for pair in supplier_duplicates()}
    assert set(pairs) == {frozenset((a.pk, b.pk)), frozenset((c.pk, d.pk)), frozenset((e.pk, f.pk))}
    assert any("USt-IdNr." in reason for reason in pairs[frozenset((a.pk, b.pk))])
    assert any("Name" in reason for reason in pairs[frozenset((a.pk, b.pk))])
    assert any("IBAN" in reason for reason in pairs[frozenset((c.pk, d.pk))])
    only_e = supplier_duplicates(supplier=e)
    assert [{pair.first.pk, pair.second.pk} for pair in only_e] == [{e.pk, f.pk}]


def test_it_merges_a_duplicate_moving_everything_and_soft_deleting_it(editor, owner, acme, acme_copy):
    kept_doc = make_document(owner, supplier=acme)
    moved_doc = make_document(owner, supplier=acme_copy)
    SupplierContact.objects.create(supplier=acme, last_name="Meier", is_primary=True)
    SupplierContact.objects.create(supplier=acme_copy, last_name="Schulz", is_primary=True)
    SupplierBankAccount.objects.create(supplier=acme, iban=IBAN_A, is_primary=True)
    SupplierBankAccount.objects.create(supplier=acme_copy, iban=IBAN_A, is_primary=True)  # same account twice
    SupplierBankAccount.objects.create(supplier=acme_copy, iban=IBAN_C)
    SupplierTemplate.objects.create(supplier=acme, name="Rechnung", document_type="invoice")
    SupplierTemplate.objects.create(supplier=acme_copy, name="Rechnung", document_type="invoice")
    ExtractionRule.objects.create(supplier=acme, name="Kundennummer", field_name="customer_number", rule_type="regex")
    ExtractionRule.objects.create(
        supplier=acme_copy, name="Kundennummer", field_name="customer_number", rule_type="regex"
    )
    acme_copy.name_variations = ["ACME"]
    acme_copy.save()

    services.supplier_merge(source=acme_copy, target=acme, user=editor)

    acme.refresh_from_db()
    gone = Supplier.all_objects.get(pk=acme_copy.pk)
    assert gone.deleted_at is not None and not gone.is_active and gone.merged_into == acme
    assert not Supplier.objects.filter(pk=acme_copy.pk).exists()
    assert set(acme.documents.values_list("pk", flat=True)) == {kept_doc.pk, moved_doc.pk}
    assert acme.contacts.count() == 2 and acme.contacts.filter(is_primary=True).get().last_name == "Meier"
    assert sorted(acme.bank_accounts.values_list("iban", flat=True)) == sorted([IBAN_A, IBAN_B, IBAN_C])
    assert acme.bank_accounts.filter(is_primary=True).get().iban == IBAN_A
    templates = {t.name: t.is_active for t in acme.templates.all()}
    assert templates == {"Rechnung": True, "Rechnung (2)": False}
    assert sorted(ExtractionRule.objects.filter(supplier=acme).values_list("name", flat=True)) == [
        "Kundennummer",
        "Kundennummer (2)",
    ]
    assert {"ACME Buerobedarf", "ACME"} <= set(acme.name_variations)
    assert "info@acme.example" in acme.typical_sender_emails
    entry = AuditLog.objects.get(action="supplier.merged", object_id=str(acme.pk))
    assert entry.changes["moved"]["documents"] == 1 and entry.actor == editor


def test_it_refuses_to_merge_a_supplier_into_itself_and_changes_nothing(editor, acme):
    with pytest.raises(ApplicationError) as refusal:
        services.supplier_merge(source=acme, target=acme, user=editor)
    assert refusal.value.code == "merge_same"
    assert Supplier.objects.filter(pk=acme.pk, deleted_at__isnull=True).exists()


def test_it_rolls_back_a_merge_that_fails_half_way(editor, owner, acme, acme_copy, monkeypatch):
    document = make_document(owner, supplier=acme_copy)

    def explode(*args, **kwargs):
        raise RuntimeError("Festplatte voll")

    monkeypatch.setattr(services, "_free_name", explode)
    SupplierTemplate.objects.create(supplier=acme_copy, name="Rechnung", document_type="invoice")
    with pytest.raises(RuntimeError):
        services.supplier_merge(source=acme_copy, target=acme, user=editor)
    document.refresh_from_db()
    assert document.supplier_id == acme_copy.pk
    assert Supplier.objects.filter(pk=acme_copy.pk).exists()
