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
