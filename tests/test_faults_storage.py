"""Storage faults (issue 13, scenarios 7 and 8): the document store unreachable, the work directory full.

The store is a moto S3 server on loopback behind a relay the test switches off and on
(``tests.processes.TcpSwitch``): moto keeps its buckets in memory, so the server itself must
live through the outage. The full work directory is a real tmpfs of a few hundred kilobytes;
where this machine does not allow mounting one, those tests skip and say so.

Quick ones run in the default suite; the real-worker scenarios are marked ``faults``.
"""

import contextlib
import errno
import subprocess
import tempfile
import uuid
from pathlib import Path

import boto3
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from moto.server import ThreadedMotoServer

from ablage.env import s3_client_config
from ablage.outages import DISK_FULL, UNREACHABLE, outage_of
from documents import services
from documents.models import Document, JobEvent, ProcessingJob
from ocr.errors import TransientOCRError, WorkDirectoryFull
from tests.helpers import wait_for
from tests.ledger import Ledger
from tests.processes import TcpSwitch

REGION = "eu-central-1"
KEYS = {"AWS_ACCESS_KEY_ID": "ablage-test", "AWS_SECRET_ACCESS_KEY": "ablage-test-secret"}
# Fail fast while the relay is off: one attempt, short waits (production: AWS_S3_* defaults).
QUICK_S3 = {"AWS_S3_CONNECT_TIMEOUT": "2", "AWS_S3_READ_TIMEOUT": "10", "AWS_S3_MAX_ATTEMPTS": "1"}


# --- the store ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_port():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    yield server.get_host_and_port()[1]
    server.stop()


@pytest.fixture
def store(moto_port, monkeypatch):
    """A fresh bucket behind a switchable relay, and this process's default storage pointing at it.

    Yields ``(switch, environment)``: the environment gives a worker process the same storage.
    """
    for name in ("AWS_PROFILE", "AWS_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in QUICK_S3.items():
        monkeypatch.setenv(name, value)
    switch = TcpSwitch(moto_port)
    switch.on()
    bucket = f"ablage-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=f"http://127.0.0.1:{moto_port}", region_name=REGION, **_boto_keys()).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    environment = {
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "S3_ENDPOINT_URL": switch.url,
        "AWS_S3_REGION_NAME": REGION,
        **KEYS,
        **QUICK_S3,
    }
    options = {
        "bucket_name": bucket,
        "endpoint_url": switch.url,
        "region_name": REGION,
        "access_key": KEYS["AWS_ACCESS_KEY_ID"],
        "secret_key": KEYS["AWS_SECRET_ACCESS_KEY"],
        "default_acl": None,
        "file_overwrite": False,
        "querystring_auth": True,
        "client_config": s3_client_config(),
    }
    storages = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}}
    with override_settings(STORAGES=storages):
        yield switch, environment
    switch.off()


