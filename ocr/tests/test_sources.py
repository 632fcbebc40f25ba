import io

import numpy as np
import pytest
from PIL import Image

from ablage.testing import bad_files
from ocr import preprocess
from ocr.errors import StopProcessing
from ocr.sources import open_source


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (bad_files.empty_file, "empty_file"),
        (bad_files.text_file_named_pdf, "unsupported_file_type"),
        (bad_files.encrypted_pdf, "encrypted_pdf"),
        (bad_files.corrupt_pdf, "corrupt_pdf"),
        (bad_files.decompression_bomb_png, "image_too_large"),
    ],
)
def test_it_stops_unusable_input_with_a_reason(make, code):
    with pytest.raises(StopProcessing) as stopped:
        open_source(make(), max_pages=100)
    assert stopped.value.code == code
    assert stopped.value.message


def test_it_refuses_more_pages_than_allowed(born_digital_pdf):
    with pytest.raises(StopProcessing) as stopped:
        open_source(born_digital_pdf, max_pages=0)
    assert stopped.value.code == "too_many_pages"


def test_it_reads_words_and_boxes_from_the_text_layer(born_digital_pdf, invoice_spec):
    with open_source(born_digital_pdf, max_pages=10) as source:
        words = source.text_layer_words(0)

    texts = [word.text for word in words]
    assert invoice_spec.invoice_number.split()[-1] in " ".join(texts)
    for word in words:
        x0, y0, x1, y1 = word.bbox
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1


def test_it_finds_no_text_layer_on_a_scan(scanned_png):
    with open_source(scanned_png, max_pages=10) as source:
        assert source.page_count == 1
        assert source.text_layer_words(0) == []


def test_it_straightens_a_rotated_page():
    page = np.full((1200, 1000), 255, dtype=np.uint8)
    for row in range(100, 1100, 40):
        page[row : row + 12, 100:900] = 0
    rotated = np.asarray(Image.fromarray(page).rotate(1.5, fillcolor=255, resample=Image.Resampling.BILINEAR))

    angle = preprocess.estimate_skew(rotated)

    assert abs(abs(angle) - 1.5) <= 0.3


def test_it_refuses_a_pdf_without_pages():
    from pypdf import PdfWriter

    buffer = io.BytesIO()
    PdfWriter().write(buffer)

    with pytest.raises(StopProcessing) as stopped:
        open_source(buffer.getvalue(), max_pages=10)
    assert stopped.value.code == "no_pages"


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((width, height), 60).save(buffer, format="PNG")
    return buffer.getvalue()


def test_it_refuses_an_image_whose_header_is_broken():
    with pytest.raises(StopProcessing) as stopped:
        open_source(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, max_pages=10)
    assert stopped.value.code == "corrupt_image"


def test_it_refuses_a_truncated_image_when_its_page_is_decoded():
    # Only headers are checked before rendering, so the cut-off pixel data shows at the page.
    truncated = _png(400, 300)[:-2000]

    with open_source(truncated, max_pages=10) as source:
        assert source.page_count == 1
        with pytest.raises(StopProcessing) as stopped:
            source.render_grey(0, dpi=300)
    assert stopped.value.code == "corrupt_image" and "Seite 1" in stopped.value.message


def test_it_decodes_every_frame_of_a_multi_page_tiff_on_demand():
    frames = [Image.new("L", (60, 40), shade) for shade in (30, 220)]
    frames.append(Image.new("RGB", (50, 30), (255, 0, 0)))
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:], dpi=(200, 200))

    with open_source(buffer.getvalue(), max_pages=10) as source:
        greys = [source.render_grey(index, dpi=300) for index in range(source.page_count)]
        dpi = source.native_dpi(1)

    assert [grey.shape for grey in greys] == [(40, 60), (40, 60), (30, 50)]
    assert [int(grey[0, 0]) for grey in greys] == [30, 220, 76]  # red in ITU-R 601 luma
    assert dpi == 200


def test_it_renders_a_pdf_page_straight_to_greyscale(born_digital_pdf):
    with open_source(born_digital_pdf, max_pages=10) as source:
        grey = source.render_grey(0, dpi=100)
        colour = source.render(0, dpi=100)

    assert grey.ndim == 2 and grey.dtype == np.uint8
    assert grey.shape == (colour.height, colour.width)
    assert abs(float(grey.mean()) - float(np.asarray(colour.convert("L")).mean())) < 2
