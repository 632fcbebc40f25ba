"""Why a file cannot be processed. Each reason is written for the clerk who reads it."""


class StopProcessing(Exception):
    """The input itself is unusable: processing ends and the document is rejected with ``message``.

    Never retried — the same bytes fail the same way.
    """

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


class TransientOCRError(Exception):
    """A failure that may pass on retry (engine killed, timeout under load)."""


class WorkDirectoryFull(TransientOCRError):
    """The work directory (``settings.ABLAGE_WORK_DIR``) had no room for a temporary file."""
