"""The processing pipeline from original bytes to extracted, validated fields.

Pure: no database, no storage. ``documents.services.job_run`` persists what it returns, and
``manage.py extract`` prints it. Stages, in order:

1. preflight   open the original, refuse what cannot be processed (StopProcessing)
2. text        take born-digital pages' words from the PDF text layer
3. render      render the remaining pages in memory at the OCR resolution
4. preprocess  greyscale + deskew
5. ocr         Tesseract on those pages
6. extraction  fields, line items, validation, confidence
7. decision    auto-approve or review
"""

import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from PIL import Image

from extraction.decision import decide
from extraction.engine import extract
from extraction.types import ExtractionResult
from ocr import preprocess, tesseract
from ocr.filetypes import FileType
from ocr.sources import open_source
from ocr.types import PageContent

# Resolution of the page images a clerk sees; boxes are normalised, so any size lines up.
DISPLAY_DPI = 150
DISPLAY_MAX_WIDTH = 1400

Progress = Callable[[str, dict], None]


@dataclass
class ProcessedPage:
    content: PageContent
    image: Image.Image
    deskew_degrees: float = 0.0


@dataclass
class PipelineOutput:
    file_type: FileType
    pages: list[ProcessedPage]
    extraction: ExtractionResult
    decision: str
    content_source: str
    ocr_backend: str
    timings_ms: dict[str, float] = field(default_factory=dict)

    def close(self):
        for page in self.pages:
            page.image.close()


class _Timer:
    def __init__(self):
        self.timings_ms: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            self.timings_ms[name] = round(self.timings_ms.get(name, 0.0) + elapsed, 1)


def run_pipeline(data: bytes, *, auto_approve_threshold: float, progress: Progress | None = None) -> PipelineOutput:
    report = progress or (lambda stage, info: None)
    timer = _Timer()
    dpi = settings.ABLAGE_RENDER_DPI
    with timer.stage("preflight"):
        report("preflight", {})
        source = open_source(data, max_pages=settings.ABLAGE_MAX_PAGES)
    with source:
        pages: list[ProcessedPage] = []
        for index in range(source.page_count):
            number = index + 1
            with timer.stage("text"):
                words = source.text_layer_words(index)
            if words:
                with timer.stage("render"):
                    image = _display_image(source.render(index, dpi=DISPLAY_DPI))
                content = PageContent(number, words, "text_layer", "pdf_text", image.width, image.height, DISPLAY_DPI)
                pages.append(ProcessedPage(content, image))
                report("page", {"page": number, "pages": source.page_count, "source": "text_layer"})
                continue
            with timer.stage("render"):
                rendered = source.render(index, dpi=dpi)
                page_dpi = source.native_dpi(index) or dpi
            with timer.stage("preprocess"):
                grey, angle = preprocess.deskew(preprocess.to_grey(rendered))
                rendered.close()
            report("ocr", {"page": number, "pages": source.page_count})
            with timer.stage("ocr"):
                words = tesseract.recognise(grey, dpi=page_dpi)
            image = _display_image(Image.fromarray(grey))
            content = PageContent(number, words, "ocr", tesseract.BACKEND_NAME, grey.shape[1], grey.shape[0], page_dpi)
            pages.append(ProcessedPage(content, image, angle))
            report("page", {"page": number, "pages": source.page_count, "source": "ocr"})
        file_type = source.file_type

    report("extraction", {})
    with timer.stage("extraction"):
        result = extract([page.content for page in pages])
    with timer.stage("decision"):
        decision = decide(result, threshold=auto_approve_threshold)
    ocr_pages = [page for page in pages if page.content.source == "ocr"]
    return PipelineOutput(
        file_type=file_type,
        pages=pages,
        extraction=result,
        decision=decision,
        content_source="ocr" if ocr_pages else "text_layer",
        ocr_backend=tesseract.BACKEND_NAME if ocr_pages else "pdf_text",
        timings_ms=timer.timings_ms,
    )


def _display_image(image: Image.Image) -> Image.Image:
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    if image.width > DISPLAY_MAX_WIDTH:
        height = round(image.height * DISPLAY_MAX_WIDTH / image.width)
        resized = image.resize((DISPLAY_MAX_WIDTH, height), Image.Resampling.LANCZOS)
        image.close()
        return resized
    return image
