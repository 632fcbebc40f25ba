"""Crafted bad inputs through every upload door (API and browser upload): each one is refused
with its exact message and a 4xx, and leaves no document, no job and no stored file behind."""

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from ablage.testing import bad_files, bad_uploads
from ablage.testing.clamd import FakeClamd
from documents import services
from documents.models import Document, ProcessingJob
from system.services import config_set

pytestmark = pytest.mark.django_db

MAX_PAGES = 5  # upload.max_pages during these tests, so that "too many pages" is a small file


@dataclass(frozen=True)
class Bad:
    id: str
    name: str
    content: bytes
    status: int
    message: str
    config: dict = field(default_factory=dict)
    fields: dict = field(default_factory=dict)  # extra API form fields
    api_only: bool = False


def _cases() -> list[Bad]:
    pdf = bad_files.valid_pdf()
    unsupported = (
        "Dateityp wird nicht unterstützt: erlaubt sind PDF, PNG, JPEG, TIFF, E-Rechnungen (XML), E-Mails (.eml) "
        "und Office-Dateien (.docx, .xlsx, .odt, .rtf, .txt)."
    )
    zip_on = {"ingest.zip_enabled": True}
    return [
        Bad("empty", "leer.pdf", b"", 400, "„leer.pdf“ ist leer."),
        Bad(
            "pdf_named_eml",
            "post.eml",
            pdf,
            400,
            "„post.eml“ ist keine E-Mail-Datei: die Kopfzeilen „From“ und „Date“ fehlen.",
        ),
        Bad("text_named_pdf", "rechnung.pdf", bad_files.text_file_named_pdf(), 415, f"„rechnung.pdf“: {unsupported}"),
        Bad("executable", "rechnung.pdf", b"MZ\x90\x00" + b"\x00" * 60, 415, f"„rechnung.pdf“: {unsupported}"),
        Bad(
            "encrypted_pdf",
            "geheim.pdf",
            bad_files.encrypted_pdf(),
            400,
            "„geheim.pdf“: Das PDF ist passwortgeschützt (verschlüsselt). Bitte ohne Kennwort erneut hochladen.",
        ),
        Bad(
            "corrupt_pdf",
            "defekt.pdf",
            bad_files.corrupt_pdf(),
            400,
            "„defekt.pdf“: Das PDF ist beschädigt und kann nicht gelesen werden.",
        ),
        Bad(
            "too_many_pdf_pages",
            "dick.pdf",
            bad_uploads.pdf_with_pages(MAX_PAGES + 1),
            400,
            f"„dick.pdf“: Die Datei hat {MAX_PAGES + 1} Seiten; erlaubt sind höchstens {MAX_PAGES}.",
        ),
        Bad(
            "pdf_object_bomb",
            "objekte.pdf",
            bad_uploads.pdf_claiming_objects(9_999_999),
            400,
            "„objekte.pdf“: Das PDF enthält 9.999.999 Objekte; erlaubt sind höchstens "
            f"{settings.ABLAGE_MAX_PDF_OBJECTS:,}.".replace(",", "."),
        ),
        Bad(
            "image_bomb",
            "scan.png",
            bad_files.decompression_bomb_png(),
            400,
            "„scan.png“: Das Bild ist zu groß (mehr als 60 Megapixel) und wird aus Sicherheitsgründen nicht "
            "verarbeitet.",
        ),
        Bad(
            "truncated_png",
            "scan.png",
            bad_uploads.truncated_png(),
            400,
            "„scan.png“: Die PNG-Datei ist beschädigt und kann nicht gelesen werden.",
        ),
        Bad(
            "truncated_jpeg",
            "foto.jpg",
            bad_uploads.truncated_jpeg(),
            400,
            "„foto.jpg“: Die JPEG-Datei ist beschädigt und kann nicht gelesen werden.",
        ),
        Bad(
            "broken_tiff",
            "scan.tif",
            bad_uploads.tiff_header_only(),
            400,
            "„scan.tif“: Die TIFF-Datei ist beschädigt und kann nicht gelesen werden.",
        ),
        Bad(
            "tiff_frame_bomb",
            "stapel.tif",
            bad_uploads.tiff_with_frames(MAX_PAGES + 1),
            400,
            f"„stapel.tif“: Die Datei hat {MAX_PAGES + 1} Seiten; erlaubt sind höchstens {MAX_PAGES}.",
        ),
        Bad(
            "xml_external_entity",
            "xrechnung.xml",
            bad_uploads.xml_with_doctype(),
            400,
            "„xrechnung.xml“: Die E-Rechnung enthält eine DTD oder Entity-Deklarationen (DOCTYPE). E-Rechnungen dürfen "
            "keine enthalten; die Datei wird aus Sicherheitsgründen nicht verarbeitet.",
        ),
        Bad(
            "xml_billion_laughs",
            "xrechnung.xml",
            bad_uploads.xml_billion_laughs(),
            400,
            "„xrechnung.xml“: Die E-Rechnung enthält eine DTD oder Entity-Deklarationen (DOCTYPE). E-Rechnungen dürfen "
            "keine enthalten; die Datei wird aus Sicherheitsgründen nicht verarbeitet.",
        ),
        Bad(
            "xml_not_an_invoice",
            "bestellung.xml",
            bad_uploads.xml_not_an_invoice(),
            400,
            "„bestellung.xml“: Die XML-Datei ist keine E-Rechnung (unterstützt: XRechnung, ZUGFeRD, Factur-X, UBL).",
        ),
        Bad(
            "png_named_pdf",
            "rechnung.pdf",
            bad_uploads.png(),
            400,
            "„rechnung.pdf“: Die Endung „.pdf“ passt nicht zum Inhalt: die Datei ist eine PNG-Datei.",
        ),
        Bad(
            "pdf_named_jpg",
            "foto.jpg",
            pdf,
            400,
            "„foto.jpg“: Die Endung „.jpg“ passt nicht zum Inhalt: die Datei ist eine PDF-Datei.",
        ),
        Bad(
            "pdf_named_exe",
            "rechnung.exe",
            pdf,
            415,
            "„rechnung.exe“: Die Dateiendung „.exe“ wird nicht unterstützt: erlaubt sind .pdf, .png, .jpg, .tif, "
            ".xml, .eml, .docx, .xlsx, .odt, .rtf und .txt.",
        ),
        Bad(
            "zip_not_enabled",
            "belege.zip",
            bad_uploads.zip_of({"a.pdf": pdf}),
            415,
            "„belege.zip“: ZIP-Archive werden nicht angenommen. Bitte die Dateien einzeln hochladen.",
            api_only=False,
        ),
        Bad(
            "zip_path_escape",
            "belege.zip",
            bad_uploads.zip_with_path_escape(),
            400,
            "„belege.zip“: Das ZIP-Archiv enthält einen unzulässigen Pfad (../../etc/rechnung.pdf).",
            config=zip_on,
        ),
        Bad(
            "zip_bomb",
            "belege.zip",
            bad_uploads.zip_bomb(),
            400,
            "„belege.zip“: „rechnung.pdf“ im ZIP-Archiv ist verdächtig stark komprimiert (ZIP-Bombe?).",
            config=zip_on,
        ),
        Bad(
            "zip_too_many_entries",
            "belege.zip",
            bad_uploads.zip_of({f"{n}.pdf": pdf for n in range(3)}),
            400,
            "„belege.zip“: Das ZIP-Archiv enthält 3 Dateien; erlaubt sind höchstens 2.",
            config={**zip_on, "ingest.zip_max_entries": 2},
        ),
        Bad(
            "zip_encrypted",
            "belege.zip",
            bad_uploads.zip_encrypted(),
            400,
            "„belege.zip“: Das ZIP-Archiv ist verschlüsselt.",
            config=zip_on,
        ),
        Bad(
            "zip_corrupt",
            "belege.zip",
            bad_uploads.zip_corrupt(),
            400,
            "„belege.zip“: Das ZIP-Archiv ist beschädigt.",
            config=zip_on,
        ),
        Bad(
            "zip_empty",
            "belege.zip",
            bad_uploads.zip_of({}),
            400,
            "„belege.zip“: Das ZIP-Archiv enthält keine Dateien.",
            config=zip_on,
        ),
        Bad(
            "virus",
            "rechnung.pdf",
            bad_uploads.eicar_pdf(),
            400,
            "„rechnung.pdf“ enthält Schadsoftware (Eicar-Test-Signature) und wurde abgewiesen.",
            config={"clamd": "up"},
        ),
        Bad(
            "virus_scanner_down",
            "rechnung.pdf",
            pdf,
            503,
            "Die Virenprüfung ist gerade nicht erreichbar; die Datei wurde nicht angenommen. Bitte später "
            "erneut versuchen.",
            config={"clamd": "down"},
        ),
        Bad(
            "bad_priority",
            "rechnung.pdf",
            pdf,
            400,
            "Ungültige Eingabe.",
            fields={"priority": "11"},
            api_only=True,
        ),
        Bad(
            "bad_callback_url",
            "rechnung.pdf",
            pdf,
            400,
            "Ungültige Eingabe.",
            fields={"callback_url": "ftp://example.com/hook"},
            api_only=True,
        ),
        Bad(
            "metadata_not_an_object",
            "rechnung.pdf",
            pdf,
            400,
            "Ungültige Eingabe.",
            fields={"metadata": "[1, 2]"},
            api_only=True,
        ),
        Bad(
            "metadata_too_large",
            "rechnung.pdf",
            pdf,
            400,
            "Die Metadaten sind zu groß; erlaubt sind 16 KB.",
            fields={"metadata": json.dumps({"x": "y" * 20_000})},
            api_only=True,
        ),
        Bad(
            "unknown_document_type",
            "rechnung.pdf",
            pdf,
            400,
            "Ungültige Eingabe.",
            fields={"document_type": "banane"},
            api_only=True,
        ),
    ]


