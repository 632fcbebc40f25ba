import io

import pypdfium2 as pdfium
import pytest
from PIL import Image
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from ablage.testing import bad_files


def test_it_makes_a_pdf_that_needs_the_password():
    content = bad_files.encrypted_pdf()
    reader = PdfReader(io.BytesIO(content))

    assert content.startswith(b"%PDF-")
    assert reader.is_encrypted
    with pytest.raises(pdfium.PdfiumError, match="password"):
        pdfium.PdfDocument(content)
    assert reader.decrypt(bad_files.ENCRYPTED_PDF_PASSWORD)
    assert "RE-2026-00001" in reader.pages[0].extract_text()


def test_it_makes_a_corrupt_pdf_with_a_valid_header():
    content = bad_files.corrupt_pdf()

    assert content.startswith(b"%PDF-1.")
    with pytest.raises(pdfium.PdfiumError):
        pdfium.PdfDocument(content)
    with pytest.raises(PdfReadError):
        len(PdfReader(io.BytesIO(content)).pages)


def test_it_makes_an_empty_file_and_text_posing_as_pdf():
    assert bad_files.empty_file() == b""
    text = bad_files.text_file_named_pdf()
    assert not text.startswith(b"%PDF")
    assert text.decode("utf-8").startswith("Rechnung")


def test_it_makes_a_small_png_that_claims_900_million_pixels():
    content = bad_files.decompression_bomb_png()

    assert len(content) < 200_000
    assert content.startswith(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(content))


def test_it_makes_a_pdf_that_runs_javascript_when_opened():
    reader = PdfReader(io.BytesIO(bad_files.pdf_with_javascript()))
    action = reader.trailer["/Root"]["/OpenAction"]

    assert action["/S"] == "/JavaScript"
    assert "app.alert" in action["/JS"]
    assert len(reader.pages) == 1


def test_it_names_a_file_that_climbs_out_of_the_upload_folder():
    name = bad_files.path_traversal_name()
    assert name.startswith("../") and name.endswith(".pdf")


def test_it_keeps_every_sample_small_and_names_it():
    catalogue = bad_files.all_bad_files()

    assert {bad.reason for bad in catalogue} >= {"encrypted_pdf", "corrupt_pdf", "empty_file", "image_too_large"}
    for bad in catalogue:
        assert len(bad.content) < 200_000, bad
        assert bad.name and bad.content_type
