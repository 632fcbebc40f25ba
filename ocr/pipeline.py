"""The processing pipeline from original bytes to extracted, validated fields.

Pure: no database, no storage. ``documents.services.job_run`` persists what it returns and
``manage.py extract`` prints it. The pipeline is an explicit ordered list of steps; each
step says whether it applies (``able_to_run``) and does one thing (``run``). A step ends
processing early by raising ``StopProcessing`` (the input is unusable: rejected with the
reason) or ``HandOff`` (another queue's workers should do this document).

Document steps:  preflight -> pages -> archive -> extraction -> decision
Page steps:      text layer | render -> complexity -> preprocess -> recognise -> second attempt
                 -> post-correction -> display image -> archive page

A finished page's image and archive page go to the page spool (``ocr.spool``: memory up to a
budget, disk beyond) before the next page starts, so a worker's memory does not grow with the
page count; the archive is assembled from the spool at the end. The spool lives until
``PipelineOutput.close()``.
"""

import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image

from extraction.decision import decide_with_reason
from extraction.engine import confirm_supplier, extract
from extraction.types import ExtractionResult, SupplierEvidence, ValidationCheck
from ocr import backends, postcorrect, preprocess
from ocr.archive import assemble, searchable_page
from ocr.complexity import Complexity, analyse, analysis_copy
from ocr.einvoice_view import render_view
from ocr.errors import StopProcessing
from ocr.filetypes import PDF, XML, FileType
from ocr.options import PipelineOptions
from ocr.sources import SourceDocument, open_source
from ocr.spool import PageSpool
from ocr.types import PageContent, Word

# Resolution of the page images a clerk sees; boxes are normalised, so any size lines up.
DISPLAY_DPI = 150
DISPLAY_MAX_WIDTH = 1400

Progress = Callable[[str, dict], None]


class HandOff(Exception):
    """This document needs a backend that another queue's workers have (e.g. Surya on ocr_gpu)."""

    def __init__(self, queue: str, reason: str):
        super().__init__(reason)
        self.queue = queue
        self.reason = reason


@dataclass
class ProcessedPage:
    content: PageContent
    spool: PageSpool = field(repr=False)
    image_name: str  # the page image a clerk sees (content.width_px x height_px) in the spool
    deskew_degrees: float = 0.0
    complexity: Complexity | None = None
    attempts: list[dict] = field(default_factory=list)
    archive_page: str | None = None  # the page image with its text layer, a one-page PDF in the spool

    def open_image(self) -> Image.Image:
        """The page image; the caller closes it."""
        return self.spool.open_image(self.image_name)


@dataclass
class PipelineOutput:
    file_type: FileType
    pages: list[ProcessedPage]
    extraction: ExtractionResult
    decision: str
    content_source: str
    ocr_backend: str
    complexity: dict
    decision_reason: str = ""
    archive_name: str | None = None  # the searchable archive copy in the spool
    einvoice: object | None = None  # extraction.einvoice.EInvoiceSource: the XML and its format
    notes: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    spool: PageSpool | None = None
    supplier: SupplierEvidence | None = None  # from ``supplier_lookup``; None: not found or not looked up

    def open_archive(self) -> BinaryIO | None:
        """The searchable archive copy (PDF), if one was made; the caller closes it."""
        return self.spool.open_bytes(self.archive_name) if self.archive_name else None

    def close(self):
        """Drops the spooled page images and archive copy: persist them before."""
        if self.spool is not None:
            self.spool.close()


class Timer:
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


@dataclass
class Context:
    data: bytes
    options: PipelineOptions
    report: Progress
    timer: Timer
    spool: PageSpool
    allow_handoff: bool = False
    source: SourceDocument | None = None
    file_type: FileType | None = None
    pages: list[ProcessedPage] = field(default_factory=list)
    archive_name: str | None = None
    extraction: ExtractionResult | None = None
    decision: str = ""
    notes: list[str] = field(default_factory=list)
    einvoice: object | None = None  # extraction.einvoice.EInvoiceSource
    einvoice_result: ExtractionResult | None = None
    sample_key: str | None = None
    decision_reason: str = ""
    supplier_lookup: "SupplierLookup | None" = None
    supplier: SupplierEvidence | None = None

    @property
    def content_source(self) -> str:
        if self.einvoice is not None:
            return "einvoice"
        return "ocr" if any(page.content.source == "ocr" for page in self.pages) else "text_layer"


