from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from documents.models import Document
from suppliers.models import Supplier, SupplierBankAccount, SupplierTemplate
from suppliers.tests.conftest import IBAN_C, VAT_A, make_document
from suppliers.tests.test_csv import csv_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


@pytest.mark.embedded
def test_it_lists_and_searches_suppliers_with_an_htmx_partial(owner_client, acme, acme_copy):
    Supplier.objects.create(name="Zebra Druck KG", city="Berlin", is_active=False)
    page = owner_client.get(reverse("suppliers:list"))
    assert page.status_code == 200
    assert "Acme Bürobedarf GmbH" in page.text and "Zebra Druck KG" in page.text
    partial = owner_client.get(reverse("suppliers:list"), {"q": "berlin", "partial": "table"}, HTTP_HX_REQUEST="true")
    assert "<html" not in partial.text and "Zebra Druck KG" in partial.text and "Acme" not in partial.text
    inactive = owner_client.get(reverse("suppliers:list"), {"active": "1"})
    assert "Zebra Druck KG" not in inactive.text
    by_vat = owner_client.get(reverse("suppliers:list"), {"q": "de 136695976"})
    assert "Acme Bürobedarf GmbH" in by_vat.text and "ACME Buerobedarf" in by_vat.text


def test_it_escapes_supplier_text(owner_client, db):
    Supplier.objects.create(name="<script>alert(1)</script> GmbH", notes="<b>fett</b>")
    page = owner_client.get(reverse("suppliers:list"))
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text


def test_it_shows_only_the_users_own_documents_with_totals_and_quality(owner_client, owner, outsider, acme):
    make_document(
        owner,
        supplier=acme,
        title="Meine Rechnung",
        document_type="invoice",
        total_amount=Decimal("100.00"),
        document_date=date.today(),
        overall_confidence=0.9,
        decision="auto_approve",
        status=Document.Status.APPROVED,
    )
    make_document(
        owner,
        supplier=acme,
        title="Meine Gutschrift",
        document_type="credit_note",
        total_amount=Decimal("30.00"),
        document_date=date.today(),
        overall_confidence=0.7,
        decision="review",
    )
    make_document(
        outsider, supplier=acme, title="Fremde Rechnung", total_amount=Decimal("999.00"), document_date=date.today()
    )
    page = owner_client.get(reverse("suppliers:detail", args=[acme.id]))
    assert page.status_code == 200
    assert "Meine Rechnung" in page.text and "Fremde Rechnung" not in page.text
    context = page.context
    statistics = context["statistics"]
    assert statistics.document_count == 2
    assert statistics.months[-1]["total"] == Decimal("70.00")  # the credit note is subtracted
    assert statistics.years[0]["total"] == Decimal("70.00") and statistics.years[0]["count"] == 2
    assert round(statistics.average_confidence, 2) == 0.8
    assert statistics.review_rate == 0.5
    assert "<svg" in page.text and 'class="bar"' in page.text
    assert "50 %" in page.text  # Prüfquote


def test_it_lets_readers_look_but_not_edit(owner_client, acme):
    assert owner_client.get(reverse("suppliers:detail", args=[acme.id])).status_code == 200
    assert owner_client.get(reverse("suppliers:edit", args=[acme.id])).status_code == 403
    response = owner_client.post(reverse("suppliers:bank-account-add", args=[acme.id]), {"iban": IBAN_C})
    assert response.status_code == 403
    assert owner_client.get(reverse("suppliers:import")).status_code == 403
    assert not SupplierBankAccount.objects.exists()


def test_it_sends_anonymous_users_to_the_login(client, acme):
    response = client.get(reverse("suppliers:detail", args=[acme.id]))
    assert response.status_code == 302 and "/konto/" in response["Location"]


def test_it_edits_a_supplier_and_shows_service_refusals_on_the_field(editor_client, acme):
    url = reverse("suppliers:edit", args=[acme.id])
    form = editor_client.get(url).context["form"]
    data = {key: value for key, value in form.initial.items() if value is not None}
    data.update({"name": "Acme GmbH", "vat_id": "DE136695977", "country": "DE", "is_active": "on"})
    refused = editor_client.post(url, data)
    assert refused.status_code == 400 and "Ungültige USt-IdNr." in refused.text
    data["vat_id"] = "de 136 695 976"
    data["typical_sender_emails"] = "re@acme.example\nkeine-adresse"
    refused = editor_client.post(url, data)
    assert refused.status_code == 400 and "keine-adresse" in refused.text
    data["typical_sender_emails"] = "re@acme.example"
    saved = editor_client.post(url, data)
    assert saved.status_code == 302
    acme.refresh_from_db()
    assert (acme.name, acme.vat_id, acme.typical_sender_emails) == ("Acme GmbH", VAT_A, ["re@acme.example"])


