"""Push new notifications and the unread count to the user's open browser tabs over Channels.

Without a channel layer (embedded default, no Redis) nothing is pushed; the bell then shows
the count of the last page load. Only ids and counts travel: the consumer reads the
notification itself, for its own user, when the event arrives.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


def user_group(user_id) -> str:
    return f"notifications.user.{user_id}"


def _send(user_id, message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(user_group(user_id), message)
    except Exception:  # a dead Redis must never fail the change that caused the notification
        logger.warning("Could not push notification event to user %s", user_id, exc_info=True)


def push(notification) -> None:
    _send(notification.user_id, {"type": "notification.created", "notification_id": str(notification.id)})


def push_count(user_id) -> None:
    _send(user_id, {"type": "notification.read"})
