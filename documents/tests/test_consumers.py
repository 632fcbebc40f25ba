"""Live events over a real Redis channel layer: delivered to those who may see the document only."""

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from documents import events
from documents.consumers import DocumentStatusConsumer
from documents.models import Document

REDIS_LAYER = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": ["redis://127.0.0.1:6379/14"], "prefix": "ablage-test-ws"},
    }
}

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _document(owner):
    return Document.objects.create(
        owner=owner,
        title="Rechnung",
        original_filename="r.pdf",
        mime_type="application/pdf",
        file_size=1,
        sha256="0" * 64,
        storage_key=f"originals/{owner.pk}.pdf",
    )


async def _connect(user):
    communicator = WebsocketCommunicator(DocumentStatusConsumer.as_asgi(), "/ws/documents/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect(timeout=10)  # a busy CI machine needs more than 1 s
    assert connected
    return communicator


@pytest.fixture
def redis_channel_layer():
    with override_settings(CHANNEL_LAYERS=REDIS_LAYER):
        channel_layers.backends.clear()
        yield
    channel_layers.backends.clear()


@pytest.mark.asyncio
async def test_it_pushes_status_changes_to_the_owner_and_not_to_others(redis_channel_layer, owner, outsider, reviewer):
    document = await sync_to_async(_document)(owner)
    owner_socket, outsider_socket, reviewer_socket = [await _connect(u) for u in (owner, outsider, reviewer)]

    await sync_to_async(events.publish)(
        events.DocumentEvent(str(document.id), str(owner.id), "processing", stage="ocr", progress=0.5)
    )

    for socket in (owner_socket, reviewer_socket):
        message = await socket.receive_json_from(timeout=5)
        assert message["document_id"] == str(document.id) and message["status"] == "processing"
    assert await outsider_socket.receive_nothing(timeout=0.5)
    for socket in (owner_socket, outsider_socket, reviewer_socket):
        await socket.disconnect()


@pytest.mark.asyncio
async def test_it_refuses_anonymous_websockets():
    from django.contrib.auth.models import AnonymousUser

    communicator = WebsocketCommunicator(DocumentStatusConsumer.as_asgi(), "/ws/documents/")
    communicator.scope["user"] = AnonymousUser()
    connected, _ = await communicator.connect(timeout=10)  # a busy CI machine needs more than 1 s
    assert not connected
