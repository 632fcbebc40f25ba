"""Structured logs: one JSON object per line, with the request or task they belong to, and
personal identifiers masked (``monitoring.pii``).

``correlation_id`` is the request's ``X-Request-ID`` (or a new one, echoed in the response)
in the web process and the task id in workers; ``document_id`` / ``job_id`` are added where a
job runs. ``ABLAGE_LOG_FORMAT=text`` gives plain lines for a terminal.
"""

import contextvars
import json
import logging
import re
import uuid
from datetime import UTC, datetime

correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="")
job_context: contextvars.ContextVar[dict] = contextvars.ContextVar("job_context", default={})  # noqa: B039 - never mutated

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Extra fields that may hold document text: logged as their length only.
_TEXT_FIELDS = {"text", "ocr_text", "body", "content"}
_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class ContextFilter(logging.Filter):
    def filter(self, record):
        from monitoring.pii import mask_pii

        record.correlation_id = correlation_id.get()
        for key, value in job_context.get().items():
            setattr(record, key, value)
        if isinstance(record.msg, str):
            record.msg = mask_pii(record.msg)
        if record.args:
            record.args = (
                tuple(mask_pii(arg) if isinstance(arg, str) else arg for arg in record.args)
                if isinstance(record.args, tuple)
                else record.args
            )
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record):
        from monitoring.pii import mask_pii

        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key in _STANDARD or key.startswith("_") or value in ("", None):
                continue
            if key in _TEXT_FIELDS and isinstance(value, str):
                entry[f"{key}_length"] = len(value)
            elif isinstance(value, str):
                entry[key] = mask_pii(value)
            elif isinstance(value, int | float | bool):
                entry[key] = value
            else:
                entry[key] = mask_pii(str(value))
        if record.exc_info:
            entry["exception"] = mask_pii(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class CorrelationIdMiddleware:
    """Takes ``X-Request-ID`` from the caller (when sane) or makes one; echoes it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        value = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = correlation_id.set(value)
        try:
            response = self.get_response(request)
        finally:
            correlation_id.reset(token)
        response["X-Request-ID"] = value
        return response
