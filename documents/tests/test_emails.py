""".eml files: the mail becomes a document (sanitised, rendered to PDF), its attachments related documents."""

import io
from email.message import EmailMessage

import pytest
from django.core.files.storage import default_storage
from pypdf import PdfReader
from rest_framework.test import APIClient

from ablage.errors import ApplicationError
from documents import services
from documents.emails import html_sanitise
from documents.models import Document, DocumentRelation

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

HTML = """<html><head><title>Kopf</title><style>p { color: red }</style>
<script>alert('gestohlen')</script></head><body>
<p>Sehr geehrte Damen und Herren,</p>
<p>anbei die <b>Rechnung RE-2026-0042</b> über <i>1.190,00&nbsp;€</i> &amp; der Lieferschein.</p>
<img src="https://tracker.example.com/pixel.gif" onerror="alert(1)">
<ul><li>Position 1: Schrauben</li><li>Position 2: Muttern</li></ul>
<p>Zahlbar bis 30.11.2026: <a href="https://zahlung.example.com/re42" onclick="x()">Online zahlen</a></p>
<p>Vergleich: 3 &lt; 5 und <u>unterstrichen <b>fett</u> offen</b></p>
<iframe src="https://boese.example.com">Rahmeninhalt</iframe>
</body></html>"""


def _mail(*, html=HTML, text=None, files=()) -> bytes:
    message = EmailMessage()
    message["From"] = "Buchhaltung Muster GmbH <rechnung@muster-gmbh.de>"
    message["To"] = "eingang@example.com"
    message["Subject"] = "Rechnung RE-2026-0042"
    message["Message-ID"] = "<re-2026-0042@muster-gmbh.de>"
    message["Date"] = "Mon, 23 Nov 2026 08:00:00 +0100"
    message.set_content(text or "Sehr geehrte Damen und Herren,\nanbei die Rechnung.\n")
    if html is not None:
        message.add_alternative(html, subtype="html")
    for name, content, maintype, subtype in files:
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()


def _pdf_text(key: str) -> str:
    with default_storage.open(key, "rb") as handle:
        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(handle.read())).pages)


def test_it_turns_the_mail_into_a_document_and_each_attachment_into_a_related_one(owner, born_digital_pdf, scanned_png):
    data = _mail(
        files=[
            ("RE-2026-0042.pdf", born_digital_pdf, "application", "pdf"),
            ("Lieferschein.png", scanned_png, "image", "png"),
        ]
    )

    mail = services.document_ingest(owner=owner, filename="Rechnung.eml", data=data)

    assert mail.mime_type == "message/rfc822"
    assert mail.title == "Rechnung RE-2026-0042"
    assert mail.source_reference == "rechnung@muster-gmbh.de"
    assert mail.storage_key.endswith(f"{mail.id}.eml")
    assert default_storage.open(mail.storage_key).read() == data  # the legal original, unchanged
    assert mail.metadata["email"]["subject"] == "Rechnung RE-2026-0042"
    text = _pdf_text(mail.rendition_key)
    assert "Von\nBuchhaltung Muster GmbH <rechnung@muster-gmbh.de>\nAn\neingang@example.com" in text
    assert "Rechnung RE-2026-0042 über 1.190,00 € & der Lieferschein." in text
    assert "• Position 1: Schrauben" in text
    assert "Online zahlen (https://zahlung.example.com/re42)" in text
    assert "3 < 5" in text
    assert "Anhänge\nRE-2026-0042.pdf, Lieferschein.png" in text
    assert "Vergleich: 3 < 5 und unterstrichen fett offen" in text
    for hostile in ("alert", "gestohlen", "color: red", "Rahmeninhalt", "tracker.example.com", "Kopf"):
        assert hostile not in text
    attachments = {
        relation.source.original_filename: relation.source
        for relation in DocumentRelation.objects.filter(
            target=mail, relation_type=DocumentRelation.RelationType.ATTACHMENT_TO
        ).select_related("source")
    }
    assert set(attachments) == {"RE-2026-0042.pdf", "Lieferschein.png"}
    assert attachments["RE-2026-0042.pdf"].mime_type == "application/pdf"
    assert attachments["RE-2026-0042.pdf"].source_reference == "rechnung@muster-gmbh.de"
    assert attachments["RE-2026-0042.pdf"].metadata["email"]["attachment_of"] == str(mail.id)
    assert [entry["filename"] for entry in mail.metadata["email"]["attachments"]] == [
        "RE-2026-0042.pdf",
        "Lieferschein.png",
    ]
    assert all(document.jobs.count() == 1 for document in [mail, *attachments.values()])


