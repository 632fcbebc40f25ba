import io
import subprocess

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image

from ablage.testing.german import format_amount
from ablage.testing.invoices import random_invoice, render_scan
from ablage.testing.scans import a4_pixels


@pytest.fixture(scope="module")
def long_invoice():
    return random_invoice(9, layout="B", item_count=45)


def test_it_scans_to_an_a4_grey_image_at_the_requested_dpi():
    png = render_scan(random_invoice(4, layout="C"), seed=4, dpi=150, fmt="png")
    image = Image.open(io.BytesIO(png))

    assert image.format == "PNG"
    assert image.mode == "L"
    assert image.size == a4_pixels(150) == (1240, 1754)
    assert round(image.info["dpi"][0]) == 150
    pixels = np.asarray(image)
    # Noisy paper, dark text: neither a blank page nor pure black and white.
    assert 200 < pixels.mean() < 250
    assert len(np.unique(pixels)) > 50


def test_it_adds_noise_and_skew_from_the_seed():
    spec = random_invoice(4, layout="A")
    first = render_scan(spec, seed=1, dpi=100, fmt="png")

    assert first == render_scan(spec, seed=1, dpi=100, fmt="png")
    assert first != render_scan(spec, seed=2, dpi=100, fmt="png")
    clean = np.asarray(Image.open(io.BytesIO(render_scan(spec, seed=1, dpi=100, noise=0, blur=0, rotation_deg=0))))
    noisy = np.asarray(Image.open(io.BytesIO(first)))
    assert np.abs(clean.astype(int) - noisy.astype(int)).mean() > 2


def test_it_writes_an_image_only_pdf_whose_page_size_gives_back_the_dpi(long_invoice):
    pdf = render_scan(long_invoice, seed=9, dpi=100, fmt="pdf")
    document = pdfium.PdfDocument(pdf)
    try:
        assert len(document) == 2
        for index in range(len(document)):
            page = document[index]
            assert page.get_textpage().get_text_bounded().strip() == ""
            width_pt, height_pt = page.get_size()
            assert round(width_pt / 72 * 100) == a4_pixels(100)[0]
            assert round(height_pt / 72 * 100) == a4_pixels(100)[1]
    finally:
        document.close()


def test_it_keeps_every_page_in_a_multipage_tiff(long_invoice):
    tiff = Image.open(io.BytesIO(render_scan(long_invoice, seed=9, dpi=72, fmt="tiff")))
    assert tiff.n_frames == 2
    assert round(tiff.info["dpi"][0]) == 72


def test_it_writes_jpeg_with_artefacts_when_asked():
    jpeg = render_scan(random_invoice(2, layout="B"), seed=2, dpi=100, jpeg_quality=40, fmt="jpeg")
    image = Image.open(io.BytesIO(jpeg))
    assert image.format == "JPEG"
    assert image.size == a4_pixels(100)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rotation_deg": 2.5}, "Drehung"),
        ({"dpi": 20}, "Auflösung"),
        ({"fmt": "bmp"}, "Scanformat"),
        ({"jpeg_quality": 0}, "JPEG"),
    ],
)
def test_it_refuses_unrealistic_scan_settings(options, message):
    with pytest.raises(ValueError, match=message):
        render_scan(random_invoice(1), seed=1, **{"dpi": 72, **options})


def test_tesseract_reads_number_and_total_from_a_300_dpi_scan(tmp_path):
    spec = random_invoice(7, layout="A")
    path = tmp_path / "scan.png"
    path.write_bytes(render_scan(spec, seed=7, rotation_deg=1.5, fmt="png"))

    result = subprocess.run(
        ["/usr/bin/tesseract", str(path), "stdout", "-l", "deu"], capture_output=True, text=True, check=True, timeout=60
    )

    assert spec.invoice_number in result.stdout
    assert format_amount(spec.total_amount) in result.stdout
