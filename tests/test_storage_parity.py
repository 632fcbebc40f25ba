"""The same document tests on local storage and on S3 (a moto server on loopback): upload, read
(verified against the upload's SHA-256), thumbnail and archive copy."""

from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from documents import services
from documents.models import Document
from monitoring.models import AuditLog
from system.models import SystemConfig
from tests.test_s3_storage import bucket, s3_endpoint  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


class LocalBackend:
    name = "local"

    def read(self, key: str) -> bytes:
        return (Path(settings.MEDIA_ROOT) / key).read_bytes()

    def overwrite(self, key: str, data: bytes) -> None:
        (Path(settings.MEDIA_ROOT) / key).write_bytes(data)


class S3Backend:
    name = "s3"

    def __init__(self, client, bucket_name):
        self.client, self.bucket_name = client, bucket_name

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket_name, Key=key)["Body"].read()

    def overwrite(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket_name, Key=key, Body=data)


@pytest.fixture(params=["local", "s3"])
def backend(request):
    if request.param == "local":
        return LocalBackend()
    client, bucket_name = request.getfixturevalue("bucket")
    return S3Backend(client, bucket_name)


def _upload(owner, name: str, data: bytes) -> Document:
    api = APIClient()
    api.force_authenticate(owner)
    response = api.post(reverse("api-v1:document-list"), {"file": SimpleUploadedFile(name, data)}, format="multipart")
    assert response.status_code == 202, response.content
    return Document.objects.get(id=response.json()["id"])


def test_it_stores_the_upload_under_its_partitioned_key(backend, owner, born_digital_pdf):
    document = _upload(owner, "Rechnung.pdf", born_digital_pdf)

    assert document.storage_key.startswith(f"originals/{owner.pk}/")
    assert backend.read(document.storage_key) == born_digital_pdf
    if backend.name == "s3":
        assert not (Path(settings.MEDIA_ROOT) / document.storage_key).exists()


def test_it_serves_the_original_as_a_verified_attachment(backend, owner, client, born_digital_pdf):
    document = _upload(owner, "Rechnung März.pdf", born_digital_pdf)
    client.force_login(owner)

    response = client.get(reverse("documents:original", args=[document.id]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == born_digital_pdf
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_it_refuses_an_original_changed_in_storage_and_records_it(backend, owner, client, born_digital_pdf):
    document = _upload(owner, "Rechnung.pdf", born_digital_pdf)
    backend.overwrite(document.storage_key, born_digital_pdf.replace(b"%%EOF", b"%%EOF\n% manipuliert"))
    client.force_login(owner)

    response = client.get(reverse("documents:original", args=[document.id]))

    assert response.status_code == 409
    assert (
        "Die gespeicherte Originaldatei stimmt nicht mehr mit dem Upload überein (Prüfsumme weicht ab)"
        in response.content.decode()
    )
    entry = AuditLog.objects.get(action="document.original_mismatch")
    assert entry.object_id == str(document.id)
    assert entry.changes["expected_sha256"] == document.sha256


def test_it_processes_and_serves_thumbnail_and_archive_copy(backend, owner, client, scanned_png):
    SystemConfig.objects.filter(key="ocr.searchable_pdf").update(value=True)
    document = _upload(owner, "Scan.png", scanned_png)

    services.job_run(job_id=document.jobs.get().id)

    document.refresh_from_db()
    assert document.status in (Document.Status.REVIEW, Document.Status.APPROVED), document.status_reason
    assert document.archive_key and document.thumbnails["200"]
    assert default_storage.exists(document.archive_key)
    client.force_login(owner)
    thumbnail = client.get(reverse("documents:thumbnail", args=[document.id]), {"w": "200"})
    archive = client.get(reverse("documents:archive", args=[document.id]))

    assert thumbnail.status_code == 200
    assert b"".join(thumbnail.streaming_content) == backend.read(document.thumbnails["200"])
    assert thumbnail["X-Content-Type-Options"] == "nosniff"
    assert archive.status_code == 200
    body = b"".join(archive.streaming_content)
    assert body.startswith(b"%PDF-") and body == backend.read(document.archive_key)
    assert archive["Content-Disposition"].startswith("attachment;")
