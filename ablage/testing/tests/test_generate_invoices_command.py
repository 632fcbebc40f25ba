import io
import json
from decimal import Decimal

import pypdfium2 as pdfium
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from ablage.testing.german import format_amount


def _run(*args) -> str:
    out = io.StringIO()
    call_command("generate_invoices", *args, stdout=out)
    return out.getvalue()


def test_it_writes_pdfs_ground_truth_and_a_manifest(tmp_path):
    output = _run(str(tmp_path), "--count", "3", "--seed", "5", "--document-types", "invoice,credit_note")

    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert "3 Dateien" in output
    assert [entry["layout"] for entry in manifest["documents"]] == ["A", "B", "C"]
    assert [entry["document_type"] for entry in manifest["documents"]] == ["invoice", "credit_note", "invoice"]
    for entry in manifest["documents"]:
        pdf = (tmp_path / entry["file"]).read_bytes()
        truth = json.loads((tmp_path / entry["ground_truth_file"]).read_text(encoding="utf-8"))["ground_truth"]
        document = pdfium.PdfDocument(pdf)
        text = document[0].get_textpage().get_text_bounded()
        document.close()
        assert truth["invoice_number"] == entry["invoice_number"]
        assert truth["invoice_number"] in text
        assert format_amount(Decimal(truth["total_amount"])) in text


def test_it_writes_the_same_files_for_the_same_seed(tmp_path):
    _run(str(tmp_path / "one"), "--count", "2", "--seed", "9")
    _run(str(tmp_path / "two"), "--count", "2", "--seed", "9")

    for name in ("invoice_0001_A.pdf", "invoice_0002_B.json", "manifest.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_it_writes_scans_in_every_requested_format(tmp_path):
    _run(str(tmp_path), "--count", "1", "--scanned", "--formats", "png,tiff,pdf", "--layouts", "C", "--dpi", "72")

    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    files = sorted(entry["file"] for entry in manifest["documents"])
    assert files == ["invoice_0001_C_scan.pdf", "invoice_0001_C_scan.png", "invoice_0001_C_scan.tif"]
    assert Image.open(tmp_path / "invoice_0001_C_scan.png").size == (595, 842)
    assert (tmp_path / "invoice_0001_C_scan.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--formats", "png"], "nur mit --scanned"),
        (["--layouts", "A,X"], "Layouts: X"),
        (["--formats", "gif", "--scanned"], "Formate: gif"),
        (["--count", "0"], "--count"),
    ],
)
def test_it_refuses_bad_options_with_a_clear_message(tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        _run(str(tmp_path), *args)
