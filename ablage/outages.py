"""Failures that pass with time: the document storage unreachable, a disk full.

Where a file is written or read, such an error must not look like a bad document: the upload
answers 503 with Retry-After (nothing kept), and the worker hands the job back for a retry with
backoff instead of ending it. Everything else stays what it was (a 500, a dead job).
"""

import errno

from django.conf import settings

from ablage.errors import ApplicationError

UNREACHABLE = "storage_unreachable"
DISK_FULL = "disk_full"

# Out of space, or over a quota: both clear once someone makes room.
_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# What S3 (and S3-compatible stores) answer while overloaded or restarting (AWS: "retry later").
_S3_BUSY_CODES = frozenset({"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "503", "500"})

MESSAGES = {
    UNREACHABLE: "Der Dokumentenspeicher ist gerade nicht erreichbar",
    DISK_FULL: "Der Speicherplatz ist erschöpft",
}


def outage_of(exc: BaseException) -> str | None:
    """``UNREACHABLE``, ``DISK_FULL`` or None, looking through what ``exc`` was raised from.

    boto3 wraps the connection error in its own (``S3UploadFailedError``, ``RetriesExceededError``
    with ``last_exception``), and Django's storage may re-raise; the cause decides.
    """
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ConnectionError | HTTPClientError):
            return UNREACHABLE
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            if error.get("Code") in _S3_BUSY_CODES or status >= 500:
                return UNREACHABLE
            return None
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
            return DISK_FULL
        exc = getattr(exc, "last_exception", None) or exc.__cause__ or exc.__context__
    return None


def unavailable_refusal(reason: str) -> ApplicationError:
    """The upload's answer while ``reason`` lasts: 503 with Retry-After, in the words a clerk reads."""
    return ApplicationError(
        f"{MESSAGES[reason]}; die Datei wurde nicht angenommen. Bitte in einigen Minuten erneut hochladen.",
        code="storage_unavailable",
        status_code=503,
        extra={"retry_after": settings.ABLAGE_STORAGE_RETRY_AFTER_SECONDS},
    )
