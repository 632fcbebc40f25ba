import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from documents.models import Document
from monitoring.models import AuditLog
from suppliers.models import Supplier, SupplierBankAccount, SupplierContact, SupplierTemplate

VALID_IBAN = "DE89370400440532013000"  # the standard example IBAN, valid check digits
OTHER_IBAN = "DE02120300000000202051"


@pytest.fixture
def supplier(db):
    return Supplier.objects.create(name="Stadtwerke Musterstadt GmbH")


@pytest.fixture
def other_supplier(db):
    return Supplier.objects.create(name="Bürobedarf Schmidt KG")


def make_document(owner, supplier, n, **extra):
    return Document.objects.create(
        owner=owner,
        supplier=supplier,
        title=f"Rechnung {n}",
        original_filename=f"rechnung-{n}.pdf",
        mime_type="application/pdf",
        file_size=1024,
        sha256=f"{n:064d}",
        storage_key=f"originals/{n}.pdf",
        **extra,
    )


def contact(supplier, **extra):
    return SupplierContact.objects.create(supplier=supplier, **{"first_name": "Anna", "last_name": "Meier", **extra})


def bank_account(supplier, **extra):
    return SupplierBankAccount.objects.create(supplier=supplier, **{"iban": VALID_IBAN, **extra})


def template(supplier, **extra):
    return SupplierTemplate.objects.create(
        supplier=supplier, **{"name": "Rechnung 2025", "document_type": "invoice", **extra}
    )


# Each entry writes a row that breaks exactly the named constraint (earlier rows are valid).
BAD_ROWS = {
    "supplier_contact_last_name_required": lambda s: contact(s, last_name=""),
    "supplier_contact_one_primary": lambda s: (contact(s, is_primary=True), contact(s, is_primary=True)),
    "supplier_bank_account_iban_unique": lambda s: (bank_account(s), bank_account(s)),
    "supplier_bank_account_iban_format": lambda s: bank_account(s, iban="de89 3704 0044 0532 0130 00"),
    "supplier_bank_account_bic_format": lambda s: bank_account(s, bic="COBA"),
    "supplier_bank_account_one_primary": lambda s: (
        bank_account(s, is_primary=True),
        bank_account(s, iban=OTHER_IBAN, is_primary=True),
    ),
    "supplier_template_name_unique_per_supplier": lambda s: (
        template(s),
        template(s, document_type="credit_note"),
    ),
    "supplier_template_one_active_per_type": lambda s: (template(s), template(s, name="Rechnung 2026")),
    "supplier_template_confidence_threshold_range": lambda s: template(s, confidence_threshold=1.5),
    "supplier_template_success_rate_range": lambda s: template(s, success_rate=-0.1),
    "supplier_template_usage_count_non_negative": lambda s: template(s, usage_count=-1),
    "supplier_template_version_positive": lambda s: template(s, version=0),
    "supplier_template_success_count_range": lambda s: template(s, usage_count=1, success_count=2),
}


@pytest.mark.django_db
@pytest.mark.parametrize("constraint", BAD_ROWS)
def test_it_rejects_a_row_that_breaks_the_named_constraint(constraint, supplier):
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        BAD_ROWS[constraint](supplier)


def test_it_has_a_bad_row_test_for_every_named_constraint():
    models = (SupplierContact, SupplierBankAccount, SupplierTemplate)
    names = {constraint.name for model in models for constraint in model._meta.constraints}
    assert names == set(BAD_ROWS)


@pytest.mark.django_db
def test_it_allows_the_same_iban_at_two_suppliers(supplier, other_supplier):
    # Factoring companies collect for several suppliers into one account.
    bank_account(supplier)
    bank_account(other_supplier)
    assert SupplierBankAccount.objects.filter(iban=VALID_IBAN).count() == 2


@pytest.mark.django_db
def test_it_keeps_inactive_templates_beside_the_active_one(supplier):
    template(supplier, name="Rechnung 2024", is_active=False)
    template(supplier, name="Rechnung 2025")
    assert supplier.templates.filter(document_type="invoice").count() == 2


@pytest.mark.django_db
def test_it_normalises_an_iban_typed_with_spaces(supplier):
    account = SupplierBankAccount(supplier=supplier, iban="de89 3704 0044 0532 0130 00", bic="cobadeffxxx")
    account.full_clean()
    assert account.iban == VALID_IBAN
    assert account.bic == "COBADEFFXXX"
    assert str(account) == "DE89 3704 0044 0532 0130 00"


@pytest.mark.django_db
def test_it_refuses_an_iban_with_a_wrong_check_digit(supplier):
    account = SupplierBankAccount(supplier=supplier, iban="DE88370400440532013000")
    with pytest.raises(ValidationError) as excinfo:
        account.full_clean()
    assert "Prüfziffer" in str(excinfo.value.message_dict["iban"])


