"""503 instead of 500 while the database cannot be reached.

During a PostgreSQL restart or failover every request would otherwise end in a 500 with a
stack trace in the error log. ``DatabaseUnavailableMiddleware`` opens the request's database
connection before anything else needs it (sessions, sign-in, the view) and answers
``503 Service Unavailable`` with ``Retry-After`` when that fails, and does the same for a view
whose queries fail midway. Clients and load balancers read 503 + Retry-After as "try again
shortly"; the page itself needs no database (no session, no user, no template context).
The health endpoints are left alone: ``/health`` must answer while the process lives, and
``/health/ready`` reports the database itself.
"""

import logging

from django.db import connections
from django.http import HttpResponse, JsonResponse

from ablage.errors import DATABASE_UNAVAILABLE

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 15
MESSAGE = "Die Datenbank ist gerade nicht erreichbar. Bitte in {} Sekunden erneut versuchen."
_PAGE = """<!doctype html>
<html lang="de"><head><meta charset="utf-8"><title>Vorübergehend nicht erreichbar – Ablage</title></head>
<body><main><h1>Vorübergehend nicht erreichbar</h1><p>{message}</p>
<p>Ihre Eingaben sind nicht verloren, solange diese Seite geöffnet bleibt: bitte erneut senden.</p></main></body></html>
"""
_EXEMPT_PREFIXES = ("/health", "/static/")


def database_unavailable_response(request) -> HttpResponse:
    message = MESSAGE.format(RETRY_AFTER_SECONDS)
    if request.path.startswith("/api/"):
        response = JsonResponse({"error": {"code": "database_unavailable", "message": message}}, status=503)
    else:
        response = HttpResponse(_PAGE.format(message=message), status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(_EXEMPT_PREFIXES):
            try:
                connections["default"].ensure_connection()
            except DATABASE_UNAVAILABLE as exc:
                logger.warning("Database unavailable, answering 503 for %s: %s", request.path, exc)
                return database_unavailable_response(request)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DATABASE_UNAVAILABLE):
            from monitoring.errors import error_record

            logger.warning("Database failed during %s, answering 503: %s", request.path, exception)
            # Still an error to look into (a lock timeout, a failover): recorded where the database
            # answers again; error_record never raises. Django's request_finished handler drops
            # the broken connection.
            error_record(exception, request=request)
            return database_unavailable_response(request)
        return None
