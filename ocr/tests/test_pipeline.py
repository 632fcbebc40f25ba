"""The pipeline's steps on generated pages: routing, preprocessing, second attempt, archive copy."""

import io

import numpy as np
import pypdfium2 as pdfium
import pytest
from django.test import override_settings
from PIL import Image

from ablage.testing.suppliers import master_data_lookup
from ocr import complexity, preprocess, surya
from ocr.errors import StopProcessing
from ocr.options import defaults
from ocr.pipeline import HandOff, run_pipeline


@pytest.fixture
def options():
    return defaults()


def _archive_text(archive: bytes) -> str:
    pdf = pdfium.PdfDocument(archive)
    try:
        return " ".join(page.get_textpage().get_text_bounded() for page in pdf)
    finally:
        pdf.close()


def test_it_reads_a_born_digital_pdf_without_ocr(born_digital_pdf, options):
    output = run_pipeline(born_digital_pdf, options=options)

    assert output.content_source == "text_layer" and output.ocr_backend == "pdf_text"
    assert "ocr" not in output.timings_ms and "render" in output.timings_ms
    assert output.open_archive() is None  # the original already is searchable
    assert output.complexity["recommended_backend"] == "pdf_text"
    output.close()


def test_it_holds_a_scan_back_until_the_master_data_confirms_its_supplier(scanned_png, options, invoice_spec):
    options = options.but(searchable_pdf=False)
    looked_up = []

    def lookup(result, text):
        looked_up.append(text)
        return master_data_lookup(result, text)

    unconfirmed = run_pipeline(scanned_png, options=options)
    confirmed = run_pipeline(scanned_png, options=options, supplier_lookup=lookup)

    assert unconfirmed.supplier is None
    assert unconfirmed.decision == "review"
    assert invoice_spec.invoice_number in looked_up[0]  # the lookup gets the page text for name matching
    assert confirmed.supplier.name == invoice_spec.supplier.name
    assert confirmed.extraction.fields["supplier_name"].normalized == invoice_spec.supplier.name
    assert not confirmed.decision_reason.startswith("Gescannter Beleg: Lieferant")
    unconfirmed.close()
    confirmed.close()


def test_it_ocrs_a_scan_and_builds_a_searchable_archive_copy(scanned_png, options, invoice_spec):
    output = run_pipeline(scanned_png, options=options)

    page = output.pages[0]
    assert page.content.source == "ocr" and page.content.backend == "tesseract"
    assert abs(page.deskew_degrees) > 0.5  # the generated scan was rotated by 1.2 degrees
    assert {"render", "complexity", "preprocess", "ocr", "archive", "extraction"} <= set(output.timings_ms)
    assert output.complexity["level"] in ("simple", "moderate", "complex")
    assert output.complexity["pages"][0]["attempts"][0]["backend"] == "tesseract"
    with output.open_archive() as handle:
        archive = handle.read()
    text = _archive_text(archive)
    assert invoice_spec.invoice_number in text
    assert len(archive) < 1_500_000
    assert any(line >= 0 for line in (word.line for word in page.content.words))
    output.close()


def test_it_reads_a_low_confidence_page_a_second_time_and_keeps_the_better_reading(scanned_png, options):
    output = run_pipeline(scanned_png, options=options.but(retry_below_confidence=1.0, searchable_pdf=False))

    attempts = output.complexity["pages"][0]["attempts"]
    assert [attempt["variant"] for attempt in attempts] == ["standard", "denoised"]
    chosen = max(attempts, key=lambda attempt: attempt["score"])
    assert output.pages[0].content.average_confidence == pytest.approx(chosen["confidence"], abs=1e-3)
    output.close()


def test_it_falls_back_to_tesseract_with_a_note_when_surya_is_missing(scanned_png, options):
    output = run_pipeline(scanned_png, options=options.but(backend="surya", searchable_pdf=False))

    assert output.ocr_backend == "tesseract"
    assert any("surya nicht verfügbar" in note for note in output.notes)
    output.close()


def test_it_hands_a_page_that_needs_the_gpu_to_the_gpu_queue(scanned_png, options):
    with pytest.raises(HandOff) as handoff:
        run_pipeline(scanned_png, options=options.but(backend="surya"), allow_handoff=True)
    assert handoff.value.queue == "ocr_gpu" and "GPU" in handoff.value.reason


def test_it_upscales_a_low_resolution_scan_before_ocr(invoice_spec, options):
    from ablage.testing.scans import render_scan

    low = render_scan(invoice_spec, "A", seed=3, dpi=150, rotation_deg=0.0, fmt="png")

    output = run_pipeline(low, options=options.but(searchable_pdf=False))

    assert output.pages[0].content.dpi == 300
    assert output.extraction.fields["invoice_number"].normalized == invoice_spec.invoice_number
    output.close()