CASES = _cases()


def _stored_files() -> set[Path]:
    root = Path(settings.MEDIA_ROOT)
    return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()


@pytest.fixture
def prepared(request, owner, settings, tmp_path):
    """Applies a case's configuration; returns a function that runs it with these settings."""
    config_set(key="upload.max_pages", value=MAX_PAGES, user=None)

    def prepare(case: Bad):
        for key, value in case.config.items():
            if key == "clamd":
                path = str(tmp_path / "clamd.sock")
                settings.ABLAGE_CLAMD_SOCKET = path
                if value == "up":
                    server = FakeClamd(path)
                    request.addfinalizer(server.close)
            else:
                config_set(key=key, value=value, user=None)

    return prepare


def _assert_nothing_left(before_files):
    assert not Document.all_objects.exists()
    assert not ProcessingJob.objects.exists()
    assert _stored_files() == before_files


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_it_refuses_a_bad_api_upload_with_its_reason(case, prepared, owner):
    prepared(case)
    api = APIClient()
    api.force_authenticate(owner)
    before = _stored_files()

    response = api.post(
        reverse("api-v1:document-list"),
        {"file": SimpleUploadedFile(case.name, case.content), **case.fields},
        format="multipart",
    )

    assert response.status_code == case.status, response.content
    assert response.json()["error"]["message"] == case.message
    _assert_nothing_left(before)


