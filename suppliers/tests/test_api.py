import io

import pytest
from rest_framework.test import APIClient

from documents.models import Document
from suppliers.models import Supplier, SupplierTemplateVersion
from suppliers.tests.conftest import IBAN_B, IBAN_C, VAT_A, VAT_B, make_document
from suppliers.tests.test_csv import csv_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

URL = "/api/v1/suppliers/"


def _client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def reader(owner):
    return _client(owner)


@pytest.fixture
def writer(editor):
    return _client(editor)


def test_it_lists_searches_and_shows_suppliers_to_readers(reader, acme, acme_copy):
    listing = reader.get(URL, {"q": "Köln"})
    assert listing.status_code == 200
    assert [row["name"] for row in listing.json()["results"]] == ["Acme Bürobedarf GmbH"]
    detail = reader.get(f"{URL}{acme.id}/").json()
    assert detail["vat_id"] == VAT_A and detail["contacts"] == [] and detail["bank_accounts"] == []


def test_it_refuses_writes_by_readers_and_anonymous_users(reader, acme):
    refused = reader.patch(f"{URL}{acme.id}/", {"city": "Bonn"}, format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    assert reader.post(URL, {"name": "X"}, format="json").status_code == 403
    assert APIClient().get(URL).status_code in (401, 403)
    acme.refresh_from_db()
    assert acme.city == "Köln"


def test_it_creates_and_edits_a_supplier_with_clear_errors(writer):
    created = writer.post(URL, {"name": "Neu GmbH", "vat_id": VAT_B, "tags": ["IT"]}, format="json")
    assert created.status_code == 201 and created.json()["tags"] == ["IT"]
    supplier_id = created.json()["id"]
    bad = writer.patch(f"{URL}{supplier_id}/", {"vat_id": "DE812345674"}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_vat_id"
    ok = writer.patch(f"{URL}{supplier_id}/", {"city": "Bonn", "name_variations": ["Neu"]}, format="json")
    assert ok.status_code == 200 and ok.json()["city"] == "Bonn" and ok.json()["name_variations"] == ["Neu"]
    assert writer.get(f"{URL}00000000-0000-0000-0000-000000000000/").status_code == 404


def test_it_manages_contacts_and_bank_accounts(writer, acme, acme_copy):
    contact = writer.post(f"{URL}{acme.id}/contacts/", {"last_name": "Meier", "is_primary": True}, format="json")
    assert contact.status_code == 201 and contact.json()["is_primary"]
    contact_url = f"{URL}{acme.id}/contacts/{contact.json()['id']}/"
    assert writer.patch(contact_url, {"phone": "0221 1"}, format="json").json()["phone"] == "0221 1"
    # A contact of another supplier is not found under this one.
    assert writer.get(f"{URL}{acme_copy.id}/contacts/{contact.json()['id']}/").status_code == 404
    assert writer.delete(contact_url).status_code == 204
    account = writer.post(f"{URL}{acme.id}/bank-accounts/", {"iban": IBAN_C}, format="json")
    assert account.status_code == 201 and account.json()["is_primary"]
    foreign = writer.post(f"{URL}{acme.id}/bank-accounts/", {"iban": IBAN_B}, format="json")
    assert foreign.status_code == 400 and foreign.json()["error"]["code"] == "iban_of_other_supplier"
    assert writer.delete(f"{URL}{acme.id}/bank-accounts/{account.json()['id']}/").status_code == 204


def test_it_versions_templates_through_the_api(writer, acme):
    created = writer.post(
        f"{URL}{acme.id}/templates/",
        {"name": "Rechnung", "document_type": "invoice", "field_patterns": {"total": {"pattern": "Summe (\\S+)"}}},
        format="json",
    )
    assert created.status_code == 201 and created.json()["version"] == 1
    url = f"{URL}{acme.id}/templates/{created.json()['id']}/"
    updated = writer.patch(url, {"confidence_threshold": 0.95, "note": "strenger"}, format="json")
    body = updated.json()
    assert body["version"] == 2 and [v["version"] for v in body["versions"]] == [2, 1]
    assert body["versions"][0]["note"] == "strenger"
    broken = writer.patch(url, {"field_patterns": {"total": {"pattern": "("}}}, format="json")
    assert broken.status_code == 400
    assert SupplierTemplateVersion.objects.count() == 2


def test_it_merges_and_lists_duplicates(writer, owner, acme, acme_copy):
    document = make_document(owner, supplier=acme_copy)
    duplicates = writer.get(f"{URL}duplicates/").json()
    assert {duplicates[0]["first"]["id"], duplicates[0]["second"]["id"]} == {str(acme.id), str(acme_copy.id)}
    same = writer.post(f"{URL}{acme.id}/merge/", {"duplicate": str(acme.id)}, format="json")
    assert same.status_code == 400 and same.json()["error"]["code"] == "merge_same"
    merged = writer.post(f"{URL}{acme.id}/merge/", {"duplicate": str(acme_copy.id)}, format="json")
    assert merged.status_code == 200
    assert Document.objects.get(pk=document.pk).supplier_id == acme.id
    assert not Supplier.objects.filter(pk=acme_copy.pk).exists()
    gone = writer.post(f"{URL}{acme.id}/merge/", {"duplicate": str(acme_copy.id)}, format="json")
    assert gone.status_code == 404


def test_it_imports_with_a_row_report_and_exports_csv(writer, reader):
    handle = io.BytesIO(csv_bytes([{"Name": "Gut GmbH", "USt-IdNr.": VAT_B}, {"Name": "", "Ort": "Bonn"}]))
    handle.name = "lieferanten.csv"
    refused = reader.post(f"{URL}import/", {"file": handle}, format="multipart")
    assert refused.status_code == 403
    handle.seek(0)
    report = writer.post(f"{URL}import/", {"file": handle, "dry_run": "true"}, format="multipart").json()
    assert (report["created"], report["refused"], report["dry_run"]) == (1, 1, True)
    assert report["rows"][1]["errors"] == ["Name fehlt."] and report["rows"][0]["supplier_id"] is None
    assert not Supplier.objects.exists()
    handle.seek(0)
    report = writer.post(f"{URL}import/", {"file": handle}, format="multipart").json()
    assert report["rows"][0]["supplier_id"] == str(Supplier.objects.get().pk)
    exported = reader.get(f"{URL}export/")
    assert exported.status_code == 200 and exported.content.startswith(b"\xef\xbb\xbf")
    assert "Gut GmbH" in exported.content.decode("utf-8-sig")
    bad = writer.post(f"{URL}import/", {"file": io.BytesIO(b"")}, format="multipart")
    assert bad.status_code == 400