@pytest.mark.django_db
def test_it_refuses_a_template_whose_pattern_is_not_a_regex(supplier):
    broken = SupplierTemplate(
        supplier=supplier,
        name="Rechnung",
        document_type="invoice",
        field_patterns={"invoice_number": {"pattern": r"Rechnung\s*([A-Z0-9"}},
    )
    with pytest.raises(ValidationError) as excinfo:
        broken.full_clean()
    assert "invoice_number" in str(excinfo.value.message_dict["field_patterns"])


@pytest.mark.django_db
def test_it_accepts_a_template_with_valid_patterns(supplier):
    ok = SupplierTemplate(
        supplier=supplier,
        name="Rechnung",
        document_type="invoice",
        field_patterns={"invoice_number": {"pattern": r"Rechnung(?:snummer)?:?\s*([A-Z0-9-]+)"}},
    )
    ok.full_clean()


# --- admin ---------------------------------------------------------------------------------

ADMIN_MODELS = [Supplier, SupplierContact, SupplierBankAccount, SupplierTemplate]


@pytest.fixture
def populated(supplier):
    contact(supplier, is_primary=True)
    bank_account(supplier, is_primary=True)
    template(supplier)
    return supplier


@pytest.mark.django_db
@pytest.mark.parametrize("model", ADMIN_MODELS, ids=lambda m: m.__name__)
def test_it_renders_the_admin_changelist_with_rows(admin_client, populated, model):
    response = admin_client.get(reverse(f"admin:suppliers_{model._meta.model_name}_changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


@pytest.mark.django_db
@pytest.mark.parametrize("model", ADMIN_MODELS, ids=lambda m: m.__name__)
def test_it_renders_the_admin_add_page(admin_client, model):
    response = admin_client.get(reverse(f"admin:suppliers_{model._meta.model_name}_add"))
    assert response.status_code == 200


@pytest.mark.django_db
def test_it_shows_contacts_accounts_and_templates_on_the_supplier_page(admin_client, populated):
    response = admin_client.get(reverse("admin:suppliers_supplier_change", args=[populated.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Meier" in body
    assert VALID_IBAN in body
    assert "Rechnung 2025" in body


@pytest.mark.django_db
def test_it_counts_only_live_documents_per_supplier(admin_client, admin_user, supplier, other_supplier):
    make_document(admin_user, supplier, 1)
    make_document(admin_user, supplier, 2)
    make_document(admin_user, supplier, 3, deleted_at=timezone.now())
    response = admin_client.get(reverse("admin:suppliers_supplier_changelist"))
    counts = {row.name: row.document_count for row in response.context["cl"].result_list}
    assert counts == {supplier.name: 2, other_supplier.name: 0}


@pytest.mark.django_db
def test_it_stores_an_iban_added_in_admin_normalised(admin_client, supplier):
    response = admin_client.post(
        reverse("admin:suppliers_supplierbankaccount_add"),
        {"supplier": supplier.pk, "iban": "DE89 3704 0044 0532 0130 00", "bic": "", "bank_name": "Commerzbank"},
    )
    assert response.status_code == 302
    assert supplier.bank_accounts.get().iban == VALID_IBAN


@pytest.mark.django_db
def test_it_soft_deletes_suppliers_from_admin_and_keeps_their_documents(admin_client, admin_user, supplier):
    document = make_document(admin_user, supplier, 1)
    response = admin_client.post(
        reverse("admin:suppliers_supplier_changelist"),
        {"action": "soft_delete_selected", "_selected_action": [supplier.pk]},
    )
    assert response.status_code == 302
    assert not Supplier.objects.filter(pk=supplier.pk).exists()
    assert Supplier.all_objects.get(pk=supplier.pk).deleted_at is not None
    document.refresh_from_db()
    assert document.supplier_id == supplier.pk
    assert AuditLog.objects.filter(action="supplier.soft_deleted", object_id=str(supplier.pk)).exists()


@pytest.mark.django_db
def test_it_offers_no_hard_delete_of_suppliers(admin_client, supplier):
    response = admin_client.get(reverse("admin:suppliers_supplier_delete", args=[supplier.pk]))
    assert response.status_code == 403


@pytest.mark.django_db
def test_it_versions_a_template_added_and_edited_in_admin(admin_client, supplier):
    fields = {
        "supplier": supplier.pk,
        "name": "Rechnung",
        "document_type": "invoice",
        "field_patterns": "{}",
        "typical_layout": "{}",
        "validation_rules": "{}",
        "confidence_threshold": "0.8",
        "is_active": "on",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
    }
    assert admin_client.post(reverse("admin:suppliers_suppliertemplate_add"), fields).status_code == 302
    created = SupplierTemplate.objects.get()
    fields["confidence_threshold"] = "0.9"
    response = admin_client.post(reverse("admin:suppliers_suppliertemplate_change", args=[created.pk]), fields)
    assert response.status_code == 302
    created.refresh_from_db()
    assert created.version == 2
    assert list(created.versions.values_list("version", "confidence_threshold")) == [(2, 0.9), (1, 0.8)]
