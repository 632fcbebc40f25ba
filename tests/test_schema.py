"""schemathesis against our own OpenAPI schema: generated requests to every API operation, as an
admin whose key has every scope, must never produce a 5xx or a response the schema does not describe.

The number of examples per operation is bounded so that the whole run stays under a minute.
"""

import json

import pytest
import schemathesis
from django.core.cache import caches
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from openapi_schema_validator import OAS30Validator
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from ablage.testing.factories import stored_document
from ablage.wsgi import application
from accounts.services import api_key_create

EXAMPLES_PER_OPERATION = 3


def _schema() -> dict:
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated, renderer_context={}))


schema = schemathesis.openapi.from_dict(_schema())
schema.app = application


@pytest.fixture
def keep_test_connection():
    """The WSGI handler closes the database connection after each request (CONN_MAX_AGE=0), which
    would end the test's transaction; Django's own test client detaches the same receivers."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def admin_key(django_user_model, keep_test_connection):
    caches["throttle"].clear()
    admin = django_user_model.objects.create_superuser("schema@example.com", "Passwort-12345")
    # Something to find: a document with pages, fields and a job, so that lookups by real ids
    # are exercised where schemathesis reuses them.
    stored_document(admin)
    _api_key, raw_key = api_key_create(
        user=admin, actor=admin, name="schemathesis", scopes=["read", "write", "admin"], rate_limit_per_minute=100_000
    )
    return raw_key


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_it_answers_every_operation_without_5xx_and_as_documented(case, admin_key):
    case.call_and_validate(
        headers={"Authorization": f"Api-Key {admin_key}"},
        checks=[not_a_server_error, response_schema_conformance],
    )


@pytest.mark.django_db
def test_it_documents_a_supplier_without_email_or_website_as_the_schema_says(admin_key):
    document = _schema()
    client = APIClient()
    response = client.post(
        "/api/v1/suppliers/",
        {"name": "Ohne Adresse GmbH"},
        format="json",
        HTTP_AUTHORIZATION=f"Api-Key {admin_key}",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["email"] == "" and body["website"] == ""
    component = {**document["components"]["schemas"]["SupplierDetail"], "components": document["components"]}
    OAS30Validator(component, format_checker=OAS30Validator.FORMAT_CHECKER).validate(body)
