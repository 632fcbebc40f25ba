"""While the database cannot be reached, the web answers 503 with Retry-After (never 500), in
HTML for the browser and JSON for the API; the liveness probe still answers; afterwards
everything works again. The outage is real: the connection goes to a port nobody listens on."""

import contextlib

import pytest
from django.db import OperationalError, connection, connections
from django.test import Client
from django.urls import reverse

from ablage.unavailable import DatabaseUnavailableMiddleware
from tests.processes import free_port

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the outage is of a PostgreSQL server"),
]


@contextlib.contextmanager
def database_down():
    """Every new connection of this process goes to a closed port until the block ends."""
    default = connections["default"]
    port = default.settings_dict["PORT"]
    default.close()
    default.settings_dict["PORT"] = str(free_port())
    try:
        yield
    finally:
        default.close()
        default.settings_dict["PORT"] = port


def test_it_answers_503_with_retry_after_while_the_database_is_down(client, owner):
    client.force_login(owner)

    with database_down():
        page = client.get(reverse("documents:list"))
        api = client.get(reverse("api-v1:document-list"))
        upload = client.post(reverse("api-v1:document-list"), {})
        probe = Client()  # a load balancer's probe: no session
        alive, ready = probe.get("/health"), probe.get("/health/ready")

    assert page.status_code == 503 and page["Retry-After"] == "15"
    assert "Die Datenbank ist gerade nicht erreichbar" in page.content.decode()
    assert page["Content-Type"].startswith("text/html")
    assert api.status_code == 503 and api["Retry-After"] == "15"
    assert api.json()["error"]["code"] == "database_unavailable"
    assert upload.status_code == 503
    assert alive.status_code == 200
    assert ready.status_code == 503 and ready.json()["checks"]["database"]["status"] == "down"
    # Back up: the same client, the same session.
    assert client.get(reverse("documents:list")).status_code == 200


def test_a_view_whose_queries_fail_midway_answers_503(rf):
    with database_down():
        try:
            connections["default"].ensure_connection()
        except OperationalError as exc:
            failure = exc
    request = rf.get("/api/v1/documents/")

    response = DatabaseUnavailableMiddleware(lambda request: None).process_exception(request, failure)

    assert response.status_code == 503 and response["Retry-After"] == "15"
    assert DatabaseUnavailableMiddleware(lambda request: None).process_exception(request, ValueError("x")) is None
