import io

import pytest
from django.core.files.storage import default_storage
from django.test import override_settings
from rest_framework.test import APIClient

from ablage.testing import bad_files
from accounts.models import APIKey, hash_api_key
from documents.models import Document, ProcessingJob
from monitoring.models import AuditLog

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

URL = "/api/v1/documents/"


@pytest.fixture
def api(owner):
    client = APIClient()
    client.force_authenticate(owner)
    return client


def _upload(api, name, data, **extra):
    return api.post(URL, {"file": _named(name, data), **extra}, format="multipart")


def _named(name, data):
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def _stored_originals():
    try:
        years, _ = default_storage.listdir("originals")
    except FileNotFoundError:
        return []
    found = []
    for year in years:
        for month in default_storage.listdir(f"originals/{year}")[0]:
            found += default_storage.listdir(f"originals/{year}/{month}")[1]
    return found


def test_it_accepts_a_pdf_and_creates_document_and_job(api, owner, born_digital_pdf):
    response = _upload(api, "Rechnung März.pdf", born_digital_pdf, priority=3)

    assert response.status_code == 202, response.content
    document = Document.objects.get(id=response.json()["id"])
    assert document.owner == owner
    assert document.status == Document.Status.QUEUED
    assert document.mime_type == "application/pdf"
    assert document.original_filename == "Rechnung März.pdf"
    assert document.priority == 3
    assert document.storage_key.endswith(f"{document.id}.pdf")
    assert default_storage.open(document.storage_key).read() == born_digital_pdf
    assert ProcessingJob.objects.filter(document=document, status="pending").count() == 1
    assert response.json()["latest_job_id"] == str(document.jobs.get().id)
    assert AuditLog.objects.filter(action="document.uploaded", object_id=str(document.id)).exists()


@pytest.mark.parametrize(
    ("name", "make", "status", "code"),
    [
        ("leer.pdf", bad_files.empty_file, 400, "empty_file"),
        ("text.pdf", bad_files.text_file_named_pdf, 415, "unsupported_file_type"),
        ("geheim.pdf", bad_files.encrypted_pdf, 400, "encrypted_pdf"),
        ("kaputt.pdf", bad_files.corrupt_pdf, 400, "corrupt_pdf"),
        ("bombe.png", bad_files.decompression_bomb_png, 400, "image_too_large"),
    ],
)
def test_it_refuses_bad_input_with_a_specific_error_and_stores_nothing(api, name, make, status, code):
    stored_before = _stored_originals()

    response = _upload(api, name, make())

    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert name in error["message"]
    assert Document.all_objects.count() == 0
    assert ProcessingJob.objects.count() == 0
    assert _stored_originals() == stored_before


def test_it_refuses_an_oversize_upload_with_413(api, born_digital_pdf):
    with override_settings(ABLAGE_MAX_UPLOAD_BYTES=len(born_digital_pdf) - 1):
        response = _upload(api, "gross.pdf", born_digital_pdf)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"
    assert Document.all_objects.count() == 0


def test_it_strips_path_traversal_from_the_filename(api, born_digital_pdf):
    response = _upload(api, bad_files.path_traversal_name(), born_digital_pdf)

    assert response.status_code == 202
    document = Document.objects.get(id=response.json()["id"])
    assert "/" not in document.original_filename and ".." not in document.original_filename
    assert document.storage_key.startswith("originals/")


def test_it_requires_authentication(born_digital_pdf):
    response = APIClient().post(URL, {"file": _named("a.pdf", born_digital_pdf)}, format="multipart")

    assert response.status_code in (401, 403)
    assert Document.all_objects.count() == 0


def test_it_authenticates_with_an_api_key(owner, born_digital_pdf):
    prefix, raw = APIKey.generate_raw_key()
    APIKey.objects.create(user=owner, name="ERP", prefix=prefix, key_hash=hash_api_key(raw), scopes=["read", "write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")

    response = client.post(URL, {"file": _named("a.pdf", born_digital_pdf)}, format="multipart")

    assert response.status_code == 202
    assert Document.objects.get().owner == owner
    assert APIKey.objects.get().last_used_at is not None


def test_it_accepts_keys_whose_secret_contains_underscores(owner):
    raw = "abl_0a1b2c3d_" + "x_y-z" * 8
    APIKey.objects.create(user=owner, name="ERP", prefix="0a1b2c3d", key_hash=hash_api_key(raw))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")

    assert client.get(URL).status_code == 200


def test_it_rejects_a_wrong_api_key(owner):
    prefix, raw = APIKey.generate_raw_key()
    APIKey.objects.create(user=owner, name="ERP", prefix=prefix, key_hash=hash_api_key(raw))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw[:-2]}xx")

    assert client.get(URL).status_code == 401


def test_it_hides_other_users_documents(api, owner, outsider, born_digital_pdf):
    document_id = _upload(api, "a.pdf", born_digital_pdf).json()["id"]
    other = APIClient()
    other.force_authenticate(outsider)

    assert other.get(f"{URL}{document_id}/").status_code == 404
    assert other.get(URL).json()["results"] == []
    assert other.post(f"{URL}{document_id}/approve/").status_code == 404
    assert len(api.get(URL).json()["results"]) == 1