@dataclass
class PageWork:
    """One page on its way through the page steps."""

    index: int
    number: int
    pages: int
    words: list[Word] = field(default_factory=list)
    source: str = ""
    backend: str = ""
    dpi: int = 0
    rendered: np.ndarray | None = None  # greyscale at OCR resolution
    small: np.ndarray | None = None  # ``rendered`` at ~150 dpi: complexity analysis, then deskew
    display: np.ndarray | None = None  # deskewed, not binarised, at OCR resolution
    prepared: np.ndarray | None = None  # what OCR reads
    deskew_degrees: float = 0.0
    denoised: bool = False
    complexity: Complexity | None = None
    attempts: list[dict] = field(default_factory=list)
    searchable_pdf: bytes | None = None  # the text layer from OCR
    image: Image.Image | None = None  # the page image the clerk sees (display resolution)
    archive_page: str | None = None


class DocumentStep:
    """A step over the whole document: ``able_to_run(context)``, ``run(context)``."""

    name = ""

    def able_to_run(self, context: Context) -> bool:
        return True

    def run(self, context: Context) -> None:
        raise NotImplementedError


class PageStep:
    """A step over one page: ``able_to_run(context, work)``, ``run(context, work)``."""

    name = ""

    def able_to_run(self, context: Context, work: PageWork) -> bool:
        return True

    def run(self, context: Context, work: PageWork) -> None:
        raise NotImplementedError


# --- page steps ----------------------------------------------------------------------------------


class TextLayerStep(PageStep):
    """Born-digital pages: words and boxes straight from the PDF, no OCR."""

    name = "text"

    def able_to_run(self, context, work):
        # The source, not the upload: a bare e-invoice is read from its rendered view (a PDF).
        return context.source.file_type == PDF

    def run(self, context, work):
        work.words = context.source.text_layer_words(work.index)
        if work.words:
            work.source, work.backend = "text_layer", "pdf_text"


class DisplayRenderStep(PageStep):
    """The page image a clerk sees next to a born-digital page's fields."""

    name = "render"

    def able_to_run(self, context, work):
        return work.source == "text_layer"

    def run(self, context, work):
        work.image = _display_image(context.source.render(work.index, dpi=DISPLAY_DPI))
        work.dpi = DISPLAY_DPI


class RenderStep(PageStep):
    """Render a page that needs OCR, in memory, as a greyscale array (no file in between)."""

    name = "render"

    def able_to_run(self, context, work):
        return not work.source

    def run(self, context, work):
        work.rendered = context.source.render_grey(work.index, dpi=context.options.render_dpi)
        work.dpi = context.source.native_dpi(work.index) or context.options.render_dpi


class ComplexityStep(PageStep):
    name = "complexity"

    def able_to_run(self, context, work):
        return work.rendered is not None

    def run(self, context, work):
        work.small = analysis_copy(work.rendered, dpi=work.dpi)
        work.complexity = analyse(work.rendered, dpi=work.dpi, small=work.small)


class PreprocessStep(PageStep):
    """Resolution, deskew, denoising, contrast, binarisation: each switchable in SystemConfig."""

    name = "preprocess"

    def able_to_run(self, context, work):
        return work.rendered is not None

    def run(self, context, work):
        options = context.options
        grey = work.rendered
        noisy = bool(work.complexity and work.complexity.noisy)
        if options.denoise == "always" or (options.denoise == "auto" and noisy):
            # Before upscaling: denoising works on every pixel.
            grey = preprocess.denoise(grey)
            work.denoised = True
        if options.normalise_resolution:
            grey, work.dpi = preprocess.normalise_resolution(grey, dpi=work.dpi)
        if options.deskew:
            # The angle from the analysis copy: neither denoising nor upscaling changes it.
            grey, work.deskew_degrees = preprocess.deskew(grey, small=work.small)
        work.small = None
        work.display = grey
        # Measured to hurt noisy scans (README, "bench preprocessing"): off unless switched on.
        if options.contrast:
            grey = preprocess.enhance_contrast(grey)
        if options.binarise:
            grey = preprocess.binarise(grey)
        work.prepared = grey
        work.rendered = None


