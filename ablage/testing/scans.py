"""Scanned-looking variants of a generated document.

The born-digital PDF is rasterised with pdfium at the scan resolution, then degraded the way
an office scanner degrades paper: grey conversion, a small skew inside a fixed page (the
platen does not grow when the sheet lies askew, so the image keeps the A4 pixel size),
optical blur, sensor noise with dust speckles and optionally JPEG artefacts. All randomness
comes from ``seed``.
"""

import io
from typing import TYPE_CHECKING

import numpy as np
import pypdfium2 as pdfium
from PIL import Image, ImageFilter

from ablage.testing.invoice_pdf import render_pdf

if TYPE_CHECKING:
    from ablage.testing.invoices import InvoiceSpec

SCAN_FORMATS = ("png", "jpeg", "tiff", "pdf")
MAX_ROTATION_DEG = 2.0


def render_scan(
    spec: "InvoiceSpec",
    layout: str | None = None,
    *,
    seed: int,
    dpi: int = 300,
    rotation_deg: float | None = None,
    noise: float = 6.0,
    blur: float = 0.6,
    jpeg_quality: int | None = None,
    fmt: str = "png",
) -> bytes:
    """Scan of ``render_pdf(spec, layout)``.

    ``rotation_deg`` (within +-2 degrees) is drawn from ``seed`` when None; ``noise`` is the
    standard deviation of the Gaussian sensor noise in grey levels (0 = none); ``blur`` the
    Gaussian blur radius in pixels at 300 dpi; ``jpeg_quality`` (1-95) adds a JPEG round trip
    for any format and sets the quality of ``fmt="jpeg"``. ``fmt`` "tiff" and "pdf" hold all
    pages; "png" and "jpeg" hold the first page only (one image, as a phone scan app sends).
    The "pdf" is image-only: no text layer, page size derived from ``dpi``.
    """
    pages = scan_pages(
        spec, layout, seed=seed, dpi=dpi, rotation_deg=rotation_deg, noise=noise, blur=blur, jpeg_quality=jpeg_quality
    )
    return encode_pages(pages, fmt=fmt, dpi=dpi, jpeg_quality=jpeg_quality)


def scan_pages(
    spec: "InvoiceSpec",
    layout: str | None = None,
    *,
    seed: int,
    dpi: int = 300,
    rotation_deg: float | None = None,
    noise: float = 6.0,
    blur: float = 0.6,
    jpeg_quality: int | None = None,
) -> list[Image.Image]:
    """The degraded page images (mode "L") before encoding."""
    if not 72 <= dpi <= 600:
        raise ValueError(f"Die Auflösung muss zwischen 72 und 600 dpi liegen, nicht {dpi}.")
    if rotation_deg is not None and abs(rotation_deg) > MAX_ROTATION_DEG:
        raise ValueError(f"Die Drehung muss zwischen -2 und 2 Grad liegen, nicht {rotation_deg}.")
    if noise < 0 or blur < 0:
        raise ValueError("Rauschen und Unschärfe dürfen nicht negativ sein.")
    if jpeg_quality is not None and not 1 <= jpeg_quality <= 95:
        raise ValueError(f"Die JPEG-Qualität muss zwischen 1 und 95 liegen, nicht {jpeg_quality}.")

    rng = np.random.default_rng(seed)
    if rotation_deg is None:
        rotation_deg = float(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG))
    document = pdfium.PdfDocument(render_pdf(spec, layout))
    try:
        pages = []
        for index in range(len(document)):
            page = document[index]
            image = _a4_canvas(page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L"), dpi)
            page.close()
            pages.append(_degrade(image, rng, dpi=dpi, rotation_deg=rotation_deg, noise=noise, blur=blur))
    finally:
        document.close()
    if jpeg_quality is not None:
        pages = [_jpeg_round_trip(page, jpeg_quality) for page in pages]
    return pages


def a4_pixels(dpi: int) -> tuple[int, int]:
    """Pixel size of an A4 scan at ``dpi`` (2480 x 3508 at 300 dpi)."""
    return round(210 / 25.4 * dpi), round(297 / 25.4 * dpi)


def _a4_canvas(image: Image.Image, dpi: int) -> Image.Image:
    # pdfium rounds the page's 595.28 pt up (2481 px at 300 dpi); a scanner delivers exactly
    # the A4 pixel size for its resolution, so crop or pad with paper white to that.
    size = a4_pixels(dpi)
    if image.size == size:
        return image
    sheet = Image.new("L", size, 255)
    sheet.paste(image, (0, 0))
    return sheet


def _degrade(
    image: Image.Image, rng: np.random.Generator, *, dpi: int, rotation_deg: float, noise: float, blur: float
) -> Image.Image:
    # Each page of a feeder scan lies slightly differently; vary around the requested angle.
    angle = float(np.clip(rotation_deg + rng.normal(0, 0.15), -MAX_ROTATION_DEG, MAX_ROTATION_DEG))
    image = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255)
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(radius=blur * dpi / 300))
    pixels = np.asarray(image, dtype=np.float32)
    # Paper is never pure white and toner never pure black.
    pixels = 18 + pixels * (236 - 18) / 255
    if noise:
        pixels += rng.normal(0, noise, size=pixels.shape).astype(np.float32)
        _add_speckles(pixels, rng, dpi=dpi)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _add_speckles(pixels: np.ndarray, rng: np.random.Generator, *, dpi: int) -> None:
    height, width = pixels.shape
    count = int(height * width / 40_000)
    size = max(1, dpi // 150)
    ys = rng.integers(0, height - size, count)
    xs = rng.integers(0, width - size, count)
    shades = rng.uniform(20, 120, count)
    for y, x, shade in zip(ys, xs, shades, strict=True):
        pixels[y : y + size, x : x + size] = shade


def _jpeg_round_trip(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("L")


def encode_pages(pages: list[Image.Image], *, fmt: str, dpi: int, jpeg_quality: int | None = None) -> bytes:
    """Encode scanned pages; every format records ``dpi`` so a 300-dpi scan reads as one."""
    if fmt not in SCAN_FORMATS:
        raise ValueError(f"Unbekanntes Scanformat {fmt!r}; erlaubt sind {', '.join(SCAN_FORMATS)}.")
    buffer = io.BytesIO()
    first, rest = pages[0], pages[1:]
    if fmt == "png":
        first.save(buffer, format="PNG", dpi=(dpi, dpi))
    elif fmt == "jpeg":
        first.save(buffer, format="JPEG", quality=jpeg_quality or 85, dpi=(dpi, dpi))
    elif fmt == "tiff":
        first.save(buffer, format="TIFF", save_all=True, append_images=rest, compression="tiff_deflate", dpi=(dpi, dpi))
    else:
        # Pillow writes each page as one JPEG image whose page size is pixels / resolution, so
        # a reader computes the same dpi back; there is no text, just like a scanner's PDF.
        first.save(
            buffer, format="PDF", save_all=True, append_images=rest, resolution=float(dpi), quality=jpeg_quality or 85
        )
    return buffer.getvalue()
