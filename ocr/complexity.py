"""How hard a page is to read (seed 000, stage 3), and which backend should read it.

Metrics, each 0..100 where higher means harder: image quality (contrast and sharpness),
layout complexity (edge density), text density (ink share away from the 1.5-25 % of a
letter), noise (difference to a median-filtered copy) and resolution. Measured on a copy
scaled to ~150 dpi so the analysis costs milliseconds, not a second OCR.
"""

from dataclasses import asdict, dataclass

import cv2
import numpy as np

WEIGHTS = {"image_quality": 0.3, "layout_complexity": 0.25, "text_density": 0.2, "noise_level": 0.15, "resolution": 0.1}
SIMPLE_BELOW = 30.0
COMPLEX_FROM = 55.0
# Above this noise score the page gets non-local-means denoising, which costs more than OCR
# (4-6 s a page). Measured (README, "bench preprocessing"): clean office scans score 26-50 and
# lose fields when denoised; only saturated pages (~98-100) gain.
NOISY_FROM = 90.0
ANALYSIS_DPI = 150


@dataclass(frozen=True)
class Complexity:
    score: float
    level: str  # simple | moderate | complex
    metrics: dict[str, float]
    recommended_backend: str
    noisy: bool

    def as_json(self) -> dict:
        return asdict(self)


def analysis_copy(grey: np.ndarray, *, dpi: int) -> np.ndarray:
    """The page scaled to ~150 dpi, what the metrics are measured on (deskew reuses it)."""
    scale = min(1.0, ANALYSIS_DPI / max(dpi, 1))
    return cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else grey


def analyse(grey: np.ndarray, *, dpi: int, small: np.ndarray | None = None) -> Complexity:
    """``small``: ``analysis_copy(grey, dpi=dpi)`` when the caller already has it."""
    if small is None:
        small = analysis_copy(grey, dpi=dpi)
    metrics = {
        "image_quality": _image_quality(small),
        "layout_complexity": _layout_complexity(small),
        "text_density": _text_density(small),
        "noise_level": _noise_level(small),
        "resolution": _resolution(dpi),
    }
    score = round(sum(metrics[name] * weight for name, weight in WEIGHTS.items()), 1)
    level = "simple" if score < SIMPLE_BELOW else "complex" if score >= COMPLEX_FROM else "moderate"
    return Complexity(
        score=score,
        level=level,
        metrics={name: round(value, 1) for name, value in metrics.items()},
        recommended_backend="surya" if level == "complex" else "tesseract",
        noisy=metrics["noise_level"] >= NOISY_FROM,
    )


def _image_quality(grey: np.ndarray) -> float:
    # cv2.meanStdDev rather than numpy: numpy converts the whole page to float64 first.
    contrast = float(cv2.meanStdDev(grey)[1][0, 0])  # a clean black-on-white page has 60-100
    contrast_score = max(0.0, 100.0 - contrast * 1.5)
    # int16 holds a 3x3 Laplacian of 8-bit values exactly (|value| <= 4 x 255): the same figure
    # as float32 at half the cost.
    sharpness = float(cv2.meanStdDev(cv2.Laplacian(grey, cv2.CV_16S))[1][0, 0]) ** 2
    sharpness_score = max(0.0, 100.0 - sharpness / 20.0)
    return min(100.0, (contrast_score + sharpness_score) / 2)


def _layout_complexity(grey: np.ndarray) -> float:
    edges = cv2.Canny(grey, 50, 150)
    density = np.count_nonzero(edges) / edges.size * 100
    return min(100.0, density / 12 * 100)


def _text_density(grey: np.ndarray) -> float:
    _, binary = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    ink = np.count_nonzero(binary == 0) / binary.size * 100
    if 1.5 <= ink <= 25:
        return 20.0
    if ink < 1 or ink > 45:
        return 80.0
    return 50.0


def _noise_level(grey: np.ndarray) -> float:
    # Salt-and-pepper and sensor noise survive a median filter poorly; text strokes mostly do.
    difference = cv2.absdiff(grey, cv2.medianBlur(grey, 3))
    _, background = cv2.threshold(grey, 200, 255, cv2.THRESH_BINARY)
    if not cv2.countNonZero(background):
        return 100.0
    return min(100.0, cv2.mean(difference, mask=background)[0] / 6 * 100)


def _resolution(dpi: int) -> float:
    if dpi < 150:
        return 90.0
    if dpi < 250:
        return 50.0
    if dpi <= 400:
        return 10.0
    return 30.0
