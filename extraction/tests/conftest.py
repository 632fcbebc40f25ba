import pytest

from extraction.tests.model_server import ModelServer


@pytest.fixture
def model_server():
    server = ModelServer().start()
    yield server
    server.close()


@pytest.fixture
def configured_model(settings, model_server):
    """The scripted server as the configured model; its loopback address opened explicitly, as an admin would."""
    settings.ABLAGE_MODEL_URL = model_server.url
    settings.ABLAGE_MODEL_NAME = "test-modell-7b"
    settings.ABLAGE_MODEL_API_KEY = "geheim-123"
    settings.ABLAGE_MODEL_TIMEOUT_SECONDS = 2.0
    settings.ABLAGE_MODEL_MAX_ATTEMPTS = 3
    settings.ABLAGE_MODEL_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    return model_server
