"""Pipeline options from SystemConfig, with settings as the fallback when no database is reachable."""

from dataclasses import dataclass, field, replace

from django.conf import settings
from django.db import DatabaseError

from ablage.errors import ApplicationError


@dataclass(frozen=True)
class PipelineOptions:
    auto_approve_threshold: float
    render_dpi: int
    max_pages: int
    languages: str
    deskew: bool = True
    contrast: bool = False
    binarise: bool = False
    denoise: str = "auto"  # off | auto | always
    normalise_resolution: bool = True
    retry_below_confidence: float = 0.75
    searchable_pdf: bool = True
    backend: str = "auto"  # auto | tesseract | surya
    # Per document type (invoice, credit_note, ...), falling back to auto_approve_threshold.
    thresholds_by_type: dict = field(default_factory=dict)
    # Share of would-be auto-approvals sent to review anyway, as quality sampling.
    quality_sample_rate: float = 0.0
    # German word-list correction of uncertain free-text words (ocr.postcorrect).
    postcorrect: bool = False

    def but(self, **changes) -> "PipelineOptions":
        return replace(self, **changes)


_KEYS = {
    "auto_approve_threshold": "extraction.auto_approve_threshold",
    "render_dpi": "ocr.render_dpi",
    "max_pages": "upload.max_pages",
    "languages": "ocr.languages",
    "deskew": "ocr.preprocess.deskew",
    "contrast": "ocr.preprocess.contrast",
    "binarise": "ocr.preprocess.binarise",
    "denoise": "ocr.preprocess.denoise",
    "normalise_resolution": "ocr.preprocess.normalise_resolution",
    "retry_below_confidence": "ocr.retry_below_confidence",
    "searchable_pdf": "ocr.searchable_pdf",
    "backend": "ocr.backend",
    "quality_sample_rate": "extraction.quality_sample_rate",
    "postcorrect": "ocr.postcorrect",
}
THRESHOLD_TYPES = (
    "invoice",
    "credit_note",
    "receipt",
    "delivery_note",
    "reminder",
    "order",
    "contract",
    "letter",
    "form",
)


def defaults() -> PipelineOptions:
    return PipelineOptions(
        auto_approve_threshold=settings.ABLAGE_AUTO_APPROVE_THRESHOLD,
        render_dpi=settings.ABLAGE_RENDER_DPI,
        max_pages=settings.ABLAGE_MAX_PAGES,
        languages=settings.ABLAGE_OCR_LANGUAGES,
    )


def load_options(**overrides) -> PipelineOptions:
    """The options in force: SystemConfig values over settings defaults, then ``overrides``."""
    from system.selectors import config_get

    options = defaults()
    values = {}
    try:
        for name, key in _KEYS.items():
            values[name] = config_get(key, default=getattr(options, name))
        thresholds = {kind: config_get(f"extraction.threshold.{kind}", default=None) for kind in THRESHOLD_TYPES}
        values["thresholds_by_type"] = {kind: value for kind, value in thresholds.items() if value is not None}
    except (DatabaseError, ApplicationError):
        # No database (``manage.py extract`` on a bare machine) or a broken value: settings defaults.
        values = {}
    return options.but(**values, **overrides)
