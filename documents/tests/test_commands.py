"""The command-line contract: ``extract`` runs the pipeline synchronously, ``ingest`` uses the upload service."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from ablage.testing import bad_files
from documents.models import Document

REPO = Path(__file__).resolve().parents[2]
CORE = [
    "invoice_number",
    "invoice_date",
    "due_date",
    "supplier_name",
    "supplier_vat_id",
    "iban",
    "net_amount",
    "vat_amount",
    "total_amount",
    "currency",
]


def _manage(*args, env_extra=None):
    import os

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ablage.settings_test", **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


def test_it_extracts_a_born_digital_and_a_scanned_invoice(tmp_path, born_digital_pdf, scanned_png, invoice_spec):
    pdf, png = tmp_path / "rechnung.pdf", tmp_path / "scan.png"
    pdf.write_bytes(born_digital_pdf)
    png.write_bytes(scanned_png)

    completed = _manage("extract", str(pdf), str(png), "--json")

    assert completed.returncode == 0, completed.stderr
    results = json.loads(completed.stdout)
    truth = invoice_spec.ground_truth()
    assert [result["source"] for result in results] == ["text_layer", "ocr"]
    for result in results:
        assert result["document_type"] == "invoice"
        assert result["pages"] == 1
        assert result["decision"] in ("auto_approve", "review")
        assert 0 <= result["overall_confidence"] <= 1
        assert {"preflight", "extraction"} <= set(result["timings_ms"])
        for check in result["validation"]:
            assert set(check) == {"rule", "ok", "message"}
        for name in CORE:
            assert result["fields"][name]["value"] == truth[name], (result["source"], name)
        total = result["fields"]["total_amount"]
        assert total["page"] == 1 and len(total["bbox"]) == 4 and 0 < total["confidence"] <= 1
    assert results[0]["ocr_backend"] == "pdf_text" and results[1]["ocr_backend"] == "tesseract"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (bad_files.encrypted_pdf, "passwortgeschützt"),
        (bad_files.corrupt_pdf, "beschädigt"),
        (bad_files.text_file_named_pdf, "nicht unterstützt"),
        (bad_files.empty_file, "leer"),
    ],
)
def test_it_exits_non_zero_with_a_clear_message_on_bad_input(tmp_path, make, reason):
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(make())

    completed = _manage("extract", str(bad), "--json")

    assert completed.returncode != 0
    assert completed.stdout == ""
    assert reason in completed.stderr and "Traceback" not in completed.stderr


@pytest.mark.e2e
@pytest.mark.embedded
def test_it_ingests_a_folder_and_waits_for_the_worker(
    celery_worker, django_user_model, tmp_path, born_digital_pdf, invoice_spec
):
    django_user_model.objects.create_superuser("admin@example.com", "Passwort-12345")
    folder = tmp_path / "eingang" / "2026"
    folder.mkdir(parents=True)
    (folder / "rechnung.pdf").write_bytes(born_digital_pdf)
    (folder / "kaputt.pdf").write_bytes(bad_files.corrupt_pdf())

    completed = _manage(
        "ingest",
        str(tmp_path / "eingang"),
        "--wait",
        "--timeout",
        "120",
        env_extra={
            "ABLAGE_TEST_DB_NAME": str(settings.DATABASES["default"]["NAME"]),
            "ABLAGE_DATA_DIR": str(settings.DATA_DIR),
        },
    )

    assert completed.returncode != 0  # one file was refused ...
    assert "kaputt.pdf" in completed.stderr and "beschädigt" in completed.stderr
    results = json.loads(completed.stdout)  # ... and the good one was processed and reported
    assert len(results) == 1
    assert results[0]["status"] in ("review", "approved")
    assert results[0]["fields"]["total_amount"]["value"] == invoice_spec.ground_truth()["total_amount"]
    document = Document.objects.get()
    assert document.source == Document.Source.CLI and document.source_reference.endswith("rechnung.pdf")