BROWSER_CASES = [case for case in CASES if not case.api_only]


@pytest.mark.parametrize("case", BROWSER_CASES, ids=[case.id for case in BROWSER_CASES])
def test_it_refuses_a_bad_browser_upload_with_its_reason(case, prepared, owner, client):
    prepared(case)
    client.force_login(owner)
    before = _stored_files()

    response = client.post(
        reverse("documents:upload"),
        {"files": [SimpleUploadedFile(case.name, case.content)]},
        HTTP_ACCEPT="application/json",
    )

    assert response.status_code == case.status, response.content
    [result] = response.json()["results"]
    assert result["status"] == "rejected"
    assert result["message"] == case.message
    _assert_nothing_left(before)


def test_it_has_at_least_25_crafted_bad_inputs():
    assert len({case.id for case in CASES}) >= 25


def test_it_refuses_a_duplicate_when_configured_and_keeps_only_the_first(owner, client):
    config_set(key="ingest.duplicates", value="reject", user=None)
    first = services.document_ingest(owner=owner, filename="rechnung.pdf", data=bad_files.valid_pdf())
    before = _stored_files()
    client.force_login(owner)

    response = client.post(
        reverse("documents:upload"),
        {"files": [SimpleUploadedFile("nochmal.pdf", bad_files.valid_pdf())]},
        HTTP_ACCEPT="application/json",
    )

    assert response.status_code == 409
    [result] = response.json()["results"]
    assert result["message"].startswith("„nochmal.pdf“: Dieses Dokument wurde bereits am ")
    assert result["message"].endswith(" Uhr hochgeladen („rechnung.pdf“).")
    assert list(Document.objects.all()) == [first]
    assert _stored_files() == before


