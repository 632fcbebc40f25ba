"""The same content read once: a second upload (another clerk, or after deletion) reuses the OCR and
extraction results, still gets its own document and decision, and a version change reads again."""

import pytest
from django.core.files.storage import default_storage

from documents import result_cache, services
from documents.models import Document, ResultCacheEntry
from documents.retention_services import document_trash
from ocr import pipeline

pytestmark = pytest.mark.django_db


@pytest.fixture
def recognitions(monkeypatch):
    """Every OCR backend call the pipeline makes (Tesseract really runs)."""
    calls = []
    real = pipeline._recognise

    def counting(backend, image, dpi, *, searchable_pdf):
        calls.append(backend)
        return real(backend, image, dpi, searchable_pdf=searchable_pdf)

    monkeypatch.setattr(pipeline, "_recognise", counting)
    return calls


def _process(owner, data, filename="Scan Rechnung.png") -> Document:
    document = services.document_ingest(owner=owner, filename=filename, data=data)
    job = document.jobs.get()
    services.job_run(job_id=job.id)
    document.refresh_from_db()
    return document


def _fields(document) -> dict:
    return {field.name: field.normalized_value for field in document.fields.all()}


def test_it_reuses_the_reading_for_the_same_content_from_another_clerk(owner, outsider, scanned_png, recognitions):
    first = _process(owner, scanned_png)
    assert first.status in (Document.Status.REVIEW, Document.Status.APPROVED), first.status_reason
    read_once = len(recognitions)
    assert read_once >= 1

    second = _process(outsider, scanned_png)

    assert len(recognitions) == read_once, "OCR ran again for content already read"
    assert second.id != first.id and second.owner == outsider
    assert second.status in (Document.Status.REVIEW, Document.Status.APPROVED), second.status_reason
    assert second.decision and second.decision_reason
    assert _fields(second) == _fields(first) and _fields(second)
    first_pages, second_pages = list(first.pages.order_by("page_number")), list(second.pages.order_by("page_number"))
    assert [page.words for page in second_pages] == [page.words for page in first_pages]
    assert second_pages[0].image_key != first_pages[0].image_key
    assert default_storage.exists(second_pages[0].image_key)
    completed = second.jobs.get().events.get(event_type="completed")
    assert "Lesung aus dem Ergebnis-Cache übernommen" in " ".join(completed.data["notes"])
    assert "result_cache" in second.jobs.get().timings_ms
    assert ResultCacheEntry.objects.get(sha256=first.sha256).hits == 1


def test_it_reuses_the_reading_after_the_first_document_is_gone(owner, outsider, scanned_png, recognitions):
    first = _process(owner, scanned_png)
    read_once = len(recognitions)
    document_trash(document=first, user=owner, reason="Versehentlich hochgeladen")
    # As the purge after the retention period would: the first document's files are gone.
    for key in [*first.pages.values_list("image_key", flat=True), first.storage_key, first.archive_key]:
        if key:
            default_storage.delete(key)

    again = _process(outsider, scanned_png)

    assert len(recognitions) == read_once
    assert again.pages.count() == 1 and again.pages.get().words


def test_it_reads_again_when_the_pipeline_version_or_a_reading_option_changes(
    owner, outsider, scanned_png, recognitions, monkeypatch
):
    _process(owner, scanned_png)
    read_once = len(recognitions)

    monkeypatch.setattr(result_cache, "PIPELINE_VERSION", "9999.1")
    _process(outsider, scanned_png)
    assert len(recognitions) == 2 * read_once
    assert ResultCacheEntry.objects.filter(sha256=Document.objects.filter(owner=owner).get().sha256).count() == 2


def test_the_version_names_engine_models_and_reading_options_but_not_the_thresholds():
    from ocr.options import load_options

    options = load_options()
    version = result_cache.cache_version(options)
    assert "tesseract" in version and result_cache.PIPELINE_VERSION in version
    assert result_cache.cache_version(options.but(render_dpi=options.render_dpi + 50)) != version
    assert result_cache.cache_version(options.but(languages="eng")) != version
    assert result_cache.cache_version(options.but(auto_approve_threshold=0.5)) == version


def test_a_broken_entry_is_dropped_and_the_document_read_again(owner, outsider, scanned_png, recognitions):
    _process(owner, scanned_png)
    read_once = len(recognitions)
    entry = ResultCacheEntry.objects.get()
    default_storage.delete(entry.pages[0]["image_key"])

    second = _process(outsider, scanned_png)

    assert len(recognitions) == 2 * read_once
    assert second.status in (Document.Status.REVIEW, Document.Status.APPROVED), second.status_reason
    assert ResultCacheEntry.objects.get().id != entry.id