def test_it_refuses_a_tiff_with_more_frames_than_allowed(options):
    frames = [Image.new("L", (50, 50), 255) for _ in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:])

    with pytest.raises(StopProcessing) as stopped:
        run_pipeline(buffer.getvalue(), options=options.but(max_pages=2))
    assert stopped.value.code == "too_many_pages"


def test_it_refuses_a_page_too_large_to_render(options):
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    sheet = canvas.Canvas(buffer, pagesize=(14400, 14400))  # 5 x 5 m
    sheet.drawString(100, 100, "Plakat")
    sheet.save()

    with pytest.raises(StopProcessing) as stopped:
        run_pipeline(buffer.getvalue(), options=options)
    assert stopped.value.code == "page_too_large"


@override_settings(ABLAGE_MAX_PDF_OBJECTS=100)
def test_it_refuses_a_pdf_declaring_too_many_objects(options):
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    sheet = canvas.Canvas(buffer)
    for number in range(60):
        sheet.drawString(100, 700, f"Seite {number}")
        sheet.showPage()
    sheet.save()

    with pytest.raises(StopProcessing) as stopped:
        run_pipeline(buffer.getvalue(), options=options)
    assert stopped.value.code == "too_many_objects"


def test_it_rates_a_clean_page_simpler_than_a_noisy_one(invoice_spec):
    from ablage.testing.scans import scan_pages

    clean = np.asarray(scan_pages(invoice_spec, "A", seed=1, noise=0.0, blur=0.0, rotation_deg=0.0)[0].convert("L"))
    noisy = np.asarray(scan_pages(invoice_spec, "A", seed=1, noise=30.0, blur=1.5, rotation_deg=0.0)[0].convert("L"))

    clean_result, noisy_result = complexity.analyse(clean, dpi=300), complexity.analyse(noisy, dpi=300)

    assert clean_result.score < noisy_result.score
    assert noisy_result.metrics["noise_level"] > clean_result.metrics["noise_level"]
    assert clean_result.recommended_backend == "tesseract"


def test_it_binarises_to_black_and_white():
    grey = np.tile(np.linspace(0, 255, 200, dtype=np.uint8), (100, 1))
    assert set(np.unique(preprocess.binarise(grey))) <= {0, 255}


def test_it_reports_surya_unavailable_with_the_reason():
    with override_settings(ABLAGE_SURYA_MODEL_DIR=""):
        available, reason = surya.availability()
    assert not available and "ABLAGE_SURYA_MODEL_DIR" in reason


def test_it_converts_recorded_surya_output_to_words():
    # Shape of surya's OCRResult: text lines with pixel boxes and confidences, words optional.
    recorded = {
        "text_lines": [
            {"text": "Rechnung Nr. 4711", "confidence": 0.97, "bbox": [100, 50, 400, 80]},
            {
                "text": "Summe 1.234,56 €",
                "confidence": 0.9,
                "bbox": [100, 500, 500, 530],
                "words": [
                    {"text": "Summe", "bbox": [100, 500, 200, 530], "confidence": 0.95},
                    {"text": "1.234,56", "bbox": [300, 500, 460, 530], "confidence": 0.88},
                    {"text": "€", "bbox": [470, 500, 500, 530], "confidence": 0.8},
                ],
            },
            {"text": "   ", "confidence": 0.1, "bbox": [0, 0, 1, 1]},
        ]
    }

    words = surya.words_from_prediction(recorded, width=1000, height=1000)

    assert [word.text for word in words] == ["Rechnung", "Nr.", "4711", "Summe", "1.234,56", "€"]
    assert words[0].bbox == pytest.approx((0.1, 0.05, 0.1 + 0.3 * 8 / 17, 0.08))
    assert words[2].bbox[2] == pytest.approx(0.4)
    assert [word.line for word in words] == [0, 0, 0, 1, 1, 1]
    assert words[4].confidence == 0.88 and words[4].bbox == pytest.approx((0.3, 0.5, 0.46, 0.53))


def test_it_keeps_a_long_documents_pages_on_disk_and_still_builds_the_archive(scanned_png, options, monkeypatch):
    from ocr import spool

    monkeypatch.setattr(spool, "MEMORY_BUDGET_BYTES", 0)  # as if this were page 30 of a long scan

    output = run_pipeline(scanned_png, options=options.but(retry_below_confidence=0.0))

    page = output.pages[0]
    assert page.spool.on_disk(page.image_name) and page.spool.on_disk(page.archive_page)
    with page.open_image() as image:
        assert image.size == (page.content.width_px, page.content.height_px) == (1240, 1754)
    with output.open_archive() as handle:
        archive = handle.read()
    pdf = pdfium.PdfDocument(archive)
    assert len(pdf) == 1 and pdf[0].get_size() == pytest.approx((595.2, 841.9), abs=1)
    pdf.close()
    output.close()
    with pytest.raises(KeyError):
        page.open_image()