def test_it_limits_uploads_per_user_and_minute_with_retry_after(owner, outsider):
    config_set(key="ingest.uploads_per_minute", value=2, user=None)
    api = APIClient()
    api.force_authenticate(owner)
    for number in range(2):
        pdf = bad_uploads.pdf_with_pages(number + 1)
        accepted = api.post(
            reverse("api-v1:document-list"), {"file": SimpleUploadedFile("a.pdf", pdf)}, format="multipart"
        )
        assert accepted.status_code == 202

    refused = api.post(
        reverse("api-v1:document-list"),
        {"file": SimpleUploadedFile("c.pdf", bad_uploads.pdf_with_pages(3))},
        format="multipart",
    )

    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["error"]["message"] == (
        f"Zu viele Uploads: höchstens 2 Dateien pro Minute. Bitte in {refused['Retry-After']} Sekunden erneut "
        "versuchen."
    )
    assert Document.objects.count() == 2
    api.force_authenticate(outsider)  # the limit is per user
    other = api.post(
        reverse("api-v1:document-list"),
        {"file": SimpleUploadedFile("c.pdf", bad_uploads.pdf_with_pages(3))},
        format="multipart",
    )
    assert other.status_code == 202


def test_it_scans_clean_files_through_clamd_and_accepts_them(owner, settings, tmp_path):
    settings.ABLAGE_CLAMD_SOCKET = str(tmp_path / "clamd.sock")
    server = FakeClamd(settings.ABLAGE_CLAMD_SOCKET)
    try:
        document = services.document_ingest(owner=owner, filename="rechnung.pdf", data=bad_files.valid_pdf())
    finally:
        server.close()
    assert document.status == Document.Status.QUEUED
    assert server.scanned == [bad_files.valid_pdf()]


def test_it_takes_files_unscanned_when_clamd_is_down_and_fail_open(owner, settings, tmp_path):
    settings.ABLAGE_CLAMD_SOCKET = str(tmp_path / "nobody-listens.sock")
    settings.ABLAGE_CLAMD_FAIL_CLOSED = False

    document = services.document_ingest(owner=owner, filename="rechnung.pdf", data=bad_files.valid_pdf())

    assert Document.objects.get() == document


def test_it_reads_every_entry_of_an_enabled_zip_as_its_own_document(owner):
    config_set(key="ingest.zip_enabled", value=True, user=None)
    archive = bad_uploads.zip_of(
        {"Januar/rechnung.pdf": bad_files.valid_pdf(), "scan.png": bad_uploads.png(), "notiz.bin": b"Hallo"}
    )
    api = APIClient()
    api.force_authenticate(owner)

    response = api.post(
        reverse("api-v1:document-batch"), {"files": [SimpleUploadedFile("belege.zip", archive)]}, format="multipart"
    )

    assert response.status_code == 207, response.content
    results = {result["filename"]: result for result in response.json()["results"]}
    assert results["belege.zip/rechnung.pdf"]["status"] == "accepted"
    assert results["belege.zip/scan.png"]["status"] == "accepted"
    assert results["belege.zip/notiz.bin"]["error"]["message"] == (
        "„notiz.bin“: Dateityp wird nicht unterstützt: erlaubt sind PDF, PNG, JPEG, TIFF, E-Rechnungen (XML), "
        "E-Mails (.eml) und Office-Dateien (.docx, .xlsx, .odt, .rtf, .txt)."
    )
    assert sorted(Document.objects.values_list("source_reference", flat=True)) == [
        "belege.zip/Januar/rechnung.pdf",
        "belege.zip/scan.png",
    ]


