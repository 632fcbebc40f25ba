"""Office files converted to PDF by a sandboxed LibreOffice, the office file kept as the original.

Test files are written here: XLSX with openpyxl, DOCX and ODT as hand-made ZIPs, RTF and text as text.
"""

import io
import zipfile

import pytest
from django.core.files.storage import default_storage
from pypdf import PdfReader

from ablage.errors import ApplicationError
from documents import office, services
from documents.models import Document

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

LINE = "Rechnung RE-2026-0815 über 1.190,00 € – Müller & Söhne"

needs_libreoffice = pytest.mark.skipif(
    office.soffice_path() is None,
    reason="LibreOffice is not installed (Debian libreoffice-writer-nogui/-calc-nogui; `make test` installs them)",
)


def _zip(entries: list[tuple[str, str]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in entries:
            archive.writestr(
                name, text, compress_type=zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            )
    return buffer.getvalue()


def make_docx(text: str) -> bytes:
    main = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
    return _zip(
        [
            (
                "[Content_Types].xml",
                '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
                'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName='
                f'"/word/document.xml" ContentType="{main}"/></Types>',
            ),
            (
                "_rels/.rels",
                '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
                'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
            ),
            (
                "word/document.xml",
                '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
                f'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>{text.replace("&", "&amp;")}</w:t></w:r></w:p>'
                "</w:body></w:document>",
            ),
        ]
    )


def make_odt(text: str) -> bytes:
    return _zip(
        [
            ("mimetype", "application/vnd.oasis.opendocument.text"),
            (
                "META-INF/manifest.xml",
                '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:'
                'opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/"'
                ' manifest:media-type="application/vnd.oasis.opendocument.text"/><manifest:file-entry '
                'manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>',
            ),
            (
                "content.xml",
                '<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:'
                'opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
                f'office:version="1.2"><office:body><office:text><text:p>{text.replace("&", "&amp;")}</text:p>'
                "</office:text></office:body></office:document-content>",
            ),
        ]
    )


def make_xlsx(text: str) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active["A1"] = text
    workbook.active["A2"] = "Summe"
    workbook.active["B2"] = 1190
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def make_rtf(text: str) -> bytes:
    # RTF 1.9.1: characters beyond ASCII as \uN? (signed 16 bit), here all within the BMP.
    escaped = "".join(ch if ord(ch) < 128 else f"\\u{ord(ch)}?" for ch in text)
    return ("{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Liberation Sans;}}\\f0\\fs24 " + escaped + "\\par}").encode("ascii")


def make_txt(text: str) -> bytes:
    return f"{text}\nZahlbar innerhalb von 14 Tagen.\n".encode("cp1252")  # an old Windows export


MAKERS = {"docx": make_docx, "xlsx": make_xlsx, "odt": make_odt, "rtf": make_rtf, "txt": make_txt}


def _pdf_text(key: str) -> str:
    with default_storage.open(key, "rb") as handle:
        return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(handle.read())).pages)


@needs_libreoffice
@pytest.mark.parametrize("extension", list(MAKERS))
def test_it_converts_an_office_file_to_pdf_and_keeps_the_office_file_as_original(owner, extension):
    data = MAKERS[extension](LINE)

    document = services.document_ingest(owner=owner, filename=f"Rechnung.{extension}", data=data)

    assert document.mime_type == office.OFFICE_TYPES[extension].mime_type
    assert document.storage_key.endswith(f"{document.id}.{extension}")
    assert default_storage.open(document.storage_key).read() == data
    text = " ".join(_pdf_text(document.rendition_key).split())
    assert "Rechnung RE-2026-0815" in text
    assert "Müller & Söhne" in text


@needs_libreoffice
def test_it_processes_the_converted_pdf_from_its_text_layer(owner):
    document = services.document_ingest(owner=owner, filename="Brief.docx", data=make_docx(LINE))

    services.job_run(job_id=document.jobs.get().id)

    document.refresh_from_db()
    assert document.status in (Document.Status.REVIEW, Document.Status.APPROVED), document.status_reason
    assert document.content_source == Document.ContentSource.TEXT_LAYER
    assert "RE-2026-0815" in document.pages.get(page_number=1).text


def test_it_refuses_office_files_with_a_clear_reason_when_libreoffice_is_missing(owner, monkeypatch):
    monkeypatch.setattr(office, "soffice_path", lambda: None)

    with pytest.raises(ApplicationError) as raised:
        services.document_ingest(owner=owner, filename="Angebot.docx", data=make_docx(LINE))

    assert raised.value.code == "office_unavailable"
    assert raised.value.status_code == 415
    assert raised.value.message == (
        "„Angebot.docx“: Word (DOCX)-Dateien können hier nicht angenommen werden: LibreOffice ist auf dem Server "
        "nicht installiert. Bitte als PDF hochladen."
    )
    assert not Document.objects.exists()


@needs_libreoffice
@pytest.mark.parametrize(
    ("name", "data", "label"),
    [
        ("rechnung.docx", make_odt(LINE), "Word (DOCX)"),
        ("rechnung.odt", b"%PDF-1.7\n", "OpenDocument-Text (ODT)"),
        ("notiz.txt", b"PK\x03\x04binary\x00\x00", "Text"),
        ("brief.rtf", b"kein rtf", "RTF"),
    ],
    # Explicit ids: the generated ODT carries a timestamp, and xdist needs the same ids in every worker.
    ids=["odt-named-docx", "pdf-named-odt", "zip-named-txt", "text-named-rtf"],
)
def test_it_refuses_an_office_name_on_other_content(owner, name, data, label):
    with pytest.raises(ApplicationError) as raised:
        services.document_ingest(owner=owner, filename=name, data=data)

    assert raised.value.code == "extension_mismatch"
    assert raised.value.message.endswith(f"die Datei ist keine {label}-Datei.")
    assert not Document.objects.exists()


@needs_libreoffice
def test_it_stops_a_conversion_that_takes_too_long_and_stores_nothing(owner, monkeypatch):
    monkeypatch.setattr(office, "CONVERT_TIMEOUT_SECONDS", 0.05)

    with pytest.raises(ApplicationError) as raised:
        services.document_ingest(owner=owner, filename="lang.odt", data=make_odt(LINE))

    assert raised.value.code == "conversion_timeout"
    assert "länger als 0.05 Sekunden" in raised.value.message
    assert not Document.objects.exists()


def test_it_refuses_an_office_file_that_would_unpack_to_a_bomb(owner, monkeypatch):
    monkeypatch.setattr(office, "soffice_path", lambda: "/usr/bin/soffice")
    monkeypatch.setattr(office, "_network_sandbox", lambda: ("unshare", "--net"))
    bomb = _zip([("[Content_Types].xml", "x"), ("word/document.xml", " " * 50_000_000)])

    with pytest.raises(ApplicationError) as raised:
        services.document_ingest(owner=owner, filename="bombe.docx", data=bomb)

    assert raised.value.code == "decompression_bomb"
    assert not Document.objects.exists()
