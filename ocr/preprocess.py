"""Image clean-up before OCR: deskew, resolution, denoising, contrast, binarisation.

Small rotations (a sheet fed at an angle) cost Tesseract whole lines; straightening first
also makes the word boxes line up with the page image the clerk sees.
"""

import math

import cv2
import numpy as np

MAX_DESKEW_DEGREES = 10.0
# The skew is measured on a copy at most this long: enough for quarter-degree steps.
SKEW_ANALYSIS_PIXELS = 1000


def shrink(grey: np.ndarray, *, longest: int) -> np.ndarray:
    """Scaled down by a whole factor until the longest side is at most ``longest`` pixels.

    A whole factor lets OpenCV average square blocks of pixels, several times faster than
    area averaging at an arbitrary scale.
    """
    factor = math.ceil(max(grey.shape) / longest)
    if factor <= 1:
        return grey
    return cv2.resize(grey, None, fx=1 / factor, fy=1 / factor, interpolation=cv2.INTER_AREA)


def estimate_skew(grey: np.ndarray) -> float:
    """The rotation in degrees that straightens the text lines (``cv2.getRotationMatrix2D``'s sense).

    A page turned counter-clockwise by d degrees (``PIL.Image.rotate(d)``) gives about -d.

    Any copy of the page will do (the angle does not depend on the scale): callers pass the
    smallest they have.
    """
    small = shrink(grey, longest=SKEW_ANALYSIS_PIXELS)
    # Coarse to fine: 1-degree steps over the whole range on a half-size copy (a quarter of the
    # pixels to rotate 21 times), then quarter degrees around the best on the full copy. The
    # peak of the score is about as wide in degrees at either size: line length and height
    # shrink together.
    half = cv2.resize(small, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    coarse_ink, fine_ink = _line_blobs(half, smear=13), _line_blobs(small, smear=25)
    coarse = max(
        np.arange(-MAX_DESKEW_DEGREES, MAX_DESKEW_DEGREES + 0.01, 1.0), key=lambda a: _row_profile_spread(coarse_ink, a)
    )
    # The true angle lies within half a degree of the best whole degree.
    fine = np.arange(coarse - 0.5, coarse + 0.51, 0.25)
    return float(max(fine, key=lambda angle: _row_profile_spread(fine_ink, angle)))


def _line_blobs(grey: np.ndarray, *, smear: int) -> np.ndarray:
    _, ink = cv2.threshold(grey, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    # Smear characters into line-shaped blobs so the angle of lines, not glyphs, dominates.
    return cv2.morphologyEx(ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (smear, 1)))


def _row_profile_spread(ink: np.ndarray, angle: float) -> float:
    """Variance of the ink per row after rotating by ``angle``: straight lines give a spiky profile."""
    height, width = ink.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    rotated = cv2.warpAffine(ink, matrix, (width, height), flags=cv2.INTER_NEAREST, borderValue=0)
    rows = cv2.reduce(rotated, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S)
    return float(cv2.meanStdDev(rows)[1][0, 0])


def deskew(grey: np.ndarray, *, small: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """``small``: a scaled-down copy of ``grey`` to estimate the angle on, if the caller has one."""
    angle = estimate_skew(grey if small is None else small)
    if abs(angle) < 0.2:
        return grey, 0.0
    height, width = grey.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    straight = cv2.warpAffine(
        grey, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=255
    )
    return straight, angle


def normalise_resolution(grey: np.ndarray, *, dpi: int, target_dpi: int = 300) -> tuple[np.ndarray, int]:
    """Upscale low-resolution scans (phone photos, 150-dpi fax scans): Tesseract wants ~30 px capitals."""
    if dpi >= target_dpi * 0.8:
        return grey, dpi
    factor = target_dpi / dpi
    return cv2.resize(grey, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC), target_dpi


def denoise(grey: np.ndarray) -> np.ndarray:
    """Non-local-means denoising: removes sensor noise and speckles, keeps strokes.

    Costs 4-6 s on a 300-dpi page; apply before any upscaling (four times the pixels after).
    """
    return cv2.fastNlMeansDenoising(grey, None, h=12, templateWindowSize=7, searchWindowSize=21)


def enhance_contrast(grey: np.ndarray) -> np.ndarray:
    """CLAHE: local contrast for faded prints and uneven lighting."""
    return cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(grey)


def binarise(grey: np.ndarray) -> np.ndarray:
    """Adaptive threshold: black text on white, robust to shadows and background tint."""
    return cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, 31, 15)