def test_it_sends_a_zip_to_the_single_upload_to_the_batch_endpoint(owner):
    config_set(key="ingest.zip_enabled", value=True, user=None)
    api = APIClient()
    api.force_authenticate(owner)

    response = api.post(
        reverse("api-v1:document-list"),
        {"file": SimpleUploadedFile("belege.zip", bad_uploads.zip_of({"a.pdf": bad_files.valid_pdf()}))},
        format="multipart",
    )

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "zip_needs_batch"
    assert not Document.all_objects.exists()


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\Olga\\rechnung.pdf", "rechnung.pdf"),
        ("re\x00ch\x1bnung\u202e.pdf", "rechnung.pdf"),
        ("CON.pdf", "_CON.pdf"),
        ("nul", "_nul"),
        ("lpt1.tar.pdf", "_lpt1.tar.pdf"),
        ("a" * 300 + ".pdf", "a" * 190 + ".pdf"),
        ("...", "dokument"),
    ],
)
def test_it_cleans_client_filenames(sent, kept):
    assert services.clean_filename(sent) == kept


def test_it_stores_originals_under_uuid_keys_by_owner_and_day(owner):
    document = services.document_ingest(owner=owner, filename="../../evil name.pdf", data=bad_files.valid_pdf())

    created = document.created_at
    assert document.storage_key.startswith(f"originals/{owner.pk}/{created:%Y/%m/%d}/{document.id}")
    assert document.storage_key.endswith(".pdf")
    assert "evil" not in document.storage_key
    assert document.original_filename == "evil name.pdf"


def test_it_stores_api_hints_metadata_and_callback_url(owner):
    api = APIClient()
    api.force_authenticate(owner)

    response = api.post(
        reverse("api-v1:document-list"),
        {
            "file": SimpleUploadedFile("rechnung.pdf", bad_files.valid_pdf()),
            "document_type": "invoice",
            "metadata": json.dumps({"kostenstelle": "4711", "projekt": "Umbau"}),
            "callback_url": "https://erp.example.com/hooks/ablage",
            "priority": "9",
        },
        format="multipart",
    )

    assert response.status_code == 202, response.content
    document = Document.objects.get()
    assert document.document_type_hint == "invoice"
    assert document.metadata == {"kostenstelle": "4711", "projekt": "Umbau"}
    assert document.callback_url == "https://erp.example.com/hooks/ablage"
    assert document.priority == 9
    assert response.json()["metadata"] == {"kostenstelle": "4711", "projekt": "Umbau"}


def test_it_combines_scanned_images_into_one_multipage_document(owner):
    from PIL import Image

    api = APIClient()
    api.force_authenticate(owner)
    pages = [
        SimpleUploadedFile("seite1.png", bad_uploads.png()),
        SimpleUploadedFile("seite2.jpg", bad_uploads.jpeg()),
        SimpleUploadedFile("seite3.tif", bad_uploads.tiff_with_frames(2)),
    ]

    response = api.post(reverse("api-v1:document-batch"), {"files": pages, "combine": "true"}, format="multipart")

    assert response.status_code == 202, response.content
    document = Document.objects.get()
    assert document.original_filename == "seite1 (3 Bilder).tif"
    with services.original_read_verified(document) as handle, Image.open(io.BytesIO(handle.read())) as tiff:
        assert tiff.n_frames == 4


def test_it_refuses_to_combine_a_pdf_with_images(owner):
    api = APIClient()
    api.force_authenticate(owner)
    files = [SimpleUploadedFile("seite1.png", bad_uploads.png()), SimpleUploadedFile("a.pdf", bad_files.valid_pdf())]

    response = api.post(reverse("api-v1:document-batch"), {"files": files, "combine": "true"}, format="multipart")

    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "„a.pdf“ ist kein Bild; zusammengefasst werden nur PNG-, JPEG- und TIFF-Seiten."
    )
    assert not Document.all_objects.exists()