class RecogniseStep(PageStep):
    name = "ocr"

    def able_to_run(self, context, work):
        return work.prepared is not None

    def run(self, context, work):
        context.report("ocr", {"page": work.number, "pages": work.pages})
        work.backend = _choose_backend(context, work)
        work.source = "ocr"
        work.words, work.searchable_pdf = _recognise(
            work.backend, work.prepared, work.dpi, searchable_pdf=context.options.searchable_pdf
        )
        work.attempts.append({"backend": work.backend, "variant": "standard", **_quality(work.words)})


class SecondAttemptStep(PageStep):
    """A page read with low confidence gets one more try: another backend, or denoised.

    Contrast and binarisation are no second chance: measured, they make noisy scans worse.
    """

    name = "retry"

    def able_to_run(self, context, work):
        threshold = context.options.retry_below_confidence
        if work.source != "ocr" or work.display is None or work.attempts[-1]["confidence"] >= threshold:
            return False
        return bool(_alternative_backend(work.backend)) or not work.denoised

    def run(self, context, work):
        options = context.options
        alternative = _alternative_backend(work.backend)
        if alternative:
            backend, image, variant = alternative, work.prepared, "backend"
        else:
            backend, image, variant = work.backend, preprocess.denoise(work.display), "denoised"
        words, pdf = _recognise(backend, image, work.dpi, searchable_pdf=options.searchable_pdf)
        quality = _quality(words)
        work.attempts.append({"backend": backend, "variant": variant, **quality})
        if quality["score"] > work.attempts[0]["score"]:
            work.words, work.searchable_pdf, work.backend = words, pdf, backend
            work.attempts[-1]["chosen"] = True


class PostCorrectStep(PageStep):
    """Uncertain words of free text checked against a German word list (``ocr.postcorrect``).

    After the second attempt, so that it corrects the reading that won. The archive copy's
    text layer keeps what Tesseract read; the corrected words feed extraction and review.
    """

    name = "postcorrect"

    def able_to_run(self, context, work):
        return context.options.postcorrect and work.source == "ocr" and bool(work.words)

    def run(self, context, work):
        try:
            work.words, changed = postcorrect.correct_words(work.words)
        except postcorrect.WordListMissing as missing:
            if str(missing) not in context.notes:
                context.notes.append(str(missing))
            return
        if changed:
            context.notes.append(f"Seite {work.number}: {changed} unsichere Wörter nach dem Wörterbuch korrigiert")


class DisplayStep(PageStep):
    """The page image a clerk sees next to a scanned page's fields: deskewed, at display resolution."""

    name = "display"

    def able_to_run(self, context, work):
        return work.display is not None

    def run(self, context, work):
        work.image = _display_from_grey(work.display, dpi=work.dpi)
        work.display = work.prepared = None


class ArchivePageStep(PageStep):
    """The page's share of the searchable archive copy, built now so the page can leave memory."""

    name = "archive"

    def able_to_run(self, context, work):
        return context.options.searchable_pdf and bool(work.searchable_pdf) and work.image is not None

    def run(self, context, work):
        work.archive_page = f"archive-p{work.number}.pdf"
        context.spool.put_bytes(work.archive_page, searchable_page(work.image, work.searchable_pdf))
        work.searchable_pdf = None


PAGE_STEPS = [
    TextLayerStep,
    DisplayRenderStep,
    RenderStep,
    ComplexityStep,
    PreprocessStep,
    RecogniseStep,
    SecondAttemptStep,
    PostCorrectStep,
    DisplayStep,
    ArchivePageStep,
]


# --- document steps ------------------------------------------------------------------------------


class PreflightStep(DocumentStep):
    """Open the original and refuse what cannot be processed, before any rendering."""

    name = "preflight"

    def run(self, context):
        context.report("preflight", {})
        context.source = open_source(context.data, max_pages=context.options.max_pages)
        context.file_type = context.source.file_type


