"""Image clean-up before OCR: greyscale and deskew.

Small rotations (a sheet fed at an angle) cost Tesseract whole lines; straightening first
also makes the word boxes line up with the page image the clerk sees.
"""

import cv2
import numpy as np
from PIL import Image

MAX_DESKEW_DEGREES = 10.0


def to_grey(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"))


def estimate_skew(grey: np.ndarray) -> float:
    """Angle in degrees (counter-clockwise positive) by which the text lines are tilted."""
    scale = 1000 / max(grey.shape)
    small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else grey
    _, ink = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    # Smear characters into line-shaped blobs so the angle of lines, not glyphs, dominates.
    ink = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (25, 1)))
    best_angle, best_score = 0.0, -1.0
    height, width = ink.shape
    center = (width / 2, height / 2)
    for angle in np.arange(-MAX_DESKEW_DEGREES, MAX_DESKEW_DEGREES + 0.01, 0.25):
        matrix = cv2.getRotationMatrix2D(center, angle, 1.0)
        rotated = cv2.warpAffine(ink, matrix, (width, height), flags=cv2.INTER_NEAREST, borderValue=0)
        profile = rotated.sum(axis=1, dtype=np.float64)
        # Straight lines give a spiky row profile: maximise its variance.
        score = float(np.var(profile))
        if score > best_score:
            best_angle, best_score = float(angle), score
    return best_angle


def deskew(grey: np.ndarray) -> tuple[np.ndarray, float]:
    angle = estimate_skew(grey)
    if abs(angle) < 0.2:
        return grey, 0.0
    height, width = grey.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    straight = cv2.warpAffine(
        grey, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=255
    )
    return straight, angle
