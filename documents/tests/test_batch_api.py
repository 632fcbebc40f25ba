"""Batch upload (``POST /api/v1/documents/batch/``), tags on the single upload, and the API schema."""

import io

import pytest
from django.core.files.storage import default_storage
from django.test import override_settings
from rest_framework.test import APIClient

from ablage.testing import bad_files
from documents.models import Document, ProcessingJob, Tag

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

URL = "/api/v1/documents/"
BATCH_URL = "/api/v1/documents/batch/"


@pytest.fixture(autouse=True)
def storage(tmp_path, settings):
    """A storage of the test's own: counting stored originals must not see other tests' files."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path}},
    }


@pytest.fixture
def api(owner):
    client = APIClient()
    client.force_authenticate(owner)
    return client


def _named(name, data):
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def _batch(api, files, **extra):
    return api.post(BATCH_URL, {"files": [_named(name, data) for name, data in files], **extra}, format="multipart")


def _stored_originals(folder="originals"):
    try:
        folders, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return []
    return files + [found for sub in folders for found in _stored_originals(f"{folder}/{sub}")]


def test_it_accepts_every_file_of_a_batch_and_answers_202_in_order(api, owner, born_digital_pdf):
    pdf = bad_files.valid_pdf()

    response = _batch(api, [("Rechnung A.pdf", born_digital_pdf), ("Rechnung B.pdf", pdf)], priority=2)

    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 0)
    assert [result["filename"] for result in body["results"]] == ["Rechnung A.pdf", "Rechnung B.pdf"]
    for result, data in zip(body["results"], [born_digital_pdf, pdf], strict=True):
        assert result["status"] == "accepted" and result["error"] is None
        document = Document.objects.get(id=result["document"]["id"])
        assert document.owner == owner
        assert document.source == Document.Source.API
        assert document.priority == 2
        assert document.title == result["filename"].removesuffix(".pdf")
        assert default_storage.open(document.storage_key).read() == data
        assert result["document"]["latest_job_id"] == str(document.jobs.get().id)


def test_it_keeps_the_good_files_and_reports_each_refusal_with_207(api, born_digital_pdf):
    files = [
        ("gut.pdf", born_digital_pdf),
        ("leer.pdf", bad_files.empty_file()),
        ("text.pdf", bad_files.text_file_named_pdf()),
        ("geheim.pdf", bad_files.encrypted_pdf()),
        ("auch-gut.pdf", bad_files.valid_pdf()),
    ]

    response = _batch(api, files)

    assert response.status_code == 207, response.content
    results = response.json()["results"]
    assert [result["status"] for result in results] == ["accepted", "rejected", "rejected", "rejected", "accepted"]
    assert [result["error"]["code"] for result in results[1:4]] == [
        "empty_file",
        "unsupported_file_type",
        "encrypted_pdf",
    ]
    for result, (name, _) in zip(results[1:4], files[1:4], strict=True):
        assert result["document"] is None
        assert name in result["error"]["message"]
    assert {document.original_filename for document in Document.objects.all()} == {"gut.pdf", "auch-gut.pdf"}
    assert ProcessingJob.objects.count() == 2
    assert len(_stored_originals()) == 2


def test_it_refuses_an_oversize_file_of_a_batch_without_stopping_the_others(api, born_digital_pdf):
    small = bad_files.valid_pdf()
    with override_settings(ABLAGE_MAX_UPLOAD_BYTES=len(small)):
        response = _batch(api, [("gross.pdf", born_digital_pdf), ("klein.pdf", small)])

    assert response.status_code == 207, response.content
    big, fine = response.json()["results"]
    assert big["error"]["code"] == "file_too_large" and "gross.pdf" in big["error"]["message"]
    assert fine["status"] == "accepted"


def test_it_answers_400_with_every_result_when_no_file_is_accepted(api):
    response = _batch(api, [("leer.pdf", bad_files.empty_file()), ("kaputt.pdf", bad_files.corrupt_pdf())])

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"]["code"] == "all_files_rejected"
    assert [result["error"]["code"] for result in body["results"]] == ["empty_file", "corrupt_pdf"]
    assert Document.all_objects.count() == 0
    assert _stored_originals() == []


@pytest.mark.parametrize("count", [51, 101])
def test_it_refuses_more_than_50_files_and_creates_nothing(api, count):
    # 101 is past Django's own DATA_UPLOAD_MAX_NUMBER_FILES: refused the same way.
    pdf = bad_files.valid_pdf()

    response = _batch(api, [(f"r{number}.pdf", pdf) for number in range(count)])

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "too_many_files"
    assert "50" in error["message"]
    assert Document.all_objects.count() == 0
    assert _stored_originals() == []


def test_it_refuses_a_batch_without_files(api):
    response = api.post(BATCH_URL, {"priority": "3"}, format="multipart")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "no_files"


def test_it_refuses_a_batch_from_a_user_without_upload_permission(reviewer):
    client = APIClient()
    client.force_authenticate(reviewer)

    response = _batch(client, [("a.pdf", bad_files.valid_pdf())])

    assert response.status_code == 403
    assert Document.all_objects.count() == 0


def test_it_tags_every_file_of_a_batch(api):
    pdf = bad_files.valid_pdf()

    response = _batch(api, [("a.pdf", pdf), ("b.pdf", pdf)], tags="Reise, 2026")

    assert response.status_code == 202
    for document in Document.objects.all():
        assert sorted(tag.name for tag in document.tags.all()) == ["2026", "Reise"]


def test_it_tags_an_upload_and_creates_missing_tags(api):
    Tag.objects.create(name="Steuer")

    response = api.post(
        URL, {"file": _named("a.pdf", bad_files.valid_pdf()), "tags": "steuer, Reise ,, reise"}, format="multipart"
    )

    assert response.status_code == 202, response.content
    document = Document.objects.get(id=response.json()["id"])
    assert sorted(tag.name for tag in document.tags.all()) == ["Reise", "Steuer"]
    assert Tag.objects.count() == 2


def test_it_creates_no_tag_for_a_refused_upload(api):
    response = api.post(URL, {"file": _named("leer.pdf", b""), "tags": "Neu"}, format="multipart")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "empty_file"
    assert not Tag.objects.exists()


def test_it_refuses_an_overlong_tag_name(api):
    response = api.post(URL, {"file": _named("a.pdf", bad_files.valid_pdf()), "tags": "x" * 101}, format="multipart")

    assert response.status_code == 400
    assert "zu lang" in response.json()["error"]["fields"]["tags"][0]
    assert Document.all_objects.count() == 0


def test_it_still_generates_the_api_schema(api):
    response = api.get("/api/v1/schema/")

    assert response.status_code == 200
    schema = response.content.decode()
    assert "/api/v1/documents/batch/" in schema
    assert "callback_url" in schema  # stored at upload; delivered by the notifications app
