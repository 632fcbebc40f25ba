import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from ablage.testing.factories import stored_document
from documents import services
from documents.models import Document
from documents.selectors import document_etag

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def processed(owner, born_digital_pdf):
    document = services.document_ingest(owner=owner, filename="rechnung.pdf", data=born_digital_pdf)
    services.job_run(job_id=document.jobs.get().id)
    Document.objects.filter(id=document.id).update(status=Document.Status.REVIEW)
    document.refresh_from_db()
    return document


def test_it_sends_anonymous_visitors_to_the_login(client):
    response = client.get(reverse("documents:list"))
    assert response.status_code == 302 and "/konto/anmelden/" in response["Location"]


def test_it_lists_only_the_users_documents(client, owner, outsider, processed):
    # The row id, not the title: the filter's category names ("Eingangsrechnungen") contain "rechnung" too.
    client.force_login(outsider)
    assert f"doc-{processed.id}" not in client.get(reverse("documents:list")).content.decode()
    client.force_login(owner)
    assert f"doc-{processed.id}" in client.get(reverse("documents:list")).content.decode()


def test_it_returns_the_table_partial_to_htmx(client, owner, processed):
    client.force_login(owner)
    response = client.get(reverse("documents:list") + "?partial=table", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="document-table"') and "<html" not in body


def test_it_reports_each_uploaded_file_separately(client, owner, born_digital_pdf):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(owner)
    response = client.post(
        reverse("documents:upload"),
        {"files": [SimpleUploadedFile("gut.pdf", born_digital_pdf), SimpleUploadedFile("leer.pdf", b"")]},
        HTTP_HX_REQUEST="true",
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "gut.pdf" in body and "angenommen" in body
    assert "„leer.pdf“ ist leer." in body
    assert Document.objects.count() == 1


def test_it_escapes_a_hostile_filename(client, owner, born_digital_pdf):
    services.document_ingest(
        owner=owner,
        filename="<img src=x onerror=alert(1)>.pdf",
        title="<script>alert(1)</script>",
        data=born_digital_pdf,
    )
    client.force_login(owner)
    body = client.get(reverse("documents:list")).content.decode()
    assert "<script>alert(1)" not in body and "&lt;script&gt;" in body


def test_it_shows_the_review_screen_with_field_boxes(client, reviewer, processed):
    client.force_login(reviewer)
    response = client.get(reverse("documents:review", args=[processed.id]))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-field="total_amount"' in body and 'class="box"' in body
    assert 'name="action" value="approve"' in body


def test_it_approves_with_corrections_from_the_review_form(client, reviewer, processed):
    client.force_login(reviewer)
    response = client.post(
        reverse("documents:review-submit", args=[processed.id]),
        {"action": "approve", "etag": document_etag(processed), "field_customer_number": "K-1"},
    )
    processed.refresh_from_db()
    assert response.status_code == 302
    assert processed.status == Document.Status.APPROVED
    assert processed.fields.get(name="customer_number").locked


def test_it_shows_a_field_error_for_an_invalid_correction(client, reviewer, processed):
    client.force_login(reviewer)
    response = client.post(
        reverse("documents:review-submit", args=[processed.id]),
        {"action": "approve", "etag": document_etag(processed), "field_invoice_date": "kein Datum"},
    )
    processed.refresh_from_db()
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.content.decode()
    assert processed.status == Document.Status.REVIEW


def test_it_offers_a_delivery_note_no_empty_amount_fields_and_refuses_unknown_ones(client, reviewer, owner):
    document = stored_document(owner, fields={"supplier_name": "Muster GmbH"})
    Document.objects.filter(id=document.id).update(document_type=Document.DocumentType.DELIVERY_NOTE)
    client.force_login(reviewer)

    page = client.get(reverse("documents:review", args=[document.id])).content.decode()
    refused = client.post(
        reverse("documents:review-submit", args=[document.id]),
        {"action": "save", "etag": document_etag(document), "field_total_amount": "119,00"},
    )

    assert 'name="field_supplier_name"' in page and 'name="field_invoice_number"' in page
    assert 'name="field_total_amount"' not in page
    assert refused.status_code == 400
    assert "Unbekannte Felder für Lieferschein: total_amount" in refused.content.decode()
    assert not document.fields.filter(name="total_amount").exists()


def test_it_forbids_review_actions_to_a_clerk_without_review_permission(client, owner, processed):
    client.force_login(owner)
    response = client.post(reverse("documents:review-submit", args=[processed.id]), {"action": "approve"})
    assert response.status_code == 404
    processed.refresh_from_db()
    assert processed.status == Document.Status.REVIEW


@pytest.mark.parametrize("route", ["documents:original", "documents:thumbnail", "documents:review"])
def test_it_hides_files_and_pages_from_outsiders(client, outsider, processed, route):
    client.force_login(outsider)
    assert client.get(reverse(route, args=[processed.id])).status_code == 404


def test_it_serves_page_images_and_the_original_to_the_owner(client, owner, processed, born_digital_pdf):
    client.force_login(owner)
    page = client.get(reverse("documents:page-image", args=[processed.id, 1]))
    original = client.get(reverse("documents:original", args=[processed.id]))
    assert page.status_code == 200 and page["Content-Type"] == "image/jpeg"
    assert b"".join(original.streaming_content) == born_digital_pdf
    assert "attachment" in original["Content-Disposition"]
    assert all(default_storage.exists(key) for key in processed.thumbnails.values())


def test_it_creates_the_unknown_supplier_from_the_review_screen(client, reviewer, processed):
    from django.contrib.auth.models import Permission

    from suppliers.models import Supplier

    reviewer.user_permissions.add(Permission.objects.get(codename="add_supplier"))
    client.force_login(reviewer)
    page = client.get(reverse("documents:review", args=[processed.id])).content.decode()
    assert "Als Lieferant anlegen" in page

    response = client.post(reverse("suppliers:create-from-document", args=[processed.id]))

    processed.refresh_from_db()
    assert response.status_code == 302
    supplier = Supplier.objects.get()
    assert processed.supplier == supplier
    assert supplier.vat_id == processed.fields.get(name="supplier_vat_id").normalized_value


def test_it_forbids_creating_suppliers_without_permission(client, reviewer, processed):
    client.force_login(reviewer)
    response = client.post(reverse("suppliers:create-from-document", args=[processed.id]))
    assert response.status_code == 403
