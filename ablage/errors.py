"""One error type for business rule violations, and how the API reports it."""

from django.core.exceptions import PermissionDenied, TooManyFilesSent
from django.db import InterfaceError, OperationalError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

# The database cannot be reached (down, restarting, connection dropped) or is too busy to answer
# (a lock or statement timeout): a retry later may succeed; nothing is wrong with the request.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)


class ApplicationError(Exception):
    """A request the domain refuses: becomes a 4xx in the API and a form error in views.

    ``code`` is stable and machine-readable (e.g. ``unsupported_file_type``); ``message``
    is for people and already translated.
    """

    status_code = 400

    def __init__(self, message: str, *, code: str = "invalid", status_code: int | None = None, extra=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.extra = extra or {}
        if status_code is not None:
            self.status_code = status_code


def api_exception_handler(exc, context):
    if isinstance(exc, TooManyFilesSent):
        # Django refuses to parse the form at all (DATA_UPLOAD_MAX_NUMBER_FILES), e.g. during the
        # CSRF check of a session request: same answer as the batch endpoint's own limit.
        exc = ApplicationError("Zu viele Dateien in einer Anfrage.", code="too_many_files")
    if isinstance(exc, ApplicationError):
        body = {"error": {"code": exc.code, "message": exc.message, **exc.extra}}
        response = Response(body, status=exc.status_code)
        if "retry_after" in exc.extra:  # 429 and 503 (RFC 9110, 10.2.3)
            response["Retry-After"] = str(exc.extra["retry_after"])
        return response
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        detail = response.data["detail"]
        response.data = {"error": {"code": getattr(detail, "code", "error"), "message": str(detail)}}
    elif response is not None and response.status_code == status.HTTP_400_BAD_REQUEST:
        response.data = {"error": {"code": "invalid", "message": "Ungültige Eingabe.", "fields": response.data}}
    return response
