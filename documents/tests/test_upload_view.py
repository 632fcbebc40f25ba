"""The upload page and its JSON answers (the script's side of one-request-per-file uploads)."""

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ablage.testing import bad_files
from documents import services
from documents.models import Document

pytestmark = pytest.mark.django_db


def test_it_renders_the_upload_page_with_its_script(client, owner):
    client.force_login(owner)

    body = client.get(reverse("documents:upload")).content.decode()

    assert "data-upload" in body and 'name="files"' in body and "js/upload.js" in body
    assert "<script>" not in body  # no inline script


def test_it_answers_the_script_with_the_result_and_where_to_follow_it(client, owner):
    client.force_login(owner)

    response = client.post(
        reverse("documents:upload"),
        {"files": [SimpleUploadedFile("Rechnung.pdf", bad_files.valid_pdf())]},
        HTTP_ACCEPT="application/json",
    )

    assert response.status_code == 200
    [result] = response.json()["results"]
    document = Document.objects.get()
    assert result == {
        "name": "Rechnung.pdf",
        "status": "accepted",
        "message": "angenommen, wird verarbeitet",
        "document": {
            "id": str(document.id),
            "url": reverse("documents:review", args=[document.id]),
            "progress_url": reverse("documents:progress", args=[document.id]),
        },
    }
    progress = client.get(result["document"]["progress_url"]).json()
    assert progress == {
        "status": "queued",
        "status_display": "In Warteschlange",
        "final": False,
        "reason": "",
        "progress": "",
    }


def test_it_hides_a_foreign_documents_progress(client, owner, outsider):
    document = services.document_ingest(owner=owner, filename="a.pdf", data=bad_files.valid_pdf())
    client.force_login(outsider)

    assert client.get(reverse("documents:progress", args=[document.id])).status_code == 404


def test_it_reports_a_duplicate_as_accepted_and_linked(client, owner):
    services.document_ingest(owner=owner, filename="a.pdf", data=bad_files.valid_pdf())
    client.force_login(owner)

    response = client.post(
        reverse("documents:upload"),
        {"files": [SimpleUploadedFile("b.pdf", bad_files.valid_pdf())]},
        HTTP_ACCEPT="application/json",
    )

    [result] = response.json()["results"]
    assert result["status"] == "duplicate"
    assert result["message"].startswith("Duplikat: dieses Dokument wurde bereits am ")


def test_it_falls_back_to_a_plain_form_post_with_messages(client, owner):
    client.force_login(owner)

    response = client.post(
        reverse("documents:upload"),
        {"files": [SimpleUploadedFile("gut.pdf", bad_files.valid_pdf()), SimpleUploadedFile("leer.pdf", b"")]},
    )

    assert response.status_code == 302
    texts = [str(message) for message in get_messages(response.wsgi_request)]
    assert texts == ["„gut.pdf“: angenommen, wird verarbeitet", "„leer.pdf“ ist leer."]


def test_it_refuses_uploads_to_a_user_without_permission(client, reviewer):
    client.force_login(reviewer)

    assert client.get(reverse("documents:upload")).status_code == 403