class EInvoiceStep(DocumentStep):
    """ZUGFeRD / Factur-X / XRechnung: the embedded or uploaded XML is read exactly, no OCR needed.

    A hostile XML rejects the document. An unreadable XML in a PDF falls back to reading the
    visible pages (with a note); a bare XML upload has nothing to fall back to and is rejected.
    A bare XML gets a rendered view so the reviewer has a page to look at.
    """

    name = "einvoice"

    def able_to_run(self, context):
        return context.file_type in (PDF, XML)

    def run(self, context):
        from extraction.einvoice import INVALID_EINVOICE, find_einvoice, parse_einvoice

        found = context.source.einvoice if context.file_type == XML else find_einvoice(context.data)
        if found is None:
            return
        try:
            result = parse_einvoice(found)
        except StopProcessing as refusal:
            if refusal.code != INVALID_EINVOICE or context.file_type == XML:
                raise
            context.notes.append(f"Eingebettete E-Rechnung unlesbar, sichtbarer Inhalt verwendet: {refusal.message}")
            return
        context.einvoice, context.einvoice_result = found, result
        if context.file_type == XML:
            view = render_view(result, title=f"E-Rechnung ({found.flavour}, {found.syntax.upper()})")
            context.source.close()
            context.source = open_source(view, max_pages=context.options.max_pages)


class PagesStep(DocumentStep):
    name = "pages"

    def run(self, context):
        total = context.source.page_count
        for index in range(total):
            work = PageWork(index=index, number=index + 1, pages=total)
            for step_class in PAGE_STEPS:
                step = step_class()
                if step.able_to_run(context, work):
                    with context.timer.stage(step.name):
                        step.run(context, work)
            with context.timer.stage("spool"):
                context.pages.append(_finish_page(context.spool, work))
            context.report("page", {"page": work.number, "pages": total, "source": work.source})


class ArchiveStep(DocumentStep):
    """Put the archive pages built page by page together, with born-digital pages from the original."""

    name = "archive"

    def able_to_run(self, context):
        return context.options.searchable_pdf and any(page.archive_page for page in context.pages)

    def run(self, context):
        original = context.data if context.file_type == PDF else None
        archive = assemble(original, [page.archive_page for page in context.pages], context.spool)
        if archive is not None:
            context.spool.put_bytes("archive.pdf", archive)
            context.archive_name = "archive.pdf"


class ExtractionStep(DocumentStep):
    name = "extraction"

    def run(self, context):
        context.report("extraction", {})
        visual = extract([page.content for page in context.pages])
        if context.einvoice_result is None:
            context.extraction = visual
            return
        context.extraction = context.einvoice_result
        if context.einvoice.container == "pdf":
            context.extraction.validation.append(_visual_agreement(context.einvoice_result, visual))


class SupplierStep(DocumentStep):
    """Look the sender up in the supplier master data; a confirmed supplier's name replaces a misread one.

    The e-invoice's XML names the seller exactly, so its name is never replaced; the match is kept
    all the same (the document's supplier).
    """

    name = "supplier"

    def able_to_run(self, context):
        return context.supplier_lookup is not None

    def run(self, context):
        text = "\n".join(page.content.text for page in context.pages)
        context.supplier = context.supplier_lookup(context.extraction, text)
        if context.einvoice is None:
            confirm_supplier(context.extraction, context.supplier)


class DecisionStep(DocumentStep):
    name = "decision"

    def run(self, context):
        options = context.options
        context.decision, context.decision_reason = decide_with_reason(
            context.extraction,
            threshold=options.auto_approve_threshold,
            thresholds_by_type=options.thresholds_by_type,
            sample_key=context.sample_key,
            # Sampling needs a stable key (the document id); a bare ``extract`` run has none.
            sample_rate=options.quality_sample_rate if context.sample_key else 0.0,
            content_source=context.content_source,
            supplier=context.supplier,
        )