def test_it_adds_contacts_and_bank_accounts_on_the_detail_page(editor_client, acme):
    detail = reverse("suppliers:detail", args=[acme.id])
    response = editor_client.post(
        reverse("suppliers:contact-add", args=[acme.id]),
        {"last_name": "Meier", "first_name": "Anna", "is_primary": "on", "is_active": "on"},
    )
    assert response.status_code == 302
    bad = editor_client.post(reverse("suppliers:bank-account-add", args=[acme.id]), {"iban": "DE00123"})
    assert bad.status_code == 400 and "Ungültige IBAN" in bad.text
    good = editor_client.post(reverse("suppliers:bank-account-add", args=[acme.id]), {"iban": IBAN_C})
    assert good.status_code == 302
    page = editor_client.get(detail)
    assert "Anna Meier" in page.text and "Hauptansprechpartner" in page.text and "DE02 5001" in page.text


def test_it_creates_and_versions_a_template_from_the_screen(editor_client, acme):
    response = editor_client.post(
        reverse("suppliers:template-create", args=[acme.id]),
        {
            "name": "Rechnung",
            "document_type": "invoice",
            "field_patterns": '{"invoice_number": {"pattern": "Nr\\\\. (\\\\S+)"}}',
            "typical_layout": "{}",
            "validation_rules": "{}",
            "confidence_threshold": "0.8",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    template = SupplierTemplate.objects.get()
    url = reverse("suppliers:template", args=[acme.id, template.id])
    broken = editor_client.post(
        url,
        {
            "name": "Rechnung",
            "document_type": "invoice",
            "field_patterns": '{"x": {"pattern": "("}}',
            "confidence_threshold": "0.8",
            "is_active": "on",
        },
    )
    assert broken.status_code == 400 and "kein gültiger regulärer Ausdruck" in broken.text
    editor_client.post(
        url,
        {
            "name": "Rechnung",
            "document_type": "invoice",
            "field_patterns": "{}",
            "confidence_threshold": "0.9",
            "is_active": "on",
            "note": "Schwelle erhöht",
        },
    )
    page = editor_client.get(url)
    assert "Version 2" in page.text and "Schwelle erhöht" in page.text


def test_it_merges_from_the_detail_page_and_redirects_old_links(editor_client, owner, acme, acme_copy):
    document = make_document(owner, supplier=acme_copy)
    detail = editor_client.get(reverse("suppliers:detail", args=[acme.id]))
    assert "ACME Buerobedarf" in detail.text and "gleiche USt-IdNr." in detail.text
    unconfirmed = editor_client.post(reverse("suppliers:merge", args=[acme.id]), {"duplicate": acme_copy.id})
    assert unconfirmed.status_code == 400
    merged = editor_client.post(
        reverse("suppliers:merge", args=[acme.id]), {"duplicate": acme_copy.id, "confirm": "on"}
    )
    assert merged.status_code == 302
    document.refresh_from_db()
    assert document.supplier_id == acme.id
    old = editor_client.get(reverse("suppliers:detail", args=[acme_copy.id]))
    assert old.status_code == 302 and str(acme.id) in old["Location"]


def test_it_imports_from_the_screen_with_a_report_per_row(editor_client):
    upload = SimpleUploadedFile(
        "lieferanten.csv", csv_bytes([{"Name": "Gut GmbH"}, {"Name": "", "Ort": "Bonn"}]), content_type="text/csv"
    )
    response = editor_client.post(reverse("suppliers:import"), {"file": upload})
    assert response.status_code == 200
    assert "1 neu, 0 aktualisiert, 1 abgelehnt" in response.text and "Name fehlt." in response.text
    assert Supplier.objects.filter(name="Gut GmbH").exists()
    empty = editor_client.post(
        reverse("suppliers:import"), {"file": SimpleUploadedFile("x.csv", b"Name,Ort\r\n", content_type="text/csv")}
    )
    assert empty.status_code == 400 and "Semikolon" in empty.text


def test_it_downloads_the_filtered_export(owner_client, acme, acme_copy):
    response = owner_client.get(reverse("suppliers:export"), {"q": "köln"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode("utf-8-sig")
    assert "Acme Bürobedarf GmbH" in text and "ACME Buerobedarf" not in text