def test_it_processes_the_mail_text_from_its_pdf_and_keeps_the_mail_as_original(owner):
    mail = services.document_ingest(owner=owner, filename="Rechnung.eml", data=_mail())

    services.job_run(job_id=mail.jobs.get().id)

    mail.refresh_from_db()
    assert mail.status in (Document.Status.REVIEW, Document.Status.APPROVED), mail.status_reason
    assert mail.content_source == Document.ContentSource.TEXT_LAYER
    assert "Rechnung RE-2026-0042" in mail.pages.get(page_number=1).text
    assert mail.mime_type == "message/rfc822"


def test_it_takes_a_plain_text_mail_line_by_line(owner):
    data = _mail(html=None, text="Guten Tag,\nZeile zwei <b>kein Tag</b>\n\nGruß\nMuster GmbH\n")

    mail = services.document_ingest(owner=owner, filename="nur-text.eml", data=data)

    text = _pdf_text(mail.rendition_key)
    assert "Guten Tag,\nZeile zwei <b>kein Tag</b>" in text
    assert "Gruß\nMuster GmbH" in text


def test_it_records_a_refused_attachment_and_still_takes_the_mail(owner, born_digital_pdf):
    data = _mail(
        files=[
            ("setup.exe", b"MZ\x90\x00 programm", "application", "octet-stream"),
            ("RE.pdf", born_digital_pdf, "application", "pdf"),
        ]
    )

    mail = services.document_ingest(owner=owner, filename="mit-programm.eml", data=data)

    refused, taken = mail.metadata["email"]["attachments"]
    assert refused["filename"] == "setup.exe"
    assert refused["code"] == "unsupported_file_type"
    assert refused["error"].startswith("„setup.exe“: Dateityp wird nicht unterstützt")
    assert Document.objects.get(id=taken["document"]).original_filename == "RE.pdf"
    assert Document.objects.filter(owner=owner).count() == 2


def test_it_refuses_a_file_named_eml_that_is_no_mail_and_stores_nothing(owner, born_digital_pdf):
    with pytest.raises(ApplicationError) as raised:
        services.document_ingest(owner=owner, filename="Rechnung.eml", data=born_digital_pdf)

    assert raised.value.code == "invalid_email"
    assert raised.value.message == "„Rechnung.eml“ ist keine E-Mail-Datei: die Kopfzeilen „From“ und „Date“ fehlen."
    assert not Document.objects.exists()


def test_it_takes_a_mail_attached_to_a_mail_only_one_level_deep(owner):
    inner = _mail(html=None, text="Innen")
    outer = _mail(files=[("weitergeleitet.eml", inner, "application", "octet-stream")])

    mail = services.document_ingest(owner=owner, filename="aussen.eml", data=outer)

    [entry] = mail.metadata["email"]["attachments"]
    assert entry["code"] == "nested_email"
    assert Document.objects.count() == 1


def test_it_accepts_an_eml_upload_through_the_api(owner, born_digital_pdf):
    client = APIClient()
    client.force_authenticate(owner)
    upload = io.BytesIO(_mail(files=[("RE.pdf", born_digital_pdf, "application", "pdf")]))
    upload.name = "Rechnung.eml"

    response = client.post("/api/v1/documents/", {"file": upload}, format="multipart")

    assert response.status_code == 202, response.content
    mail = Document.objects.get(id=response.json()["id"])
    assert mail.mime_type == "message/rfc822"
    assert DocumentRelation.objects.filter(target=mail, relation_type="attachment_to").count() == 1


def test_it_keeps_only_text_and_simple_formatting_from_html():
    assert html_sanitise('<p onclick="x()">a <b>b <i>c</b> d</i></p><script>e</script>') == [
        "a <b>b <i>c</i></b><i> d</i>"
    ]
    assert html_sanitise("<div>x &lt;script&gt; &amp;</div><style>y</style>") == ["x &lt;script&gt; &amp;"]
    assert html_sanitise('<a href="javascript:alert(1)">klick</a>') == ["klick"]
    # </head> left out, an <embed> without end tag: the text after them is still there.
    assert html_sanitise("<head><title>t</title><body><embed src=x><p>Text</p>") == ["Text"]