DOCUMENT_STEPS = [PreflightStep, EInvoiceStep, PagesStep, ArchiveStep, ExtractionStep, SupplierStep, DecisionStep]
# What depends on the document, not only on its content: run again for every document that
# takes a reading from the result cache (documents.result_cache).
PER_DOCUMENT_STEPS = [SupplierStep, DecisionStep]


def decide_for_document(
    output: "PipelineOutput", *, options: PipelineOptions, sample_key: str | None, supplier_lookup
) -> None:
    """Run the per-document steps (supplier, decision) again on ``output``; updates it in place."""
    context = Context(
        data=b"",
        options=options,
        report=lambda stage, info: None,
        timer=Timer(),
        spool=output.spool,
        file_type=output.file_type,
        pages=output.pages,
        extraction=output.extraction,
        einvoice=output.einvoice,
        sample_key=sample_key,
        supplier_lookup=supplier_lookup,
    )
    for step_class in PER_DOCUMENT_STEPS:
        step = step_class()
        if step.able_to_run(context):
            with context.timer.stage(step.name):
                step.run(context)
    output.extraction, output.supplier = context.extraction, context.supplier
    output.decision, output.decision_reason = context.decision, context.decision_reason
    for name, elapsed in context.timer.timings_ms.items():
        output.timings_ms[name] = elapsed


# The document's extraction and full text -> what the supplier master data says (documents.services
# passes suppliers.matching; the benchmark a directory of the generated suppliers).
SupplierLookup = Callable[[ExtractionResult, str], SupplierEvidence | None]


def run_pipeline(
    data: bytes,
    *,
    options: PipelineOptions | None = None,
    auto_approve_threshold: float | None = None,
    progress: Progress | None = None,
    allow_handoff: bool = False,
    sample_key: str | None = None,
    supplier_lookup: SupplierLookup | None = None,
) -> PipelineOutput:
    """Run every document step in order. Raises StopProcessing, HandOff or TransientOCRError.

    Without ``supplier_lookup`` no supplier is confirmed, so a scanned document always goes to review.
    """
    from ocr.options import load_options

    if options is None:
        options = load_options()
    if auto_approve_threshold is not None:
        options = options.but(auto_approve_threshold=auto_approve_threshold)
    context = Context(
        data=data,
        options=options,
        report=progress or (lambda stage, info: None),
        timer=Timer(),
        spool=PageSpool(),
        allow_handoff=allow_handoff,
        sample_key=sample_key,
        supplier_lookup=supplier_lookup,
    )
    try:
        for step_class in DOCUMENT_STEPS:
            step = step_class()
            if step.able_to_run(context):
                # The pages step times its own page steps; timing it too would count them twice.
                if step_class is PagesStep:
                    step.run(context)
                else:
                    with context.timer.stage(step.name):
                        step.run(context)
    except BaseException:
        context.spool.close()
        raise
    finally:
        if context.source is not None:
            context.source.close()
    ocr_pages = [page for page in context.pages if page.content.source == "ocr"]
    backends = sorted({page.content.backend for page in ocr_pages})
    return PipelineOutput(
        file_type=context.file_type,
        pages=context.pages,
        extraction=context.extraction,
        decision=context.decision,
        decision_reason=context.decision_reason,
        content_source=context.content_source,
        einvoice=context.einvoice,
        ocr_backend="none" if context.file_type == XML else "+".join(backends) if backends else "pdf_text",
        complexity=_document_complexity(context.pages),
        archive_name=context.archive_name,
        notes=context.notes,
        timings_ms=context.timer.timings_ms,
        spool=context.spool,
        supplier=context.supplier,
    )


# --- helpers -------------------------------------------------------------------------------------


# Key values on which the visible invoice and its XML must agree (GoBD: the XML is the original,
# but a reviewer must see when the picture tells a different story).
AGREEMENT_FIELDS = ("total_amount", "invoice_number")


