"""The bell over a real Redis channel layer: each user hears only about their own notifications."""

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.test import override_settings

from notifications.consumers import NotificationConsumer
from notifications.models import Notification
from notifications.services import notification_mark_all_read

REDIS_LAYER = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": ["redis://127.0.0.1:6379/14"], "prefix": "ablage-test-notify"},
    }
}

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def redis_channel_layer():
    with override_settings(CHANNEL_LAYERS=REDIS_LAYER):
        channel_layers.backends.clear()
        yield
    channel_layers.backends.clear()


async def _connect(user):
    communicator = WebsocketCommunicator(NotificationConsumer.as_asgi(), "/ws/notifications/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from(timeout=20))["type"] == "unread"
    return communicator


def _notify(user):
    from notifications import services

    return services.dispatch(
        message=services.Message(
            type="review_completed",
            title="Geprüft: <b>RE-1</b>",
            text="freigegeben",
            occurrence="1",
            template_key="review_completed",
        ),
        recipients=[user],
    )


@pytest.mark.asyncio
async def test_it_pushes_a_new_notification_to_its_user_only(redis_channel_layer, owner, outsider):
    owner_socket, outsider_socket = await _connect(owner), await _connect(outsider)

    await sync_to_async(_notify)(owner)

    message = await owner_socket.receive_json_from(timeout=20)
    assert message["type"] == "notification" and message["title"] == "Geprüft: <b>RE-1</b>"
    assert message["unread"] == 1
    assert await outsider_socket.receive_nothing(timeout=0.5)

    await sync_to_async(notification_mark_all_read)(user=owner)
    assert await owner_socket.receive_json_from(timeout=20) == {"type": "unread", "unread": 0}
    for socket in (owner_socket, outsider_socket):
        await socket.disconnect()


@pytest.mark.asyncio
async def test_it_refuses_anonymous_sockets():
    communicator = WebsocketCommunicator(NotificationConsumer.as_asgi(), "/ws/notifications/")
    communicator.scope["user"] = AnonymousUser()
    connected, _ = await communicator.connect()
    assert not connected


@pytest.mark.asyncio
async def test_it_sends_nothing_for_a_notification_id_of_someone_else(redis_channel_layer, owner, outsider):
    socket = await _connect(outsider)
    (foreign,) = await sync_to_async(_notify)(owner)
    from channels.layers import get_channel_layer

    from notifications import live

    # Even a message that reached the wrong group names an id the consumer will not read for this user.
    await get_channel_layer().group_send(
        live.user_group(outsider.id), {"type": "notification.created", "notification_id": str(foreign.id)}
    )
    assert await socket.receive_nothing(timeout=0.5)
    assert await sync_to_async(Notification.objects.filter(user=outsider).count)() == 0
    await socket.disconnect()
