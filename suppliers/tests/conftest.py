import uuid

import pytest

from documents.models import Document, ExtractedField
from suppliers.models import Supplier

IBAN_A = "DE89370400440532013000"  # the standard example IBAN, valid check digits
IBAN_B = "DE02120300000000202051"
IBAN_C = "DE02500105170137075030"
VAT_A = "DE136695976"  # valid German check digit
VAT_B = "DE812345673"


@pytest.fixture
def editor(reviewer):
    """Reviewers maintain supplier master data."""
    return reviewer


@pytest.fixture
def acme(db):
    return Supplier.objects.create(
        name="Acme Bürobedarf GmbH", vat_id=VAT_A, city="Köln", supplier_number="K-100", industry="Bürobedarf"
    )


@pytest.fixture
def acme_copy(db):
    """The same company typed in again by someone else."""
    return Supplier.objects.create(name="ACME Buerobedarf", vat_id=VAT_A, iban=IBAN_B, email="info@acme.example")


def make_document(owner, *, supplier=None, n=None, fields=None, **extra):
    n = n if n is not None else uuid.uuid4().int % 10**12
    extra.setdefault("title", f"Rechnung {n}")
    document = Document.objects.create(
        owner=owner,
        supplier=supplier,
        original_filename=f"rechnung-{n}.pdf",
        mime_type="application/pdf",
        file_size=1024,
        sha256=f"{n:064d}",
        storage_key=f"originals/{uuid.uuid4()}.pdf",
        **extra,
    )
    for name, value in (fields or {}).items():
        ExtractedField.objects.create(document=document, name=name, value=value, normalized_value=value)
    return document
