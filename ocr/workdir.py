"""The pipeline's work directory: where its temporary files go (``settings.ABLAGE_WORK_DIR``)."""

import tempfile

from django.conf import settings


def work_dir() -> str:
    """The configured work directory, or the system's temp directory (TMPDIR) when none is set."""
    return settings.ABLAGE_WORK_DIR or tempfile.gettempdir()


def temporary_folder(prefix: str) -> tempfile.TemporaryDirectory:
    """A private folder in the work directory; the caller cleans it up (``with`` or ``cleanup()``)."""
    return tempfile.TemporaryDirectory(prefix=prefix, dir=work_dir())
