"""The optional GPU OCR backend: Surya (requirements/gpu.txt).

Models are loaded only from ``ABLAGE_SURYA_MODEL_DIR`` (sub-folders ``detection`` and
``recognition``, plus ``foundation`` for Surya >= 0.14); nothing is downloaded at run time.
Without the package, the weights or a GPU the backend reports itself unavailable with the
reason, and routing falls back to Tesseract.

``words_from_prediction`` converts Surya's output (text lines with boxes and confidences,
optionally words) into our ``Word`` list; it is pure and unit-tested with recorded output.
"""

import logging
import threading
from pathlib import Path

import numpy as np
from django.conf import settings
from PIL import Image

from ocr.types import Word

logger = logging.getLogger(__name__)

BACKEND_NAME = "surya"


class SuryaUnavailable(RuntimeError):
    pass


_lock = threading.Lock()
_predictors = None


def availability() -> tuple[bool, str]:
    """(available, reason) without loading the models."""
    model_dir = Path(settings.ABLAGE_SURYA_MODEL_DIR) if settings.ABLAGE_SURYA_MODEL_DIR else None
    if model_dir is None:
        return False, "Surya ist nicht konfiguriert (ABLAGE_SURYA_MODEL_DIR ist leer)."
    if not (model_dir / "detection").is_dir() or not (model_dir / "recognition").is_dir():
        return False, f"Surya-Modelle fehlen in {model_dir} (erwartet: detection/ und recognition/)."
    try:
        import surya  # noqa: F401
        import torch
    except ImportError as exc:
        return False, f"Surya ist nicht installiert (requirements/gpu.txt): {exc}"
    if not torch.cuda.is_available() and not settings.ABLAGE_SURYA_ALLOW_CPU:
        return False, "Keine GPU verfügbar (ABLAGE_SURYA_ALLOW_CPU=true erlaubt Surya auf der CPU)."
    return True, ""


def _load():
    global _predictors
    with _lock:
        if _predictors is not None:
            return _predictors
        ok, reason = availability()
        if not ok:
            raise SuryaUnavailable(reason)
        model_dir = Path(settings.ABLAGE_SURYA_MODEL_DIR)
        from surya.detection import DetectionPredictor
        from surya.recognition import RecognitionPredictor

        detection = DetectionPredictor(checkpoint=str(model_dir / "detection"))
        if (model_dir / "foundation").is_dir():
            # Surya >= 0.14: recognition runs on a shared foundation model.
            from surya.foundation import FoundationPredictor

            foundation = FoundationPredictor(checkpoint=str(model_dir / "foundation"))
            recognition = RecognitionPredictor(foundation)
        else:
            recognition = RecognitionPredictor(checkpoint=str(model_dir / "recognition"))
        _predictors = (detection, recognition)
        logger.info("Surya models loaded from %s", model_dir)
        return _predictors


def recognise(grey: np.ndarray, *, dpi: int) -> list[Word]:
    detection, recognition = _load()
    image = Image.fromarray(grey).convert("RGB")
    try:
        predictions = recognition([image], det_predictor=detection)
    except TypeError:
        # Surya < 0.14 takes the languages positionally.
        predictions = recognition([image], [None], detection)
    return words_from_prediction(predictions[0], width=image.width, height=image.height)


def _get(item, name, default=None):
    if isinstance(item, dict):
        return item.get(name, default)
    return getattr(item, name, default)


def words_from_prediction(prediction, *, width: int, height: int) -> list[Word]:
    """Surya's page result -> words with normalised boxes, one line index per text line.

    Uses the line's word boxes when Surya provides them; otherwise splits the line's text at
    spaces and divides its box in proportion to the characters.
    """
    words: list[Word] = []
    for line_index, line in enumerate(_get(prediction, "text_lines", []) or []):
        text = (_get(line, "text", "") or "").strip()
        if not text:
            continue
        line_confidence = float(_get(line, "confidence", 0.0) or 0.0)
        x0, y0, x1, y1 = _get(line, "bbox")
        line_words = _get(line, "words") or []
        if line_words:
            for word in line_words:
                word_text = (_get(word, "text", "") or "").strip()
                if not word_text:
                    continue
                wx0, wy0, wx1, wy1 = _get(word, "bbox")
                confidence = float(_get(word, "confidence", line_confidence) or line_confidence)
                words.append(Word(word_text, _normalise((wx0, wy0, wx1, wy1), width, height), confidence, line_index))
            continue
        tokens = text.split()
        total_chars = sum(len(token) for token in tokens) + max(len(tokens) - 1, 0)
        cursor = 0
        for token in tokens:
            start = x0 + (x1 - x0) * cursor / total_chars
            end = x0 + (x1 - x0) * (cursor + len(token)) / total_chars
            words.append(Word(token, _normalise((start, y0, end, y1), width, height), line_confidence, line_index))
            cursor += len(token) + 1
    return words


def _normalise(box, width: int, height: int) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(value) for value in box)
    return (
        max(0.0, min(1.0, x0 / width)),
        max(0.0, min(1.0, y0 / height)),
        max(0.0, min(1.0, x1 / width)),
        max(0.0, min(1.0, y1 / height)),
    )