def _boto_keys() -> dict:
    return {"aws_access_key_id": KEYS["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": KEYS["AWS_SECRET_ACCESS_KEY"]}


def _objects(moto_port: int, bucket: str) -> list[str]:
    """The bucket's keys, asked of moto directly (past the relay)."""
    client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{moto_port}", region_name=REGION, **_boto_keys())
    return [item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


# --- the work directory -------------------------------------------------------------------------


@contextlib.contextmanager
def _small_tmpfs(size: str):
    """A tmpfs of ``size`` mounted for the test; skips where mounting is not permitted."""
    folder = tempfile.mkdtemp(prefix="ablage-workdir-")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", folder], capture_output=True)
    if mounted.returncode != 0:
        Path(folder).rmdir()
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {mounted.stderr.decode().strip()}")
    try:
        yield Path(folder)
    finally:
        subprocess.run(["umount", "-l", folder], check=False)
        Path(folder).rmdir()


def _fill(folder: Path) -> Path:
    """Take every free byte of ``folder``'s file system with one file; returns it (delete it to make room)."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as handle:  # unbuffered: the write that fails is this one
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


def _leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name != "filler")


# --- classification -----------------------------------------------------------------------------


def test_it_tells_passing_outages_from_lasting_errors():
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

    def client_error(code, status):
        return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")

    def wrapped(cause):
        try:
            raise S3UploadFailedError("Failed to upload") from cause
        except S3UploadFailedError as exc:
            return exc

    assert outage_of(EndpointConnectionError(endpoint_url="http://127.0.0.1:1")) == UNREACHABLE
    assert outage_of(ReadTimeoutError(endpoint_url="http://127.0.0.1:1")) == UNREACHABLE
    assert outage_of(wrapped(client_error("SlowDown", 503))) == UNREACHABLE
    assert outage_of(OSError(errno.ENOSPC, "No space left on device")) == DISK_FULL
    assert outage_of(OSError(errno.EDQUOT, "Disk quota exceeded")) == DISK_FULL
    # The document's own trouble, or ours: no retry would help.
    assert outage_of(client_error("AccessDenied", 403)) is None
    assert outage_of(FileNotFoundError(errno.ENOENT, "gone")) is None
    assert outage_of(ValueError("bad")) is None


# --- scenario 7: the store down during upload ---------------------------------------------------


@pytest.mark.django_db
def test_it_refuses_uploads_with_503_and_keeps_nothing_while_the_store_is_down(
    store, moto_port, owner, client, born_digital_pdf
):
    switch, environment = store
    client.force_login(owner)
    switch.off()

    api = client.post("/api/v1/documents/", {"file": SimpleUploadedFile("Rechnung.pdf", born_digital_pdf)})
    browser = client.post(
        reverse("documents:upload"),
        {"files": SimpleUploadedFile("Rechnung.pdf", born_digital_pdf)},
        headers={"accept": "application/json"},
    )

    assert api.status_code == 503, api.content
    assert api.json()["error"]["code"] == "storage_unavailable"
    assert "Dokumentenspeicher ist gerade nicht erreichbar" in api.json()["error"]["message"]
    assert int(api["Retry-After"]) == settings.ABLAGE_STORAGE_RETRY_AFTER_SECONDS
    assert browser.status_code == 503, browser.content
    [result] = browser.json()["results"]
    assert result["status"] == "rejected" and "nicht erreichbar" in result["message"]
    assert browser["Retry-After"]
    assert not Document.all_objects.exists() and not ProcessingJob.objects.exists()
    assert _objects(moto_port, environment["AWS_STORAGE_BUCKET_NAME"]) == []

    switch.on()
    again = client.post("/api/v1/documents/", {"file": SimpleUploadedFile("Rechnung.pdf", born_digital_pdf)})
    assert again.status_code == 202, again.content
    document = Document.objects.get()
    assert _objects(moto_port, environment["AWS_STORAGE_BUCKET_NAME"]) == [document.storage_key]


@pytest.mark.django_db
def test_it_removes_a_partly_written_original_when_the_media_disk_fills(
    owner, client, born_digital_pdf, monkeypatch, settings
):
    from django.core.files.storage import FileSystemStorage

    written = []

    def save_half_then_fail(storage, name, content):
        path = Path(storage.path(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.read()[:100])  # what a write cut short by ENOSPC leaves behind
        written.append(path)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(FileSystemStorage, "_save", save_half_then_fail)
    client.force_login(owner)

    response = client.post("/api/v1/documents/", {"file": SimpleUploadedFile("Rechnung.pdf", born_digital_pdf)})

    assert response.status_code == 503, response.content
    assert "Speicherplatz ist erschöpft" in response.json()["error"]["message"]
    assert response["Retry-After"]
    assert written and not written[0].exists()
    assert not Document.all_objects.exists()


# --- scenario 8: the work directory full (in process) -------------------------------------------


def test_it_reports_tesseract_output_cut_by_a_full_work_directory(settings):
    """Tesseract exits 0 on a full disk and leaves empty files: that must not read as a blank page."""
    import numpy as np

    from ocr.tesseract import recognise_page

    page = np.full((200, 600), 255, dtype=np.uint8)
    page[80:120, 50:550] = 0
    with _small_tmpfs("256k") as folder:
        settings.ABLAGE_WORK_DIR = str(folder)
        filler = _fill(folder)
        with pytest.raises(WorkDirectoryFull, match="Arbeitsverzeichnis ist voll"):
            recognise_page(page, dpi=150, searchable_pdf=True)
        assert _leftovers(folder) == []
        filler.unlink()
        recognise_page(page, dpi=150, searchable_pdf=True)  # room again: it reads
        assert _leftovers(folder) == []


@pytest.mark.django_db
def test_it_retries_a_job_whose_work_directory_is_full_and_never_marks_it_processed(
    owner, scanned_png, settings, tmp_path, monkeypatch
):
    from ocr.spool import PageSpool

    settings.ABLAGE_WORK_DIR = str(tmp_path)

    def no_space(spool, name, image):
        image.close()
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / name))

    monkeypatch.setattr(PageSpool, "put_image", no_space)
    document = services.document_ingest(owner=owner, filename="scan.png", data=scanned_png)
    job = document.jobs.get()

    with pytest.raises(TransientOCRError, match="Speicherplatz ist erschöpft"):
        services.job_run(job_id=job.id)

    job.refresh_from_db()
    document.refresh_from_db()
    assert job.status == ProcessingJob.Status.PENDING and job.attempts == 1
    assert document.status == Document.Status.QUEUED
    assert JobEvent.objects.filter(job=job, event_type="retry", message__contains="Speicherplatz").exists()
    assert list(tmp_path.iterdir()) == []  # Tesseract's folders went with the failed attempt

    ProcessingJob.objects.filter(id=job.id).update(attempts=job.max_attempts - 1)
    services.job_run(job_id=job.id)  # the last attempt: the job ends, and says why

    document.refresh_from_db()
    assert document.status == Document.Status.DEAD
    assert "Speicherplatz ist erschöpft" in document.status_reason
    assert not document.pages.exists() and not document.ocr_results.exists()
    assert list(tmp_path.iterdir()) == []


# --- real workers (make test-faults) ------------------------------------------------------------


def _upload(client, ledger: Ledger, filename: str, data: bytes) -> Document:
    response = client.post("/api/v1/documents/", {"file": SimpleUploadedFile(filename, data)})
    assert response.status_code == 202, (response.status_code, response.content[:500])
    document = Document.objects.get(id=response.json()["id"])
    ledger.accept(document, data)
    return document


def _retried(document: Document) -> bool:
    return JobEvent.objects.filter(job__document=document, event_type="retry").exists()


@pytest.mark.faults
@pytest.mark.e2e
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_retries_processing_while_the_store_is_down_and_completes_once_it_is_back(
    store, owner, client, workers, born_digital_pdf, scanned_png
):
    switch, environment = store
    client.force_login(owner)
    ledger = Ledger(owner)
    documents = [
        _upload(client, ledger, "Rechnung.pdf", born_digital_pdf),
        _upload(client, ledger, "scan.png", scanned_png),
    ]
    switch.off()  # before any worker reads an original
    worker = workers(env=environment)
    wait_for(lambda: all(_retried(document) for document in documents), timeout=120, message="a retry of each job")
    assert all(document.status == Document.Status.QUEUED for document in ledger.documents())
    switch.on()

    ledger.wait_drained(timeout=240)
    problems = ledger.problems()
    assert not problems, "\n".join(problems) + f"\n--- worker log ---\n{worker.log_tail()}"
    for document in ledger.documents():
        job = document.jobs.get()
        assert document.status in (Document.Status.REVIEW, Document.Status.APPROVED), document.status_reason
        assert job.status == ProcessingJob.Status.COMPLETED and job.attempts >= 2
        assert "Dokumentenspeicher" in JobEvent.objects.filter(job=job, event_type="retry").first().message


@pytest.mark.faults
@pytest.mark.e2e
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_retries_ocr_while_the_work_directory_is_full_and_leaves_it_clean(owner, client, workers, scanned_png):
    client.force_login(owner)
    ledger = Ledger(owner)
    # Room for the page spool and the page Tesseract reads (a PGM of the whole page) once freed.
    with _small_tmpfs("64m") as folder:
        filler = _fill(folder)
        worker = workers(env={"ABLAGE_WORK_DIR": str(folder)})
        document = _upload(client, ledger, "scan.png", scanned_png)
        wait_for(lambda: _retried(document), timeout=120, message="the OCR job's retry")
        assert Document.objects.get(id=document.id).status == Document.Status.QUEUED
        filler.unlink()

        ledger.wait_drained(timeout=240)
        problems = ledger.problems()
        assert not problems, "\n".join(problems) + f"\n--- worker log ---\n{worker.log_tail()}"
        document.refresh_from_db()
        job = document.jobs.get()
        assert document.status in (Document.Status.REVIEW, Document.Status.APPROVED), document.status_reason
        assert job.attempts >= 2
        assert "Arbeitsverzeichnis ist voll" in JobEvent.objects.filter(job=job, event_type="retry").first().message
        assert all(page.text.strip() for page in document.pages.all())
        assert _leftovers(folder) == []