def _visual_agreement(einvoice: ExtractionResult, visual: ExtractionResult) -> ValidationCheck:
    differences = []
    for name in AGREEMENT_FIELDS:
        structured, seen = einvoice.fields.get(name), visual.fields.get(name)
        if structured and seen and structured.normalized != seen.normalized:
            differences.append(f"{name}: XML {structured.normalized}, PDF {seen.normalized}")
    if differences:
        return ValidationCheck(
            "einvoice_matches_visual",
            False,
            "XML und sichtbare Rechnung weichen ab: " + "; ".join(differences),
            tuple(AGREEMENT_FIELDS),
        )
    return ValidationCheck("einvoice_matches_visual", True, "XML und sichtbare Rechnung stimmen überein.")


def _choose_backend(context: Context, work: PageWork) -> str:
    wanted = context.options.backend
    if wanted == "auto":
        wanted = work.complexity.recommended_backend if work.complexity else backends.DEFAULT
    if wanted == backends.DEFAULT:
        return wanted
    available, reason = backends.get_backend(wanted).availability()
    if available:
        return wanted
    if context.allow_handoff:
        raise HandOff("ocr_gpu", f"Seite {work.number} braucht die GPU-Texterkennung: {reason}")
    note = f"Seite {work.number}: {wanted} nicht verfügbar, {backends.DEFAULT} verwendet. {reason}"
    if note not in context.notes:
        context.notes.append(note)
    return backends.DEFAULT


def _alternative_backend(backend: str) -> str | None:
    """Another available backend for a second attempt, if there is one."""
    for name, candidate in backends.BACKENDS.items():
        if name != backend and candidate.availability()[0]:
            return name
    return None


def _recognise(backend: str, image: np.ndarray, dpi: int, *, searchable_pdf: bool) -> tuple[list[Word], bytes | None]:
    page = backends.get_backend(backend).recognise(image, dpi=dpi, text_layer=searchable_pdf)
    return page.words, page.text_layer_pdf


def _quality(words: list[Word]) -> dict:
    """Mean confidence, and a score that also rewards reading more text (sum of confident characters)."""
    if not words:
        return {"confidence": 0.0, "words": 0, "score": 0.0}
    confidence = sum(word.confidence for word in words) / len(words)
    score = sum(len(word.text) * word.confidence for word in words if word.confidence >= 0.5)
    return {"confidence": round(confidence, 4), "words": len(words), "score": round(score, 1)}


def _finish_page(spool: PageSpool, work: PageWork) -> ProcessedPage:
    image, name = work.image, f"p{work.number}"
    content = PageContent(work.number, work.words, work.source, work.backend, image.width, image.height, work.dpi)
    spool.put_image(name, image)
    return ProcessedPage(content, spool, name, work.deskew_degrees, work.complexity, work.attempts, work.archive_page)


def _document_complexity(pages: list[ProcessedPage]) -> dict:
    analysed = [page.complexity for page in pages if page.complexity is not None]
    if not analysed:
        return {"level": "simple", "score": 0.0, "recommended_backend": "pdf_text", "pages": []}
    hardest = max(analysed, key=lambda complexity: complexity.score)
    return {
        "level": hardest.level,
        "score": hardest.score,
        "recommended_backend": hardest.recommended_backend,
        "pages": [
            {"page": page.content.number, **page.complexity.as_json(), "attempts": page.attempts}
            for page in pages
            if page.complexity is not None
        ],
    }


def _display_from_grey(grey: np.ndarray, *, dpi: int) -> Image.Image:
    # A whole factor towards DISPLAY_DPI first: block averaging is several times faster than
    # area averaging at an arbitrary scale (a 300-dpi page becomes 150 dpi, like born-digital ones).
    factor = dpi // DISPLAY_DPI
    if factor >= 2:
        grey = cv2.resize(grey, None, fx=1 / factor, fy=1 / factor, interpolation=cv2.INTER_AREA)
    return _display_image(Image.fromarray(grey))


def _display_image(image: Image.Image) -> Image.Image:
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    if image.width > DISPLAY_MAX_WIDTH:
        height = round(image.height * DISPLAY_MAX_WIDTH / image.width)
        # Area averaging: as good as Lanczos for downscaling text, and five times faster.
        resized = Image.fromarray(
            cv2.resize(np.asarray(image), (DISPLAY_MAX_WIDTH, height), interpolation=cv2.INTER_AREA)
        )
        image.close()
        return resized
    return image
