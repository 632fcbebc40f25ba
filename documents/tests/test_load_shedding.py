"""Load shedding: past ``ingest.max_queued_documents`` every upload door answers 503 with a
Retry-After and stores nothing; reads are never shed; the pollers leave files where they are."""

from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from ablage.testing import bad_uploads
from documents import services
from documents.consume import FolderConsumer
from documents.models import Document, ProcessingJob
from documents.tasks import poll_mail_accounts
from monitoring.metrics import metrics_text
from system.services import config_set

pytestmark = pytest.mark.django_db

BUSY = "Ablage ist gerade ausgelastet: 2 Dokumente warten auf Verarbeitung. Bitte in {} Sekunden erneut versuchen."


def _stored_files() -> set[Path]:
    root = Path(settings.MEDIA_ROOT)
    return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()


@pytest.fixture
def full_pipeline(owner):
    """Two documents waiting, a limit of two: the next upload is one too many."""
    config_set(key="ingest.max_queued_documents", value=2, user=None)
    config_set(key="ingest.uploads_per_minute", value=0, user=None)
    waiting = [
        services.document_ingest(owner=owner, filename=f"wartet-{n}.pdf", data=bad_uploads.pdf_with_pages(n + 1))
        for n in range(2)
    ]
    assert {document.status for document in waiting} == {Document.Status.QUEUED}
    return waiting


def _shed_count(entry: str) -> float:
    for line in metrics_text().decode().splitlines():
        if line.startswith(f'ablage_uploads_shed_total{{entry="{entry}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_it_refuses_api_uploads_with_503_and_retry_after_and_stores_nothing(full_pipeline, owner):
    api = APIClient()
    api.force_authenticate(owner)
    before, shed_before = _stored_files(), _shed_count("api")

    refused = api.post(
        reverse("api-v1:document-list"),
        {"file": SimpleUploadedFile("neu.pdf", bad_uploads.pdf_with_pages(3))},
        format="multipart",
    )
    batch = api.post(
        reverse("api-v1:document-batch"),
        {"files": [SimpleUploadedFile("a.pdf", bad_uploads.pdf_with_pages(4))]},
        format="multipart",
    )

    assert refused.status_code == 503 and batch.status_code == 503
    assert refused.json()["error"]["code"] == "busy"
    assert refused.json()["error"]["message"] == BUSY.format(refused["Retry-After"])
    assert int(refused["Retry-After"]) == 60  # no job finished lately: no throughput to estimate from
    assert "Retry-After" in batch
    assert Document.objects.count() == 2 and ProcessingJob.objects.count() == 2
    assert _stored_files() == before
    assert _shed_count("api") == shed_before + 1
    # Reading is never shed.
    assert api.get(reverse("api-v1:document-list")).status_code == 200


def test_it_accepts_again_once_the_queue_has_room(full_pipeline, owner):
    api = APIClient()
    api.force_authenticate(owner)
    Document.objects.filter(id=full_pipeline[0].id).update(status=Document.Status.REVIEW)

    accepted = api.post(
        reverse("api-v1:document-list"),
        {"file": SimpleUploadedFile("neu.pdf", bad_uploads.pdf_with_pages(3))},
        format="multipart",
    )

    assert accepted.status_code == 202


def test_it_estimates_retry_after_from_recent_throughput(full_pipeline):
    # 30 jobs finished in the last five minutes: one every 10 s; one document over the limit.
    document = full_pipeline[0]
    ProcessingJob.objects.bulk_create(
        ProcessingJob(document=document, status=ProcessingJob.Status.COMPLETED, finished_at=timezone.now())
        for _ in range(30)
    )
    with pytest.raises(services.ApplicationError) as refusal:
        services.intake_capacity_check(files=3)

    assert refusal.value.status_code == 503
    assert refusal.value.extra["retry_after"] == 30  # 3 over the limit at 0.1 documents/s


def test_it_shows_the_reason_in_the_browser_upload(full_pipeline, owner, client):
    client.force_login(owner)

    response = client.post(
        reverse("documents:upload"),
        {"files": [SimpleUploadedFile("neu.pdf", bad_uploads.pdf_with_pages(3))]},
        HTTP_ACCEPT="application/json",
    )

    assert response.status_code == 503 and "Retry-After" in response
    [result] = response.json()["results"]
    assert result["status"] == "rejected" and result["message"].startswith("Ablage ist gerade ausgelastet")


@pytest.mark.embedded
def test_the_watched_folder_leaves_files_in_place_until_there_is_room(full_pipeline, owner, tmp_path):
    folder = tmp_path / "eingang"
    folder.mkdir()
    (folder / "scan.pdf").write_bytes(bad_uploads.pdf_with_pages(5))
    consumer = FolderConsumer(folder=folder, owner=owner)
    consumer.poll()  # first look

    assert consumer.poll() == []
    assert (folder / "scan.pdf").exists() and Document.objects.count() == 2

    Document.objects.filter(id=full_pipeline[0].id).update(status=Document.Status.REVIEW)
    [consumed] = consumer.poll()
    assert consumed.document.original_filename == "scan.pdf"


def test_mailboxes_are_not_polled_while_the_pipeline_is_full(full_pipeline, owner, monkeypatch):
    from documents import tasks
    from documents.models import MailAccount

    sent = []
    monkeypatch.setattr(tasks.poll_mail_account, "delay", sent.append)

    MailAccount.objects.create(
        name="Eingang", host="127.0.0.1", port=1, username="x", imap_password="y", owner=owner, active=True
    )

    assert poll_mail_accounts() == 0 and sent == []
    config_set(key="ingest.max_queued_documents", value=0, user=None)  # 0: no limit
    assert poll_mail_accounts() == 1 and len(sent) == 1


def test_it_sheds_nothing_when_off(owner):
    config_set(key="ingest.max_queued_documents", value=0, user=None)
    services.document_ingest(owner=owner, filename="wartet.pdf", data=bad_uploads.pdf_with_pages(1))

    services.intake_capacity_check(files=1000)
    assert services.intake_has_room()
