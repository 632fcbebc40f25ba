"""E-invoices through upload and processing: read exactly, kept as the original, hostile XML refused."""

import io

import pytest
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from ablage.testing import einvoices
from ablage.testing.invoice_pdf import render_pdf
from ablage.testing.invoices import random_invoice
from documents import services
from documents.models import Document, ExtractedField

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

CORE = [
    "invoice_number",
    "invoice_date",
    "supplier_name",
    "supplier_vat_id",
    "iban",
    "net_amount",
    "vat_amount",
    "total_amount",
    "currency",
]


@pytest.fixture
def api(owner):
    client = APIClient()
    client.force_authenticate(owner)
    return client


def _upload(api, name, data):
    handle = io.BytesIO(data)
    handle.name = name
    return api.post("/api/v1/documents/", {"file": handle}, format="multipart")


def _process(document_id):
    document = Document.objects.get(id=document_id)
    services.job_run(job_id=document.jobs.get().id)
    document.refresh_from_db()
    return document


@pytest.mark.parametrize("flavour", ["xrechnung_cii_xml", "ubl_xml", "zugferd1_xml", "facturx_pdf", "zugferd1_pdf"])
def test_it_reads_an_einvoice_exactly_and_keeps_its_xml(api, flavour):
    from system.services import config_set

    # No random quality sample: this test asserts the automatic approval.
    config_set(key="extraction.quality_sample_rate", value=0.0, user=None)
    spec = random_invoice(12)
    data = getattr(einvoices, flavour)(spec)
    name = "rechnung.pdf" if flavour.endswith("_pdf") else "rechnung.xml"

    response = _upload(api, name, data)
    assert response.status_code == 202, response.content
    document = _process(response.json()["id"])

    truth = spec.ground_truth()
    fields = {field.name: field for field in document.fields.all()}
    for field_name in CORE:
        assert fields[field_name].normalized_value == truth[field_name], field_name
        assert fields[field_name].source == ExtractedField.Source.EINVOICE
        assert fields[field_name].confidence == 1.0
    assert document.content_source == "einvoice"
    assert document.status == Document.Status.APPROVED
    assert len(document.line_items) == len(truth["line_items"])
    assert document.pages.count() >= 1  # the reviewer has a page to look at, even for bare XML
    assert document.einvoice_format
    with default_storage.open(document.einvoice_key) as handle:
        xml = handle.read()
    assert xml.lstrip().startswith(b"<") and truth["invoice_number"].encode() in xml


def test_it_sends_an_einvoice_whose_picture_disagrees_with_its_xml_to_review(api):
    shown, structured = random_invoice(13), random_invoice(14)
    data = einvoices.pdf_with_attachment(render_pdf(shown), einvoices.facturx_xml(structured), "factur-x.xml")

    document = _process(_upload(api, "rechnung.pdf", data).json()["id"])

    check = next(check for check in document.validation if check["rule"] == "einvoice_matches_visual")
    assert check["ok"] is False and "weichen ab" in check["message"]
    assert document.status == Document.Status.REVIEW


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (einvoices.billion_laughs_xml, "hostile_xml"),
        (lambda: einvoices.external_entity_xml("file:///etc/passwd"), "hostile_xml"),
        (lambda: b"<?xml version='1.0'?><notiz>keine Rechnung</notiz>", "not_einvoice"),
    ],
)
def test_it_refuses_hostile_or_foreign_xml_at_upload(api, make, code):
    response = _upload(api, "rechnung.xml", make())

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert Document.all_objects.count() == 0


def test_it_refuses_a_pdf_carrying_hostile_xml(api, born_digital_pdf):
    data = einvoices.pdf_with_attachment(born_digital_pdf, einvoices.billion_laughs_xml(), "factur-x.xml")

    response = _upload(api, "rechnung.pdf", data)

    assert response.status_code == 400 and response.json()["error"]["code"] == "hostile_xml"
