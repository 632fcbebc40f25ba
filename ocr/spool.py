"""Where a document's finished pages wait on disk until the whole document is done.

A worker that kept every page's image and archive page in memory would grow by megabytes a
page (a 100-page scan would pass 1 GB); spooled, it holds one page at a time. The folder is a
private temporary directory, removed when the pipeline's output is closed.
"""

import tempfile
from pathlib import Path

from PIL import Image


class PageSpool:
    def __init__(self):
        self._folder = tempfile.TemporaryDirectory(prefix="ablage-pages-")
        self.path = Path(self._folder.name)

    def save_image(self, name: str, image: Image.Image) -> Path:
        """Uncompressed (PGM/PPM): writing and reading it back cost a few milliseconds, no encoding."""
        path = self.path / f"{name}.pnm"
        image.save(path, format="PPM")
        return path

    def write(self, name: str, data: bytes) -> Path:
        path = self.path / name
        path.write_bytes(data)
        return path

    def close(self) -> None:
        self._folder.cleanup()
