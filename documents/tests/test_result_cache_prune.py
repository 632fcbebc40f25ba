"""The result cache forgets what no upload can use or may use: superseded versions, content that
no document holds any more (a purged document's pages must not live on), long-unused entries."""

from datetime import date, timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import override_settings
from django.utils import timezone

from documents import result_cache, retention_services
from documents.models import Document, ResultCacheEntry
from ocr.options import load_options

pytestmark = pytest.mark.django_db


def _document(owner, sha256, *, title="Rechnung", day=date(2026, 3, 1)) -> Document:
    key = default_storage.save(f"originals/prune/{title}.pdf", ContentFile(b"%PDF " + title.encode()))
    return Document.objects.create(
        owner=owner, title=title, original_filename=f"{title}.pdf", mime_type="application/pdf", file_size=5,
        sha256=sha256, storage_key=key, document_date=day,
    )  # fmt: skip


def _entry(sha256, *, version=None, last_hit_at=None, created_at=None) -> ResultCacheEntry:
    version = version or result_cache.cache_version(load_options())
    key = result_cache.cache_key(sha256, version)
    image_key = default_storage.save(f"result-cache/{key}/p1.jpg", ContentFile(b"jpeg"))
    entry = ResultCacheEntry.objects.create(
        key=key,
        sha256=sha256,
        version=version,
        pages=[{"number": 1, "image_key": image_key}],
        last_hit_at=last_hit_at,
    )
    if created_at:
        ResultCacheEntry.objects.filter(id=entry.id).update(created_at=created_at)
    return entry


def _image_key(entry) -> str:
    return entry.pages[0]["image_key"]


@override_settings(ABLAGE_RESULT_CACHE_MAX_AGE_DAYS=30)
def test_it_drops_superseded_orphaned_and_unused_entries_with_their_files(owner):
    now = timezone.now()
    for sha in ("a", "b", "c", "d"):
        _document(owner, sha * 64, title=f"Beleg {sha}")
    current = _entry("a" * 64, last_hit_at=now - timedelta(days=2))
    fresh_unhit = _entry("b" * 64)
    superseded = _entry("c" * 64, version='{"pipeline": "2020.1.1"}')
    orphaned = _entry("e" * 64)
    unused = _entry("d" * 64, last_hit_at=now - timedelta(days=31))
    stale_unhit = _entry("b" * 64, version=result_cache.cache_version(load_options().but(render_dpi=1)))

    result = result_cache.result_cache_prune(now=now)

    assert (result.superseded, result.orphaned, result.unused) == (2, 1, 1)
    kept = set(ResultCacheEntry.objects.values_list("id", flat=True))
    assert kept == {current.id, fresh_unhit.id}
    for gone in (superseded, orphaned, unused, stale_unhit):
        assert not default_storage.exists(_image_key(gone))
    assert default_storage.exists(_image_key(current))


@override_settings(ABLAGE_RESULT_CACHE_MAX_AGE_DAYS=30)
def test_it_counts_an_entry_never_hit_from_its_creation(owner):
    _document(owner, "f" * 64)
    entry = _entry("f" * 64, created_at=timezone.now() - timedelta(days=40))

    assert result_cache.result_cache_prune().unused == 1
    assert not ResultCacheEntry.objects.filter(id=entry.id).exists()


def test_it_keeps_the_reading_while_a_trashed_document_holds_the_content(owner):
    document = _document(owner, "1" * 64)
    _entry("1" * 64)
    retention_services.document_trash(document=document, user=owner, reason="Doppelt")

    assert result_cache.result_cache_prune().total == 0
    assert ResultCacheEntry.objects.count() == 1


def test_purging_the_last_holder_drops_the_cached_pages_at_once(
    owner, django_user_model, django_capture_on_commit_callbacks
):
    admin = django_user_model.objects.create_superuser("admin@example.com", "x")
    old = _document(owner, "2" * 64, title="Altbeleg 2015", day=date(2015, 6, 30))
    twin = _document(owner, "3" * 64, title="Altbeleg 2014", day=date(2014, 6, 30))
    _document(owner, "3" * 64, title="Kopie 2014", day=date(2014, 6, 30))
    alone, shared = _entry("2" * 64), _entry("3" * 64)

    with django_capture_on_commit_callbacks(execute=True):
        retention_services.document_purge(document=old, user=admin, confirmation=old.title)
        retention_services.document_purge(document=twin, user=admin, confirmation=twin.title)

    assert not ResultCacheEntry.objects.filter(id=alone.id).exists()
    assert not default_storage.exists(_image_key(alone))
    assert ResultCacheEntry.objects.filter(id=shared.id).exists(), "another document still holds that content"
