"""PDF document information and image EXIF, read by the worker from the original and shown to clerks."""

import io

import pytest
from django.urls import reverse
from PIL import Image
from pypdf import PdfReader, PdfWriter
from rest_framework.test import APIClient

from documents import services
from documents.file_metadata import file_metadata_read

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def _pdf_with_info(pdf: bytes, info: dict) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.add_metadata(info)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _photo_lying_on_its_side(png: bytes) -> bytes:
    """The scan as a phone stores a portrait shot: pixels turned, EXIF orientation 6 to stand it up."""
    with Image.open(io.BytesIO(png)) as scan:
        turned = scan.convert("RGB").rotate(90, expand=True)  # counter-clockwise: 6 turns it back clockwise
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "EOS 5D"
    exif[0x0112] = 6
    exif.get_ifd(0x8769)[0x9003] = "2026:11:02 09:30:15"
    buffer = io.BytesIO()
    turned.save(buffer, format="JPEG", quality=90, exif=exif)
    return buffer.getvalue()


def _run(document):
    services.job_run(job_id=document.jobs.get().id)
    document.refresh_from_db()


def test_it_keeps_the_pdf_information_and_shows_it_in_the_review_panel_and_api(
    owner, reviewer, client, born_digital_pdf, invoice_spec
):
    pdf = _pdf_with_info(
        born_digital_pdf,
        {
            "/Author": "Erika Muster",
            "/Creator": "Microsoft® Word für Microsoft 365",
            "/Producer": "Adobe PDF Library 23.1",
            "/CreationDate": "D:20261102093000+01'00'",
        },
    )
    document = services.document_ingest(owner=owner, filename="RE-42.pdf", data=pdf)

    _run(document)

    assert document.file_metadata == {
        "kind": "pdf",
        "author": "Erika Muster",
        "creator": "Microsoft® Word für Microsoft 365",
        "producer": "Adobe PDF Library 23.1",
        "created_at": "2026-11-02T09:30:00+01:00",
        "title": f"Rechnung {invoice_spec.invoice_number}",  # reportlab's, kept from the generated PDF
    }
    client.force_login(reviewer)
    page = client.get(reverse("documents:review", args=[document.id])).content.decode()
    assert '<h2 id="file-meta-title">PDF-Angaben</h2>' in page
    assert "<dt>Autor</dt><dd>Erika Muster</dd>" in page
    assert "<dt>Erstellt am</dt><dd>02.11.2026 09:30 (UTC+0100)</dd>" in page
    api = APIClient()
    api.force_authenticate(owner)
    detail = api.get(f"/api/v1/documents/{document.id}/").json()
    assert detail["file_metadata"]["producer"] == "Adobe PDF Library 23.1"


def test_it_reads_exif_and_ocrs_the_photo_upright(owner, reviewer, client, scanned_png, invoice_spec):
    document = services.document_ingest(owner=owner, filename="foto.jpg", data=_photo_lying_on_its_side(scanned_png))

    _run(document)

    assert document.file_metadata == {
        "kind": "exif",
        "camera": "Canon EOS 5D",
        "captured_at": "2026-11-02T09:30:15",
        "orientation": 6,
        "orientation_text": "um 90° im Uhrzeigersinn gedreht",
        "orientation_applied": True,
    }
    # Upright for OCR: the invoice number reads back, and the page is portrait.
    page = document.pages.get(page_number=1)
    assert page.height_px > page.width_px
    assert invoice_spec.invoice_number in page.text
    client.force_login(reviewer)
    body = client.get(reverse("documents:review", args=[document.id])).content.decode()
    assert "<dt>Kamera</dt><dd>Canon EOS 5D</dd>" in body
    assert "<dd>um 90° im Uhrzeigersinn gedreht – für die Texterkennung aufgerichtet</dd>" in body


def test_it_has_no_metadata_for_a_file_without_any_and_survives_a_broken_one(born_digital_pdf, scanned_png):
    assert file_metadata_read(scanned_png) == {}
    assert file_metadata_read(b"%PDF-1.7\n kaputt") == {}
    broken_date = file_metadata_read(_pdf_with_info(born_digital_pdf, {"/CreationDate": "gestern"}))
    assert broken_date["created_raw"] == "gestern"
    assert "created_at" not in broken_date
