"""Where a document's finished pages wait until the whole document is done.

A worker that kept every page's image and archive page in memory would grow by megabytes a
page (a 100-page scan would pass 1 GB). The spool keeps finished pages in memory up to a fixed
budget, so the usual one- to three-page document never touches the disk, and writes every
page beyond it to a private temporary folder: a worker's memory stays flat however long the
document. Everything is dropped when the pipeline's output is closed.
"""

import io
import shutil
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from ocr.workdir import temporary_folder, work_dir

# Enough for a typical multi-page letter at display resolution (a 150-dpi A4 page is 2.2 MB in
# greyscale, 6.5 MB in colour), small beside a worker's ~250 MB.
MEMORY_BUDGET_BYTES = 48 * 1024 * 1024
PREFIX = "ablage-pages-"
# A live run writes into its folder at least once a page, and no page takes this long (the OCR
# timeout is minutes): an older folder belongs to a worker that was killed (SIGKILL, OOM) before
# it could clean up.
STALE_AFTER_SECONDS = 3600


class PageSpool:
    def __init__(self, *, memory_budget: int | None = None):
        self._memory_left = MEMORY_BUDGET_BYTES if memory_budget is None else memory_budget
        self._entries: dict[str, Image.Image | bytes | Path] = {}
        self._folder: tempfile.TemporaryDirectory | None = None

    def put_image(self, name: str, image: Image.Image) -> None:
        """Takes ownership of ``image``."""
        size = image.width * image.height * len(image.getbands())
        if self._fits(size):
            self._entries[name] = image
            return
        path = self._path(f"{name}.pnm")
        try:
            # Uncompressed (PGM/PPM): a few milliseconds to write and to read back, no encoding.
            image.save(path, format="PPM")
        finally:
            image.close()
        self._entries[name] = path

    def open_image(self, name: str) -> Image.Image:
        """A new image the caller closes."""
        entry = self._entries[name]
        return entry.copy() if isinstance(entry, Image.Image) else Image.open(entry)

    def put_bytes(self, name: str, data: bytes) -> None:
        if self._fits(len(data)):
            self._entries[name] = data
            return
        path = self._path(name)
        path.write_bytes(data)
        self._entries[name] = path

    def open_bytes(self, name: str) -> BinaryIO:
        entry = self._entries[name]
        return io.BytesIO(entry) if isinstance(entry, bytes) else entry.open("rb")

    def on_disk(self, name: str) -> bool:
        return isinstance(self._entries[name], Path)

    def close(self) -> None:
        for entry in self._entries.values():
            if isinstance(entry, Image.Image):
                entry.close()
        self._entries.clear()
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def _fits(self, size: int) -> bool:
        if size > self._memory_left:
            return False
        self._memory_left -= size
        return True

    def _path(self, name: str) -> Path:
        if self._folder is None:
            remove_stale_spools()
            self._folder = temporary_folder(PREFIX)
        return Path(self._folder.name) / name


def remove_stale_spools(*, now: float | None = None) -> int:
    """Delete spool folders that killed workers left behind; returns how many."""
    cutoff = (time.time() if now is None else now) - STALE_AFTER_SECONDS
    removed = 0
    for folder in Path(work_dir()).glob(f"{PREFIX}*"):
        try:
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        except FileNotFoundError:
            continue  # another worker removed it first
    return removed
