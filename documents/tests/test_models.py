import pytest
from django.db import IntegrityError

from documents.models import Document


@pytest.mark.django_db
def test_it_refuses_a_rejected_document_without_a_reason(django_user_model):
    owner = django_user_model.objects.create_user("a@example.com", "pw-123456789")
    with pytest.raises(IntegrityError):
        Document.objects.create(
            owner=owner,
            title="x",
            original_filename="x.pdf",
            mime_type="application/pdf",
            file_size=10,
            sha256="0" * 64,
            storage_key="originals/x",
            status=Document.Status.REJECTED,
        )
