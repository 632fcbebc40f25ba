"""Duplicate detection at ingest: per owner, configurable, and decided by the database in a race."""

import pytest
from django.utils import timezone

from ablage.errors import ApplicationError
from ablage.testing import bad_files
from documents import ingest
from documents.models import Document, DocumentFingerprint, DocumentRelation
from system.services import config_set

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def test_it_accepts_the_same_bytes_again_as_a_linked_duplicate(owner):
    first = ingest.document_ingest(owner=owner, filename="a.pdf", data=bad_files.valid_pdf())

    second = ingest.document_ingest(owner=owner, filename="b.pdf", data=bad_files.valid_pdf())

    assert (first.is_duplicate, second.is_duplicate) == (False, True)
    relation = DocumentRelation.objects.get()
    assert (relation.source, relation.target, relation.relation_type) == (second, first, "duplicate_of")
    assert DocumentFingerprint.objects.get().document == first


def test_it_judges_duplicates_per_owner(owner, outsider):
    ingest.document_ingest(owner=owner, filename="a.pdf", data=bad_files.valid_pdf())

    theirs = ingest.document_ingest(owner=outsider, filename="a.pdf", data=bad_files.valid_pdf())

    assert not theirs.is_duplicate


@pytest.mark.parametrize("mode", ["link", "reject"])
def test_it_lets_the_database_decide_a_race_between_two_uploads(owner, monkeypatch, mode):
    config_set(key="ingest.duplicates", value=mode, user=None)
    first = ingest.document_ingest(owner=owner, filename="a.pdf", data=bad_files.valid_pdf())
    # The second upload looked before the first one committed: it saw no original.
    looks = iter([None])
    real = ingest._original_of
    monkeypatch.setattr(ingest, "_original_of", lambda owner, sha256: next(looks, real(owner, sha256)))

    if mode == "reject":
        with pytest.raises(ApplicationError) as refusal:
            ingest.document_ingest(owner=owner, filename="b.pdf", data=bad_files.valid_pdf())
        assert refusal.value.code == "duplicate" and refusal.value.status_code == 409
        assert list(Document.objects.all()) == [first]
    else:
        second = ingest.document_ingest(owner=owner, filename="b.pdf", data=bad_files.valid_pdf())
        assert second.is_duplicate
        assert DocumentRelation.objects.get(source=second).target == first


def test_it_takes_the_bytes_as_new_once_the_original_is_deleted(owner):
    config_set(key="ingest.duplicates", value="reject", user=None)
    first = ingest.document_ingest(owner=owner, filename="a.pdf", data=bad_files.valid_pdf())
    Document.objects.filter(id=first.id).update(deleted_at=timezone.now())

    again = ingest.document_ingest(owner=owner, filename="a.pdf", data=bad_files.valid_pdf())

    assert not again.is_duplicate
    assert DocumentFingerprint.objects.get().document == again
