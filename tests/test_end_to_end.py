"""Upload through the API, process in a real Celery worker process, read the result back."""

import io

import pytest
from rest_framework.test import APIClient

from documents.models import Document, ProcessingJob
from tests.helpers import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.embedded]


def _named(name, data):
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def test_it_processes_uploads_in_a_real_worker(celery_worker, owner, born_digital_pdf, scanned_png, invoice_spec):
    api = APIClient()
    api.force_authenticate(owner)
    ids = []
    for name, data in (("rechnung.pdf", born_digital_pdf), ("scan.png", scanned_png)):
        response = api.post("/api/v1/documents/", {"file": _named(name, data)}, format="multipart")
        assert response.status_code == 202, response.content
        ids.append(response.json()["id"])

    def settled():
        documents = list(Document.objects.filter(id__in=ids))
        done = all(d.status in ("review", "approved", "rejected", "dead") for d in documents)
        return documents if done else None

    documents = wait_for(settled, timeout=180, message="both documents to be processed")

    truth = invoice_spec.ground_truth()
    for document in documents:
        assert document.status in ("review", "approved"), document.status_reason
        detail = api.get(f"/api/v1/documents/{document.id}/").json()
        values = {field["name"]: field["normalized_value"] for field in detail["fields"]}
        assert values["invoice_number"] == truth["invoice_number"]
        assert values["total_amount"] == truth["total_amount"]
        assert detail["decision"] in ("auto_approve", "review")
    assert {d.content_source for d in documents} == {"text_layer", "ocr"}
    assert ProcessingJob.objects.filter(document_id__in=ids, status="completed", attempts=1).count() == 2
