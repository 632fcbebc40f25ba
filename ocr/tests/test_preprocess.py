"""Deskew on generated invoice scans turned by known angles, clean and noisy."""

import numpy as np
import pytest
from PIL import Image

from ablage.testing.invoices import random_invoice
from ablage.testing.scans import scan_pages
from ocr import complexity, preprocess

DPI = 150  # the analysis copy the pipeline measures the skew on


@pytest.fixture(scope="module")
def clean_page():
    return scan_pages(random_invoice(11, layout="B"), seed=11, dpi=DPI, rotation_deg=0.0, noise=4.0, blur=0.5)[0]


@pytest.fixture(scope="module")
def noisy_page():
    return scan_pages(random_invoice(12, layout="C"), seed=12, dpi=DPI, rotation_deg=0.0, noise=18.0, blur=1.2)[0]


def _turned(page: Image.Image, degrees: float) -> np.ndarray:
    return np.asarray(page.convert("L").rotate(degrees, resample=Image.Resampling.BILINEAR, fillcolor=255))


@pytest.mark.parametrize("degrees", [-8.6, -3.3, -0.6, 1.4, 4.75, 9.2])
def test_it_measures_the_skew_of_a_turned_scan_across_the_whole_range(clean_page, degrees):
    # The generator's own rotation jitters by ~0.15 degrees around 0; a quarter-degree grid adds 0.125.
    # The estimate is the rotation that undoes the turn.
    assert preprocess.estimate_skew(_turned(clean_page, degrees)) == pytest.approx(-degrees, abs=0.4)


@pytest.mark.parametrize("degrees", [-5.2, 2.6])
def test_it_straightens_a_noisy_blurred_scan(noisy_page, degrees):
    straight, angle = preprocess.deskew(_turned(noisy_page, degrees))

    assert angle == pytest.approx(-degrees, abs=0.4)
    assert abs(preprocess.estimate_skew(straight)) <= 0.4


def test_it_finds_the_same_angle_on_the_analysis_copy_as_on_the_full_page(clean_page):
    full = _turned(clean_page, 3.1)
    small = complexity.analysis_copy(full, dpi=300)

    assert preprocess.estimate_skew(small) == pytest.approx(preprocess.estimate_skew(full), abs=0.25)


def test_it_leaves_a_straight_page_alone(clean_page):
    grey = np.asarray(clean_page.convert("L"))

    straight, angle = preprocess.deskew(grey)

    assert angle == 0.0 and straight is grey
